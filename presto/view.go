package presto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
)

// The markers Trino's Hive connector writes and reads (ViewReaderUtil, HiveMetadata).
const (
	viewPrefix = "/* Presto View: "
	viewSuffix = " */"
	// ExpandedText is the ViewExpandedText of every Trino view.
	ExpandedText = "/* Presto View */"
	// ViewFlag and ViewComment are the parameters Trino recognises a Trino view by:
	// presto_view=true and comment="Presto View".
	ViewFlag    = "presto_view"
	ViewComment = "Presto View"
	// CreatedBy is the trino_created_by parameter of views the Hive connector writes.
	CreatedBy = "Trino Hive connector"
	// TrinoVersion is the Trino release whose view layout ViewTable reproduces (and records in
	// trino_version, as Trino does).
	TrinoVersion = "476"
)

// View is Trino's ConnectorViewDefinition, with the JSON names and omissions Trino uses:
// empty optional fields are left out, path is always present.
type View struct {
	OriginalSQL string   `json:"originalSql"`
	Catalog     string   `json:"catalog,omitempty"`
	Schema      string   `json:"schema,omitempty"`
	Columns     []Column `json:"columns"`
	Comment     string   `json:"comment,omitempty"`
	// Owner is the definer: the user the view's query runs as when RunAsInvoker is false.
	// Trino requires it for definer views and forbids it for invoker views.
	Owner        string       `json:"owner,omitempty"`
	RunAsInvoker bool         `json:"runAsInvoker"`
	Path         []SchemaName `json:"path"`
}

// Column is one output column of a view; Type is a Trino type signature (see TrinoType).
type Column struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Comment string `json:"comment,omitempty"`
}

// SchemaName is an entry of a view's SQL path.
type SchemaName struct {
	Catalog string `json:"catalogName"`
	Schema  string `json:"schemaName"`
}

// Validate applies the rules Trino's ConnectorViewDefinition constructor enforces, so a view
// Propolis builds is one Trino will load.
func (v View) Validate() error {
	switch {
	case strings.TrimSpace(v.OriginalSQL) == "":
		return errs.Invalid("trino view: empty originalSql")
	case len(v.Columns) == 0:
		return errs.Invalid("trino view: no columns")
	case v.Catalog == "" && v.Schema != "":
		return errs.Invalid("trino view: schema %q without a catalog", v.Schema)
	case v.RunAsInvoker && v.Owner != "":
		return errs.Invalid("trino view: an invoker view has no owner (got %q)", v.Owner)
	case !v.RunAsInvoker && v.Owner == "":
		return errs.Invalid("trino view: a definer view needs an owner")
	}
	for i, c := range v.Columns {
		if c.Name == "" || c.Type == "" {
			return errs.Invalid("trino view: column %d has no name or type", i+1)
		}
	}
	return nil
}

// EncodeView is the ViewOriginalText Trino stores for v: the JSON definition, base64, in a
// comment.
func EncodeView(v View) string {
	if v.Path == nil {
		v.Path = []SchemaName{}
	}
	if v.Columns == nil {
		v.Columns = []Column{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Trino's JSON codec writes < > & as is; so do we, so encodings compare byte for byte.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // cannot fail: only strings, bools and slices of them
	return viewPrefix + base64.StdEncoding.EncodeToString(bytes.TrimSuffix(b.Bytes(), []byte("\n"))) + viewSuffix
}

// DecodeView parses a ViewOriginalText written by Trino, Presto or EncodeView. Anything else
// (a Hive view's SQL, a damaged marker, bad base64 or JSON) is errs.Invalid.
func DecodeView(text string) (View, error) {
	if !strings.HasPrefix(text, viewPrefix) || !strings.HasSuffix(text, viewSuffix) || len(text) < len(viewPrefix)+len(viewSuffix) {
		return View{}, errs.Invalid("trino view: view text does not have the /* Presto View: ... */ marker")
	}
	data := text[len(viewPrefix) : len(text)-len(viewSuffix)]
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return View{}, errs.Invalid("trino view: view data is not base64: %w", err)
	}
	var v View
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&v); err != nil {
		return View{}, errs.Invalid("trino view: view data is not a view definition: %w", err)
	}
	if dec.More() {
		return View{}, errs.Invalid("trino view: trailing data after the view definition")
	}
	if v.Path == nil {
		v.Path = []SchemaName{}
	}
	return v, nil
}

// IsView reports whether t is a Trino view, by the test Trino itself applies.
func IsView(t *hm.Table) bool {
	return t != nil && t.TableType == "VIRTUAL_VIEW" && t.Parameters[ViewFlag] == "true" &&
		strings.EqualFold(t.Parameters["comment"], ViewComment)
}

// ViewTable is the metastore table Trino's Hive connector creates for CREATE VIEW db.name
// (TrinoViewHiveMetastore.createView): a VIRTUAL_VIEW with one dummy column, an empty storage
// descriptor, the encoded definition, the owner's initial privileges, and Trino's parameters.
// It differs from what Trino writes only in what Trino generates per statement: no
// trino_query_id, and no createTime (the metastore sets it).
//
// The table is owned by the view's owner; an invoker view has none, and Trino makes the
// creating user the table's owner: use ViewTableOwnedBy for that.
func ViewTable(db, name string, v View) *hm.Table {
	return ViewTableOwnedBy(db, name, v.Owner, v)
}

// ViewTableOwnedBy is ViewTable with an explicit table owner (Trino's session user), which
// also receives the initial privileges.
func ViewTableOwnedBy(db, name, owner string, v View) *hm.Table {
	t := &hm.Table{
		DbName:    db,
		TableName: name,
		Owner:     owner,
		TableType: "VIRTUAL_VIEW",
		Sd: &hm.StorageDescriptor{
			Cols:       []*hm.FieldSchema{{Name: "dummy", Type: "string"}},
			SerdeInfo:  &hm.SerDeInfo{Name: name, Parameters: map[string]string{}},
			BucketCols: []string{},
			SortCols:   []*hm.Order{},
			Parameters: map[string]string{},
		},
		PartitionKeys: []*hm.FieldSchema{},
		Parameters: map[string]string{
			"comment":          ViewComment,
			ViewFlag:           "true",
			"trino_created_by": CreatedBy,
			"trino_version":    TrinoVersion,
		},
		ViewOriginalText: EncodeView(v),
		ViewExpandedText: ExpandedText,
	}
	if owner != "" {
		// buildInitialPrivilegeSet: the creating user holds every privilege, with grant option.
		var grants []*hm.PrivilegeGrantInfo
		for _, p := range []string{"select", "insert", "update", "delete"} {
			grants = append(grants, &hm.PrivilegeGrantInfo{Privilege: p, Grantor: owner, GrantorType: hm.PrincipalType_USER, GrantOption: true})
		}
		t.Privileges = &hm.PrincipalPrivilegeSet{
			UserPrivileges:  map[string][]*hm.PrivilegeGrantInfo{owner: grants},
			GroupPrivileges: map[string][]*hm.PrivilegeGrantInfo{},
			RolePrivileges:  map[string][]*hm.PrivilegeGrantInfo{},
		}
	}
	return t
}

// TrinoType is the Trino type signature Trino's Hive connector gives a column of a Hive type,
// as it appears in view definitions: bigint, integer, varchar, varchar(n), char(n),
// decimal(p,s), real, double, boolean, date, timestamp(3), varbinary, array(x), map(k,v),
// row("name" type,...).
func TrinoType(hiveType string) (string, error) {
	t, err := expr.ParseType(hiveType)
	if err != nil {
		return "", err
	}
	return t.TrinoName(), nil
}
