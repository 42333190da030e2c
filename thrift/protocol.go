package thrift

import (
	"context"

	athrift "github.com/apache/thrift/lib/go/thrift"
)

// Wire-compatibility shims. Generated bindings follow one version of an IDL exactly; real
// clients and servers of other versions differ in two ways that matter on the wire, and both
// are fixed here, generically, on the protocol:
//
//   - A newer IDL marks a field required that older clients never send (Hive 4's "engine"):
//     WithDefaultString supplies it while reading, so the call is served instead of refused.
//   - Java peers omit a string field that is null, where Go always writes "" for a field of
//     default requiredness; some clients treat "" and null differently (Hive's Table turns an
//     empty location into an invalid Path). OmitEmptyStrings leaves such fields out.

// defaultStringProtocol reads through p and, in structs at depth, supplies a string field that
// the message did not carry.
type defaultStringProtocol struct {
	athrift.TProtocol
	depth   int
	id      int16
	value   string
	cur     int
	seen    []bool // per struct level: was the field read?
	pending bool   // the synthetic field's value is next
	stopped bool   // the real STOP was consumed while injecting
}

// WithDefaultString returns a protocol reading from p that supplies string field id with value
// in every struct at the given nesting depth (1 = the call's arguments struct) that lacks it.
func WithDefaultString(p athrift.TProtocol, depth int, id int16, value string) athrift.TProtocol {
	return &defaultStringProtocol{TProtocol: p, depth: depth, id: id, value: value}
}

func (d *defaultStringProtocol) ReadStructBegin(ctx context.Context) (string, error) {
	d.cur++
	d.seen = append(d.seen, false)
	return d.TProtocol.ReadStructBegin(ctx)
}

func (d *defaultStringProtocol) ReadStructEnd(ctx context.Context) error {
	d.cur--
	d.seen = d.seen[:len(d.seen)-1]
	return d.TProtocol.ReadStructEnd(ctx)
}

func (d *defaultStringProtocol) ReadFieldBegin(ctx context.Context) (string, athrift.TType, int16, error) {
	if d.stopped {
		d.stopped = false
		return "", athrift.STOP, 0, nil
	}
	name, typ, id, err := d.TProtocol.ReadFieldBegin(ctx)
	if err != nil || d.cur != d.depth {
		return name, typ, id, err
	}
	if typ == athrift.STOP && !d.seen[len(d.seen)-1] {
		d.seen[len(d.seen)-1] = true
		d.pending, d.stopped = true, true
		return "", athrift.STRING, d.id, nil
	}
	if id == d.id {
		d.seen[len(d.seen)-1] = true
	}
	return name, typ, id, nil
}

func (d *defaultStringProtocol) ReadFieldEnd(ctx context.Context) error {
	if d.pending {
		d.pending = false
		return nil
	}
	return d.TProtocol.ReadFieldEnd(ctx)
}

func (d *defaultStringProtocol) ReadString(ctx context.Context) (string, error) {
	if d.pending {
		return d.value, nil
	}
	return d.TProtocol.ReadString(ctx)
}

// omitEmptyProtocol writes through p, leaving out the listed string fields when empty.
type omitEmptyProtocol struct {
	athrift.TProtocol
	rules   map[string]map[string]bool // struct name -> field names
	structs []string
	held    *heldField
	skip    bool
}

type heldField struct {
	name string
	id   int16
}

// OmitEmptyStrings returns a protocol writing to p that leaves out the named string fields
// (struct name -> field names, as the generated code names them) when their value is "".
func OmitEmptyStrings(p athrift.TProtocol, rules map[string][]string) athrift.TProtocol {
	r := make(map[string]map[string]bool, len(rules))
	for s, fs := range rules {
		r[s] = map[string]bool{}
		for _, f := range fs {
			r[s][f] = true
		}
	}
	return &omitEmptyProtocol{TProtocol: p, rules: r}
}

func (o *omitEmptyProtocol) WriteStructBegin(ctx context.Context, name string) error {
	o.structs = append(o.structs, name)
	return o.TProtocol.WriteStructBegin(ctx, name)
}

func (o *omitEmptyProtocol) WriteStructEnd(ctx context.Context) error {
	if len(o.structs) > 0 {
		o.structs = o.structs[:len(o.structs)-1]
	}
	return o.TProtocol.WriteStructEnd(ctx)
}

func (o *omitEmptyProtocol) WriteFieldBegin(ctx context.Context, name string, typ athrift.TType, id int16) error {
	if typ == athrift.STRING && len(o.structs) > 0 && o.rules[o.structs[len(o.structs)-1]][name] {
		o.held = &heldField{name: name, id: id}
		return nil
	}
	return o.TProtocol.WriteFieldBegin(ctx, name, typ, id)
}

func (o *omitEmptyProtocol) WriteString(ctx context.Context, v string) error {
	if h := o.held; h != nil {
		o.held = nil
		if v == "" {
			o.skip = true
			return nil
		}
		if err := o.TProtocol.WriteFieldBegin(ctx, h.name, athrift.STRING, h.id); err != nil {
			return err
		}
	}
	return o.TProtocol.WriteString(ctx, v)
}

func (o *omitEmptyProtocol) WriteFieldEnd(ctx context.Context) error {
	if o.skip {
		o.skip = false
		return nil
	}
	return o.TProtocol.WriteFieldEnd(ctx)
}
