package scan

import (
	"encoding/binary"
	"fmt"
)

// Parquet writers may repeat each column chunk's ColumnChunk metadata (Thrift compact
// protocol, with absolute file offsets) right after the chunk's pages; parquet-mr and Arrow C++
// do. A row group encoded alone is then moved to its place in the virtual file by rewriting
// those offsets, which gives exactly the bytes one sequential writer would have produced (the
// field headers do not change; only the varints of the moved offsets do). arrow-go v18.8
// means to write it but never flushes the stream, so today its row groups are pages only and
// this rewrite is the guard for the day that changes.

// Thrift compact type ids.
const (
	ctStop   = 0
	ctTrue   = 1
	ctFalse  = 2
	ctByte   = 3
	ctI16    = 4
	ctI32    = 5
	ctI64    = 6
	ctDouble = 7
	ctBinary = 8
	ctList   = 9
	ctSet    = 10
	ctMap    = 11
	ctStruct = 12
	ctUUID   = 13
)

// shiftColumnChunk rewrites a serialized parquet ColumnChunk, adding delta to every file
// offset it carries: file_offset (2), offset_index_offset (4), column_index_offset (6), and in
// meta_data (3) data_page_offset (9), index_page_offset (10), dictionary_page_offset (11) and
// bloom_filter_offset (14). It returns the new bytes and how many input bytes the struct took.
func shiftColumnChunk(in []byte, delta int64) ([]byte, int, error) {
	s := &shifter{in: in, out: make([]byte, 0, len(in)+16), delta: delta}
	if err := s.structure(map[int16]bool{2: true, 4: true, 6: true}, map[int16]map[int16]bool{3: {9: true, 10: true, 11: true, 14: true}}, 0); err != nil {
		return nil, 0, err
	}
	return s.out, s.pos, nil
}

type shifter struct {
	in    []byte
	pos   int
	out   []byte
	delta int64
}

var errTruncated = fmt.Errorf("column chunk metadata: truncated thrift")

func (s *shifter) byte1() (byte, error) {
	if s.pos >= len(s.in) {
		return 0, errTruncated
	}
	b := s.in[s.pos]
	s.pos++
	s.out = append(s.out, b)
	return b, nil
}

// uvarint reads a varint and copies its bytes unchanged.
func (s *shifter) uvarint() (uint64, error) {
	v, n := binary.Uvarint(s.in[s.pos:])
	if n <= 0 {
		return 0, errTruncated
	}
	s.out = append(s.out, s.in[s.pos:s.pos+n]...)
	s.pos += n
	return v, nil
}

func (s *shifter) skipBytes(n uint64) error {
	if uint64(len(s.in)-s.pos) < n {
		return errTruncated
	}
	s.out = append(s.out, s.in[s.pos:s.pos+int(n)]...)
	s.pos += int(n)
	return nil
}

func (s *shifter) structure(shift map[int16]bool, nested map[int16]map[int16]bool, depth int) error {
	if depth > 32 {
		return fmt.Errorf("column chunk metadata: nested too deeply")
	}
	var last int16
	for {
		h, err := s.byte1()
		if err != nil {
			return err
		}
		typ := h & 0x0f
		if typ == ctStop {
			return nil
		}
		id := last + int16(h>>4)
		if h>>4 == 0 {
			v, err := s.uvarint()
			if err != nil {
				return err
			}
			id = int16(int64(v>>1) ^ -int64(v&1))
		}
		last = id
		switch {
		case typ == ctI64 && shift[id]:
			v, n := binary.Uvarint(s.in[s.pos:])
			if n <= 0 {
				return errTruncated
			}
			s.pos += n
			s.out = binary.AppendUvarint(s.out, zigzag(unzigzag(v)+s.delta))
		case typ == ctStruct && nested[id] != nil:
			if err := s.structure(nested[id], nil, depth+1); err != nil {
				return err
			}
		default:
			if err := s.value(typ, depth+1); err != nil {
				return err
			}
		}
	}
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// value copies one value of type typ; booleans of fields live in the field header.
func (s *shifter) value(typ byte, depth int) error {
	switch typ {
	case ctTrue, ctFalse:
		return nil
	case ctByte:
		_, err := s.byte1()
		return err
	case ctI16, ctI32, ctI64:
		_, err := s.uvarint()
		return err
	case ctDouble:
		return s.skipBytes(8)
	case ctUUID:
		return s.skipBytes(16)
	case ctBinary:
		n, err := s.uvarint()
		if err != nil {
			return err
		}
		return s.skipBytes(n)
	case ctList, ctSet:
		h, err := s.byte1()
		if err != nil {
			return err
		}
		n := uint64(h >> 4)
		if n == 15 {
			if n, err = s.uvarint(); err != nil {
				return err
			}
		}
		return s.elements(h&0x0f, n, depth)
	case ctMap:
		n, err := s.uvarint()
		if err != nil || n == 0 {
			return err
		}
		kv, err := s.byte1()
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if err := s.element(kv>>4, depth); err != nil {
				return err
			}
			if err := s.element(kv&0x0f, depth); err != nil {
				return err
			}
		}
		return nil
	case ctStruct:
		return s.structure(nil, nil, depth)
	}
	return fmt.Errorf("column chunk metadata: unknown thrift type %d", typ)
}

func (s *shifter) elements(typ byte, n uint64, depth int) error {
	if n > uint64(len(s.in)) {
		return errTruncated
	}
	for i := uint64(0); i < n; i++ {
		if err := s.element(typ, depth); err != nil {
			return err
		}
	}
	return nil
}

// element copies a collection element: booleans there take one byte each.
func (s *shifter) element(typ byte, depth int) error {
	if typ == ctTrue || typ == ctFalse {
		_, err := s.byte1()
		return err
	}
	return s.value(typ, depth)
}
