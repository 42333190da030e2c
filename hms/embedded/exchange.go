package embedded

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/internal/errs"
)

// ExchangePartitions moves the partitions of src matching values (a partial specification: ""
// matches any value) to dst, as Hive's exchange_partitions does: both tables must have the same
// columns and partition keys, none of the partitions may exist in dst, and the directory of the
// specified prefix moves from under src's location to under dst's. The catalog change and the
// move are one step: if the directory cannot move, nothing changes.
func (s *Store) ExchangePartitions(ctx context.Context, srcDB, srcTbl, dstDB, dstTbl string, values []string) ([]*hm.Partition, error) {
	srcDB, srcTbl, dstDB, dstTbl = norm(srcDB), norm(srcTbl), norm(dstDB), norm(dstTbl)
	var moved []*hm.Partition
	err := s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		moved = nil
		src, err := s.getTableRow(ctx, tx, srcDB, srcTbl)
		if err != nil {
			return err
		}
		dst, err := s.getTableRow(ctx, tx, dstDB, dstTbl)
		if err != nil {
			return err
		}
		if !sameKeys(src.t.Sd.GetCols(), dst.t.Sd.GetCols()) || !sameKeys(src.t.PartitionKeys, dst.t.PartitionKeys) {
			return errs.Conflict("The tables have different schemas. Their partitions cannot be exchanged.")
		}
		keys := src.t.PartitionKeys
		if len(values) != len(keys) {
			return errs.Invalid("the partition specification has %d values for %d partition keys", len(values), len(keys))
		}
		// The specified keys must lead: Hive moves one directory, <key=value>/... of them.
		var prefixKeys, prefixVals []string
		for i, v := range values {
			if v == "" {
				break
			}
			prefixKeys, prefixVals = append(prefixKeys, norm(keys[i].Name)), append(prefixVals, v)
		}
		if len(prefixVals) == 0 {
			return errs.Invalid("the partition specification names no value")
		}
		for _, v := range values[len(prefixVals):] {
			if v != "" {
				return errs.Invalid("the partition specification must give the leading partition keys")
			}
		}
		prefix, err := hivename.MakePartName(prefixKeys, prefixVals)
		if err != nil {
			return err
		}
		rows, err := s.partRows(ctx, tx, src.id, prefix+"/", true)
		if err != nil {
			return err
		}
		if len(prefixVals) == len(keys) {
			rows, err = s.partRowsLimit(ctx, tx, src.id, prefix, true, true, 0)
			if err != nil {
				return err
			}
		}
		if len(rows) == 0 {
			return errs.NotFound("No partition is found with the values %v for the table %s", values, srcTbl)
		}
		names := make([]string, len(rows))
		for i, r := range rows {
			names[i] = r.name
		}
		existing, err := s.existingPartNames(ctx, tx, dst.id, names)
		if err != nil {
			return err
		}
		srcRoot, dstRoot := strings.TrimRight(src.t.Sd.GetLocation(), "/"), strings.TrimRight(dst.t.Sd.GetLocation(), "/")
		for i, r := range rows {
			if existing(names[i]) {
				return errs.Exists("Partition %s already exists in %s.%s", names[i], dstDB, dstTbl)
			}
			p, err := r.partition(ctx, src.t)
			if err != nil {
				return err
			}
			c := *p
			sd := *p.Sd
			sd.Location = dstRoot + "/" + names[i]
			c.Sd, c.DbName, c.TableName = &sd, dst.t.DbName, dst.t.TableName
			moved = append(moved, &c)
			if _, err := s.exec(ctx, tx, `DELETE FROM part_stats WHERE part_id = ?`, r.id); err != nil {
				return err
			}
			if _, err := s.exec(ctx, tx, `DELETE FROM parts WHERE id = ?`, r.id); err != nil {
				return err
			}
		}
		if err := s.insertParts(ctx, tx, dst.id, names, moved); err != nil {
			return err
		}
		if err := s.event(ctx, tx, evDropPartition, eventMsg{DB: srcDB, Table: srcTbl, Partitions: names}); err != nil {
			return err
		}
		if err := s.event(ctx, tx, evAddPartition, eventMsg{DB: dstDB, Table: dstTbl, Partitions: names}); err != nil {
			return err
		}
		return moveDir(srcRoot+"/"+prefix, dstRoot+"/"+prefix)
	})
	if err != nil {
		return nil, err
	}
	return moved, nil
}

// moveDir moves the directory of exchanged partitions. Unlike the warehouse's renames, a
// missing source fails: the partitions' data would be lost from view.
func moveDir(from, to string) error {
	src, ok1 := localPath(from)
	dst, ok2 := localPath(to)
	if !ok1 || !ok2 {
		return errs.Unsupported("exchanging partitions moves their data, which Propolis does only on local file systems (%s)", from)
	}
	if _, err := os.Stat(src); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errs.NotFound("the partition directory %s does not exist; partitions with custom locations cannot be exchanged", from)
		}
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		return errs.Exists("the destination directory %s already exists", to)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.Rename(src, dst)
}
