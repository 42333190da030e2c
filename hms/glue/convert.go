package glue

import (
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	hm "github.com/beltran/gohive/hive_metastore"
)

// Hive -> Glue and Glue -> Hive, field by field. Every Hive field Glue can hold is carried;
// what Glue cannot hold is listed in doc.go.

const commentParam = "comment"

func str(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func secs(t *time.Time) int32 {
	if t == nil || t.IsZero() {
		return 0
	}
	return int32(t.Unix())
}

func fromSecs(s int32) *time.Time {
	if s == 0 {
		return nil
	}
	t := time.Unix(int64(s), 0).UTC()
	return &t
}

func copyParams(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

// --- databases ---

func dbInput(db *hm.Database) *types.DatabaseInput {
	return &types.DatabaseInput{
		Name:        aws.String(db.Name),
		Description: str(db.Description),
		LocationUri: str(db.LocationUri),
		Parameters:  copyParams(db.Parameters),
	}
}

func dbFromGlue(d *types.Database) *hm.Database {
	db := &hm.Database{
		Name:        norm(aws.ToString(d.Name)),
		Description: aws.ToString(d.Description),
		LocationUri: aws.ToString(d.LocationUri),
		Parameters:  copyParams(d.Parameters),
	}
	if d.CreateTime != nil {
		ct := secs(d.CreateTime)
		db.CreateTime = &ct
	}
	return db
}

// --- columns and storage ---

func colsToGlue(cols []*hm.FieldSchema) []types.Column {
	if cols == nil {
		return nil
	}
	out := make([]types.Column, 0, len(cols))
	for _, c := range cols {
		if c == nil {
			continue
		}
		out = append(out, types.Column{Name: aws.String(norm(c.Name)), Type: aws.String(c.Type), Comment: str(c.Comment)})
	}
	return out
}

func colsFromGlue(cols []types.Column) []*hm.FieldSchema {
	out := make([]*hm.FieldSchema, 0, len(cols))
	for _, c := range cols {
		out = append(out, &hm.FieldSchema{Name: norm(aws.ToString(c.Name)), Type: aws.ToString(c.Type), Comment: aws.ToString(c.Comment)})
	}
	return out
}

// skewedValue encodes one list of skewed values as one Glue string, the way AWS's own Hive
// metastore client for Glue does (each element as "<length>$<element>"), so tables written
// by EMR/Athena's Hive and by Propolis read the same.
func skewedValue(vals []string) string {
	var b strings.Builder
	for _, v := range vals {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte('$')
		b.WriteString(v)
	}
	return b.String()
}

func parseSkewedValue(s string) []string {
	out := []string{}
	for len(s) > 0 {
		i := strings.IndexByte(s, '$')
		if i <= 0 {
			return append(out, s) // not our encoding: keep it whole
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || i+1+n > len(s) {
			return append(out, s)
		}
		out = append(out, s[i+1:i+1+n])
		s = s[i+1+n:]
	}
	return out
}

func sdToGlue(sd *hm.StorageDescriptor) *types.StorageDescriptor {
	if sd == nil {
		return nil
	}
	g := &types.StorageDescriptor{
		Columns:         colsToGlue(sd.Cols),
		Location:        str(sd.Location),
		InputFormat:     str(sd.InputFormat),
		OutputFormat:    str(sd.OutputFormat),
		Compressed:      sd.Compressed,
		NumberOfBuckets: sd.NumBuckets,
		BucketColumns:   sd.BucketCols,
		Parameters:      copyParams(sd.Parameters),
	}
	if g.Columns == nil {
		g.Columns = []types.Column{}
	}
	if sd.SerdeInfo != nil {
		g.SerdeInfo = &types.SerDeInfo{
			Name:                 str(sd.SerdeInfo.Name),
			SerializationLibrary: str(sd.SerdeInfo.SerializationLib),
			Parameters:           copyParams(sd.SerdeInfo.Parameters),
		}
	}
	for _, o := range sd.SortCols {
		if o != nil {
			g.SortColumns = append(g.SortColumns, types.Order{Column: aws.String(o.Col), SortOrder: o.Order})
		}
	}
	if sd.SkewedInfo != nil {
		si := &types.SkewedInfo{SkewedColumnNames: sd.SkewedInfo.SkewedColNames}
		for _, v := range sd.SkewedInfo.SkewedColValues {
			si.SkewedColumnValues = append(si.SkewedColumnValues, skewedValue(v))
		}
		g.SkewedInfo = si
	}
	if sd.StoredAsSubDirectories != nil {
		g.StoredAsSubDirectories = *sd.StoredAsSubDirectories
	}
	return g
}

func sdFromGlue(g *types.StorageDescriptor) *hm.StorageDescriptor {
	if g == nil {
		return nil
	}
	sd := &hm.StorageDescriptor{
		Cols:         colsFromGlue(g.Columns),
		Location:     aws.ToString(g.Location),
		InputFormat:  aws.ToString(g.InputFormat),
		OutputFormat: aws.ToString(g.OutputFormat),
		Compressed:   g.Compressed,
		NumBuckets:   g.NumberOfBuckets,
		BucketCols:   g.BucketColumns,
		Parameters:   copyParams(g.Parameters),
		SortCols:     []*hm.Order{},
		SerdeInfo:    &hm.SerDeInfo{Parameters: map[string]string{}},
	}
	if sd.BucketCols == nil {
		sd.BucketCols = []string{}
	}
	if g.SerdeInfo != nil {
		sd.SerdeInfo = &hm.SerDeInfo{
			Name:             aws.ToString(g.SerdeInfo.Name),
			SerializationLib: aws.ToString(g.SerdeInfo.SerializationLibrary),
			Parameters:       copyParams(g.SerdeInfo.Parameters),
		}
	}
	for _, o := range g.SortColumns {
		sd.SortCols = append(sd.SortCols, &hm.Order{Col: aws.ToString(o.Column), Order: o.SortOrder})
	}
	if g.SkewedInfo != nil {
		si := &hm.SkewedInfo{SkewedColNames: g.SkewedInfo.SkewedColumnNames, SkewedColValues: [][]string{}}
		if si.SkewedColNames == nil {
			si.SkewedColNames = []string{}
		}
		for _, v := range g.SkewedInfo.SkewedColumnValues {
			si.SkewedColValues = append(si.SkewedColValues, parseSkewedValue(v))
		}
		sd.SkewedInfo = si
	}
	sub := g.StoredAsSubDirectories
	sd.StoredAsSubDirectories = &sub
	return sd
}

// --- tables ---

func tableInput(t *hm.Table) *types.TableInput {
	in := &types.TableInput{
		Name:              aws.String(t.TableName),
		Owner:             str(t.Owner),
		LastAccessTime:    fromSecs(t.LastAccessTime),
		Retention:         t.Retention,
		StorageDescriptor: sdToGlue(t.Sd),
		PartitionKeys:     colsToGlue(t.PartitionKeys),
		Parameters:        copyParams(t.Parameters),
		ViewOriginalText:  str(t.ViewOriginalText),
		ViewExpandedText:  str(t.ViewExpandedText),
		TableType:         str(t.TableType),
		// Hive keeps a table's comment in its parameters; Glue's consoles show Description.
		Description: str(t.Parameters[commentParam]),
	}
	if in.PartitionKeys == nil {
		in.PartitionKeys = []types.Column{}
	}
	return in
}

func tableFromGlue(g *types.Table) *hm.Table {
	t := &hm.Table{
		TableName:        norm(aws.ToString(g.Name)),
		DbName:           norm(aws.ToString(g.DatabaseName)),
		Owner:            aws.ToString(g.Owner),
		OwnerType:        hm.PrincipalType_USER,
		CreateTime:       secs(g.CreateTime),
		LastAccessTime:   secs(g.LastAccessTime),
		Retention:        g.Retention,
		Sd:               sdFromGlue(g.StorageDescriptor),
		PartitionKeys:    colsFromGlue(g.PartitionKeys),
		Parameters:       copyParams(g.Parameters),
		ViewOriginalText: aws.ToString(g.ViewOriginalText),
		ViewExpandedText: aws.ToString(g.ViewExpandedText),
		TableType:        aws.ToString(g.TableType),
	}
	if t.Sd == nil {
		// Hive clients dereference the storage descriptor of every table, views included.
		t.Sd = &hm.StorageDescriptor{Cols: []*hm.FieldSchema{}, SerdeInfo: &hm.SerDeInfo{Parameters: map[string]string{}},
			BucketCols: []string{}, SortCols: []*hm.Order{}, Parameters: map[string]string{}}
	}
	if _, ok := t.Parameters[commentParam]; !ok && aws.ToString(g.Description) != "" {
		// A table created by another Glue client (console, crawler) has its comment here only.
		t.Parameters[commentParam] = aws.ToString(g.Description)
	}
	return t
}

// --- partitions ---

func partInput(p *hm.Partition) *types.PartitionInput {
	return &types.PartitionInput{
		Values:            p.Values,
		LastAccessTime:    fromSecs(p.LastAccessTime),
		StorageDescriptor: sdToGlue(p.Sd),
		Parameters:        copyParams(p.Parameters),
	}
}

func partFromGlue(g *types.Partition) *hm.Partition {
	p := &hm.Partition{
		Values:         g.Values,
		DbName:         norm(aws.ToString(g.DatabaseName)),
		TableName:      norm(aws.ToString(g.TableName)),
		CreateTime:     secs(g.CreationTime),
		LastAccessTime: secs(g.LastAccessTime),
		Sd:             sdFromGlue(g.StorageDescriptor),
		Parameters:     copyParams(g.Parameters),
	}
	if p.Values == nil {
		p.Values = []string{}
	}
	return p
}

// --- functions ---

func funcInput(f *hm.Function) *types.UserDefinedFunctionInput {
	in := &types.UserDefinedFunctionInput{
		FunctionName: aws.String(f.FunctionName),
		ClassName:    str(f.ClassName),
		OwnerName:    str(f.OwnerName),
	}
	switch f.OwnerType {
	case hm.PrincipalType_ROLE:
		in.OwnerType = types.PrincipalTypeRole
	case hm.PrincipalType_GROUP:
		in.OwnerType = types.PrincipalTypeGroup
	default:
		in.OwnerType = types.PrincipalTypeUser
	}
	for _, r := range f.ResourceUris {
		if r == nil {
			continue
		}
		u := types.ResourceUri{Uri: aws.String(r.URI)}
		switch r.ResourceType {
		case hm.ResourceType_FILE:
			u.ResourceType = types.ResourceTypeFile
		case hm.ResourceType_ARCHIVE:
			u.ResourceType = types.ResourceTypeArchive
		default:
			u.ResourceType = types.ResourceTypeJar
		}
		in.ResourceUris = append(in.ResourceUris, u)
	}
	return in
}

func funcFromGlue(g *types.UserDefinedFunction) *hm.Function {
	f := &hm.Function{
		FunctionName: norm(aws.ToString(g.FunctionName)),
		DbName:       norm(aws.ToString(g.DatabaseName)),
		ClassName:    aws.ToString(g.ClassName),
		OwnerName:    aws.ToString(g.OwnerName),
		OwnerType:    hm.PrincipalType_USER,
		CreateTime:   secs(g.CreateTime),
		FunctionType: hm.FunctionType_JAVA, // Hive's only function type
		ResourceUris: []*hm.ResourceUri{},
	}
	switch g.OwnerType {
	case types.PrincipalTypeRole:
		f.OwnerType = hm.PrincipalType_ROLE
	case types.PrincipalTypeGroup:
		f.OwnerType = hm.PrincipalType_GROUP
	}
	for _, r := range g.ResourceUris {
		u := &hm.ResourceUri{URI: aws.ToString(r.Uri), ResourceType: hm.ResourceType_JAR}
		switch r.ResourceType {
		case types.ResourceTypeFile:
			u.ResourceType = hm.ResourceType_FILE
		case types.ResourceTypeArchive:
			u.ResourceType = hm.ResourceType_ARCHIVE
		}
		f.ResourceUris = append(f.ResourceUris, u)
	}
	return f
}
