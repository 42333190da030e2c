package eval

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/internal/errs"
)

// mapLookups serves lookup tables from string columns held in memory: table -> column -> values
// ("" is NULL).
type mapLookups map[string]map[string][]string

func (m mapLookups) Lookup(ctx context.Context, mem memory.Allocator, db, table string, columns []string) (array.RecordReader, error) {
	tab, ok := m[db+"."+table]
	if !ok {
		return nil, errs.NotFound("table %s.%s", db, table)
	}
	var fields []arrow.Field
	var arrs []arrow.Array
	n := 0
	for _, c := range columns {
		vals, ok := tab[c]
		if !ok {
			releaseAll(arrs)
			return nil, errs.NotFound("column %s", c)
		}
		b := array.NewStringBuilder(mem)
		for _, v := range vals {
			if v == "" {
				b.AppendNull()
			} else {
				b.Append(v)
			}
		}
		arrs = append(arrs, b.NewArray())
		b.Release()
		fields = append(fields, arrow.Field{Name: c, Type: arrow.BinaryTypes.String, Nullable: true})
		n = len(vals)
	}
	schema := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(schema, arrs, int64(n))
	releaseAll(arrs)
	defer rec.Release()
	return array.NewRecordReader(schema, []arrow.RecordBatch{rec})
}
