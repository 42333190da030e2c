package embedded

import (
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms/filter"
)

// partFilter is the part of filter.Expr partition listing needs.
type partFilter interface {
	Eval(keys []*hm.FieldSchema, values []string) (bool, error)
}

func parseFilter(s string) (partFilter, error) { return filter.Parse(s) }
