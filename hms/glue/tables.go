package glue

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/hms/hiverule"
	"github.com/propolis/propolis/internal/errs"
)

const (
	ddlTimeParam = hiverule.ParamDDLTime
)

// cloneTable deep-copies through the Glue model's own converters would lose fields Glue cannot
// hold; a Thrift-level copy is what callers expect, so copy the parts this package mutates.
func cloneTable(in *hm.Table) *hm.Table {
	t := *in
	t.Parameters = copyParams(in.Parameters)
	if in.Sd != nil {
		sd := *in.Sd
		sd.Cols = cloneCols(in.Sd.Cols)
		t.Sd = &sd
	}
	t.PartitionKeys = cloneCols(in.PartitionKeys)
	return &t
}

func cloneCols(cols []*hm.FieldSchema) []*hm.FieldSchema {
	if cols == nil {
		return nil
	}
	out := make([]*hm.FieldSchema, len(cols))
	for i, c := range cols {
		if c != nil {
			cc := *c
			out[i] = &cc
		}
	}
	return out
}

// normalizeTable lower-cases names as Hive does and checks what HMS checks before Glue sees
// the table (Glue accepts duplicate columns and partition keys that repeat columns).
func normalizeTable(t *hm.Table) error {
	t.DbName, t.TableName = norm(t.DbName), norm(t.TableName)
	if !hivename.ValidName(t.TableName) {
		return errs.Invalid("invalid table name %q", t.TableName)
	}
	hiverule.NormalizeType(t)
	if t.Sd == nil {
		if t.TableType != hiverule.VirtualView {
			return errs.Invalid("table %s.%s has no storage descriptor", t.DbName, t.TableName)
		}
		t.Sd = &hm.StorageDescriptor{}
	}
	seen := map[string]bool{}
	for _, c := range t.Sd.Cols {
		if err := addColumn(seen, c, "column"); err != nil {
			return err
		}
	}
	for _, k := range t.PartitionKeys {
		if err := addColumn(seen, k, "partition key"); err != nil {
			return err
		}
	}
	return nil
}

func addColumn(seen map[string]bool, c *hm.FieldSchema, kind string) error {
	if c == nil {
		return errs.Invalid("%s is missing", kind)
	}
	c.Name = norm(c.Name)
	if c.Name == "" || len(c.Name) > 767 || strings.ContainsAny(c.Name, ",:") {
		return errs.Invalid("invalid %s name %q", kind, c.Name)
	}
	if seen[c.Name] {
		return errs.Invalid("duplicate column name %q (partition keys may not repeat columns)", c.Name)
	}
	seen[c.Name] = true
	return nil
}

func stampDDL(params map[string]string) map[string]string {
	return hiverule.StampDDLTime(params, time.Now().Unix())
}

func (c *Client) CreateTable(ctx context.Context, in *hm.Table) error {
	if in == nil {
		return errs.Invalid("table is missing")
	}
	if in.Sd == nil && in.TableType != hiverule.VirtualView {
		return errs.Invalid("table %s.%s has no storage descriptor", in.DbName, in.TableName)
	}
	t := cloneTable(in)
	if err := normalizeTable(t); err != nil {
		return err
	}
	db, err := c.GetDatabase(ctx, t.DbName)
	if errs.KindOf(err) == errs.KindNotFound {
		return errs.NotFound("Database %s does not exist", t.DbName)
	} else if err != nil {
		return err
	}
	if _, ok := t.Parameters[ddlTimeParam]; !ok {
		t.Parameters = stampDDL(t.Parameters)
	}
	if t.Sd.Location == "" && t.TableType != hiverule.VirtualView && db.LocationUri != "" {
		t.Sd.Location = strings.TrimRight(db.LocationUri, "/") + "/" + t.TableName
	}
	return c.createTable(ctx, t)
}

func (c *Client) createTable(ctx context.Context, t *hm.Table) error {
	attempts, sent := 0, time.Now()
	err := c.call(ctx, "create table "+t.DbName+"."+t.TableName, func(ctx context.Context) error {
		_, err := c.g.CreateTable(ctx, &glue.CreateTableInput{CatalogId: c.catalog(), DatabaseName: aws.String(t.DbName), TableInput: tableInput(t)}, countAttempts(&attempts))
		return err
	})
	if attempts > 1 && errs.KindOf(err) == errs.KindExists {
		if got, gerr := c.GetTable(ctx, t.DbName, t.TableName); gerr == nil {
			same := got.TableType == t.TableType && got.GetSd().GetLocation() == t.GetSd().GetLocation() && got.ViewOriginalText == t.ViewOriginalText
			if createdEarlier(sent, same, int64(got.CreateTime)) {
				c.log.Info("create table: a retried call found the table its earlier attempt created", "table", t.DbName+"."+t.TableName)
				return nil
			}
		}
	}
	return err
}

func (c *Client) GetTable(ctx context.Context, db, name string) (*hm.Table, error) {
	db, name = norm(db), norm(name)
	var out *glue.GetTableOutput
	err := c.call(ctx, "get table "+db+"."+name, func(ctx context.Context) (err error) {
		out, err = c.g.GetTable(ctx, &glue.GetTableInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), Name: aws.String(name)})
		return err
	})
	if err != nil {
		if errs.KindOf(err) == errs.KindNotFound {
			return nil, errs.NotFound("%s.%s table not found", db, name)
		}
		return nil, err
	}
	t := tableFromGlue(out.Table)
	if t.DbName == "" {
		t.DbName = db
	}
	return t, nil
}

// GetTables fetches the tables one GetTable each (Glue has no batch get for tables), a few at
// a time, keeping the order asked.
func (c *Client) GetTables(ctx context.Context, db string, names []string) ([]*hm.Table, error) {
	res := make([]*hm.Table, len(names))
	errv := make([]error, len(names))
	sem := make(chan struct{}, getTablesParallel)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t, err := c.GetTable(ctx, db, n)
			if errs.KindOf(err) == errs.KindNotFound {
				return
			}
			res[i], errv[i] = t, err
		}()
	}
	wg.Wait()
	out := []*hm.Table{}
	for i, t := range res {
		if errv[i] != nil {
			return nil, errv[i]
		}
		if t != nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// eachTable pages through GetTables; f returning false stops early.
func (c *Client) eachTable(ctx context.Context, db string, f func(*types.Table) bool) error {
	db = norm(db)
	var token *string
	for {
		var out *glue.GetTablesOutput
		err := c.call(ctx, "list tables of "+db, func(ctx context.Context) (err error) {
			out, err = c.g.GetTables(ctx, &glue.GetTablesInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), NextToken: token, MaxResults: c.page(maxTablesPage)})
			return err
		})
		if err != nil {
			if errs.KindOf(err) == errs.KindNotFound {
				return errs.NotFound("Database %s does not exist", db)
			}
			return err
		}
		for i := range out.TableList {
			if !f(&out.TableList[i]) {
				return nil
			}
		}
		if token = out.NextToken; aws.ToString(token) == "" {
			return nil
		}
	}
}

// tableNames lists up to limit (0: all) table names of db.
func (c *Client) tableNames(ctx context.Context, db string, limit int) ([]string, error) {
	var names []string
	err := c.eachTable(ctx, db, func(t *types.Table) bool {
		names = append(names, norm(aws.ToString(t.Name)))
		return limit <= 0 || len(names) < limit
	})
	return names, err
}

func (c *Client) ListTables(ctx context.Context, db string) ([]hms.TableInfo, error) {
	out := []hms.TableInfo{}
	err := c.eachTable(ctx, db, func(g *types.Table) bool {
		t := tableFromGlue(g)
		out = append(out, hms.TableInfo{Name: t.TableName, Type: t.TableType, Comment: t.Parameters[commentParam], Owner: t.Owner})
		return true
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func sameKeys(a, b []*hm.FieldSchema) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if norm(a[i].GetName()) != norm(b[i].GetName()) || !strings.EqualFold(a[i].GetType(), b[i].GetType()) {
			return false
		}
	}
	return true
}

// AlterTable updates the table in place, or, for a rename, re-creates it under the new name
// with its partitions and table statistics and then deletes the old one: Glue's UpdateTable
// cannot rename. A failed rename deletes what it created, leaving the old table as it was.
func (c *Client) AlterTable(ctx context.Context, db, name string, in *hm.Table, cascade bool) error {
	if in == nil {
		return errs.Invalid("table is missing")
	}
	if in.Sd == nil && in.TableType != hiverule.VirtualView {
		return errs.Invalid("table %s.%s has no storage descriptor", in.DbName, in.TableName)
	}
	db, name = norm(db), norm(name)
	t := cloneTable(in)
	if t.DbName == "" {
		t.DbName = db
	}
	if t.TableName == "" {
		t.TableName = name
	}
	if err := normalizeTable(t); err != nil {
		return err
	}
	old, err := c.GetTable(ctx, db, name)
	if err != nil {
		return err
	}
	if !sameKeys(old.PartitionKeys, t.PartitionKeys) {
		return errs.Invalid("cannot change the partition keys of %s.%s", db, name)
	}
	t.Parameters = stampDDL(t.Parameters)
	if t.Sd.Location == "" && t.TableType != hiverule.VirtualView {
		t.Sd.Location = old.Sd.GetLocation()
	}
	if t.DbName == db && t.TableName == name {
		err := c.call(ctx, "alter table "+db+"."+name, func(ctx context.Context) error {
			_, err := c.g.UpdateTable(ctx, &glue.UpdateTableInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), TableInput: tableInput(t)})
			return err
		})
		if err != nil || !cascade || len(t.PartitionKeys) == 0 {
			return err
		}
		parts, err := c.listAll(ctx, db, name)
		if err != nil {
			return err
		}
		for _, p := range parts {
			if p.Sd != nil {
				p.Sd.Cols = cloneCols(t.Sd.Cols)
			}
		}
		return c.updatePartitions(ctx, db, name, parts, nil)
	}
	return c.renameTable(ctx, old, t, cascade)
}

func (c *Client) renameTable(ctx context.Context, old, t *hm.Table, cascade bool) error {
	if _, err := c.GetDatabase(ctx, t.DbName); errs.KindOf(err) == errs.KindNotFound {
		return errs.NotFound("Database %s does not exist", t.DbName)
	} else if err != nil {
		return err
	}
	if err := c.createTable(ctx, t); err != nil {
		if errs.KindOf(err) == errs.KindExists {
			return errs.Exists("Table %s.%s already exists", t.DbName, t.TableName)
		}
		return err
	}
	undo := func(cause error) error {
		if _, err := c.dropTable(context.WithoutCancel(ctx), t.DbName, t.TableName); err != nil {
			c.log.Error("rename table: could not remove the half-created new table", "table", t.DbName+"."+t.TableName, "err", err)
		}
		return cause
	}
	if len(t.PartitionKeys) > 0 {
		parts, err := c.listAll(ctx, old.DbName, old.TableName)
		if err != nil {
			return undo(err)
		}
		for _, p := range parts {
			p.DbName, p.TableName = t.DbName, t.TableName
			if cascade && p.Sd != nil {
				p.Sd.Cols = cloneCols(t.Sd.Cols)
			}
		}
		if _, err := c.createPartitions(ctx, t.DbName, t.TableName, parts, false); err != nil {
			return undo(err)
		}
	}
	// Table-level statistics follow the table; Glue without statistics support has none to move.
	if stats, err := c.TableColumnStatistics(ctx, old.DbName, old.TableName, colNames(old.Sd.Cols)); err == nil && len(stats) > 0 {
		if err := c.putTableStats(ctx, t.DbName, t.TableName, stats, nil); err != nil {
			return undo(err)
		}
	}
	if _, err := c.dropTable(ctx, old.DbName, old.TableName); err != nil {
		return undo(err)
	}
	return nil
}

func colNames(cols []*hm.FieldSchema) []string {
	out := make([]string, 0, len(cols))
	for _, c := range cols {
		out = append(out, c.GetName())
	}
	return out
}

// DropTable deletes the table; Glue removes its partitions and statistics with it. Data files
// are never deleted (see doc.go).
func (c *Client) DropTable(ctx context.Context, db, name string, deleteData bool) error {
	db, name = norm(db), norm(name)
	if _, err := c.dropTable(ctx, db, name); err != nil {
		return err
	}
	if deleteData {
		c.log.Debug("drop table: Glue backends never delete data files", "table", db+"."+name)
	}
	return nil
}

func (c *Client) dropTable(ctx context.Context, db, name string) (bool, error) {
	err := c.call(ctx, "drop table "+db+"."+name, func(ctx context.Context) error {
		_, err := c.g.DeleteTable(ctx, &glue.DeleteTableInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), Name: aws.String(name)})
		return err
	})
	if errs.KindOf(err) == errs.KindNotFound {
		return false, errs.NotFound("%s.%s table not found", db, name)
	}
	return err == nil, err
}
