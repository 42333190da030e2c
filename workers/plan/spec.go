package plan

// Spec is what a Propolis server tells a worker about one token: the table's files and what
// to do to every row. It is computed by the server from the policy version the token names,
// so a worker never interprets the policy file itself.
type Spec struct {
	User    string   `json:"user"`
	Groups  []string `json:"groups,omitempty"` // effective groups, for is_member()
	DB      string   `json:"db"`
	Table   string   `json:"table"`
	Version int64    `json:"version"`
	Expires int64    `json:"expires"` // the token's expiry, unix seconds
	// Columns are the output columns, in order.
	Columns []Column `json:"columns"`
	// Filter is the row filter in policy/expr syntax over the source columns and partition
	// keys; "" keeps every row.
	Filter        string     `json:"filter,omitempty"`
	Source        []Field    `json:"source"`                   // the data columns the files hold
	PartitionKeys []Field    `json:"partition_keys,omitempty"` // constant per file, from the path
	Locations     []Location `json:"locations"`
	Lookups       []Lookup   `json:"lookups,omitempty"`
}

// Field is a column with its Hive type.
type Field struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Column is one output column: a source column passed through, or an expression.
type Column struct {
	Name   string `json:"name"`
	Type   string `json:"type"` // Hive type of the output
	Source string `json:"source,omitempty"`
	Expr   string `json:"expr,omitempty"` // policy/expr syntax
}

// Location is a directory of data files: the table's, or one partition's.
type Location struct {
	URI       string            `json:"uri"`
	Name      string            `json:"name,omitempty"` // partition name k=v/..., "" for the table
	Partition map[string]string `json:"partition,omitempty"`
}

// Lookup is a table a row filter reads (x IN (SELECT ...)), read raw by the worker.
type Lookup struct {
	DB            string     `json:"db"`
	Table         string     `json:"table"`
	Columns       []Field    `json:"columns"`
	PartitionKeys []Field    `json:"partition_keys,omitempty"`
	Locations     []Location `json:"locations"`
}
