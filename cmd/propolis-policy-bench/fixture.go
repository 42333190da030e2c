package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
)

const (
	bigDB   = "big"
	salesDB = "sales"
)

// client is one Thrift connection as engines open it (TSocket + TBufferedTransport +
// TBinaryProtocol), identified with set_ugi.
type client struct {
	*hm.ThriftHiveMetastoreClient
	tr athrift.TTransport
}

func dial(addr, user string, groups []string) (*client, error) {
	conf := &athrift.TConfiguration{ConnectTimeout: 10 * time.Second, SocketTimeout: 120 * time.Second}
	tr := athrift.NewTBufferedTransport(athrift.NewTSocketConf(addr, conf), 64*1024)
	if err := tr.Open(); err != nil {
		return nil, err
	}
	p := athrift.NewTBinaryProtocolConf(tr, conf)
	c := &client{ThriftHiveMetastoreClient: hm.NewThriftHiveMetastoreClient(athrift.NewTStandardClient(p, p)), tr: tr}
	if _, err := c.SetUgi(context.Background(), user, groups); err != nil {
		tr.Close()
		return nil, fmt.Errorf("set_ugi %s: %w", user, err)
	}
	return c, nil
}

func (c *client) Close() { c.tr.Close() }

// bigTable is the name of big's i-th table: even ones pub_, odd ones priv_ (hidden from alice).
func bigTable(i int) string {
	if i%2 == 0 {
		return fmt.Sprintf("pub_%05d", i)
	}
	return fmt.Sprintf("priv_%05d", i)
}

func field(name, typ string) *hm.FieldSchema { return &hm.FieldSchema{Name: name, Type: typ} }

func extTable(db, name string, cols []*hm.FieldSchema, parts []*hm.FieldSchema) *hm.Table {
	return &hm.Table{
		DbName: db, TableName: name, Owner: servicePrinc, TableType: "EXTERNAL_TABLE",
		CreateTime: int32(time.Now().Unix()),
		Parameters: map[string]string{"EXTERNAL": "TRUE", "comment": "propolis-policy-bench fixture"},
		Sd: &hm.StorageDescriptor{
			Cols:         cols,
			Location:     "file:///nonexistent/propolis-policy-bench/" + db + "/" + name,
			InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
			OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
			SerdeInfo: &hm.SerDeInfo{
				SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
				Parameters:       map[string]string{"serialization.format": "1"},
			},
			Parameters: map[string]string{},
		},
		PartitionKeys: parts,
	}
}

func bigCols() []*hm.FieldSchema {
	return []*hm.FieldSchema{field("id", "bigint"), field("name", "string"), field("region", "string"),
		field("amount", "decimal(12,2)"), field("created_at", "timestamp"), field("note", "string")}
}

func customersCols() []*hm.FieldSchema {
	return []*hm.FieldSchema{field("id", "bigint"), field("name", "string"), field("email", "string"),
		field("phone", "string")}
}

type loadStats struct {
	tables, dbs int
	elapsed     time.Duration
}

// load creates the fixture as the service principal: `dbs` empty department databases, sales
// (customers, payments, products) and big with n tables, created by `workers` connections in
// parallel, each taking the next batch of `batch` names.
func load(ctx context.Context, addr string, n, dbs, workers, batch int) (loadStats, error) {
	start := time.Now()
	c, err := dial(addr, servicePrinc, nil)
	if err != nil {
		return loadStats{}, err
	}
	defer c.Close()
	for _, d := range []string{bigDB, salesDB} {
		if err := c.CreateDatabase(ctx, &hm.Database{Name: d, Description: "propolis-policy-bench", LocationUri: "file:///nonexistent/propolis-policy-bench/" + d}); err != nil {
			return loadStats{}, fmt.Errorf("create_database %s: %w", d, err)
		}
	}
	for i := 0; i < dbs; i++ {
		d := fmt.Sprintf("dept%04d", i)
		if err := c.CreateDatabase(ctx, &hm.Database{Name: d, LocationUri: "file:///nonexistent/propolis-policy-bench/" + d}); err != nil {
			return loadStats{}, fmt.Errorf("create_database %s: %w", d, err)
		}
	}
	region := []*hm.FieldSchema{field("region", "string")}
	for _, t := range []*hm.Table{
		extTable(salesDB, "customers", customersCols(), region),
		extTable(salesDB, "payments", []*hm.FieldSchema{field("id", "bigint"), field("card", "string"), field("amount", "decimal(12,2)")}, nil),
		extTable(salesDB, "products", []*hm.FieldSchema{field("id", "bigint"), field("name", "string"), field("price", "decimal(12,2)")}, nil),
	} {
		if err := c.CreateTable(ctx, t); err != nil {
			return loadStats{}, fmt.Errorf("create_table %s.%s: %w", t.DbName, t.TableName, err)
		}
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wc, err := dial(addr, servicePrinc, nil)
			if err != nil {
				errc <- err
				return
			}
			defer wc.Close()
			for {
				from := int(next.Add(int64(batch))) - batch
				if from >= n || ctx.Err() != nil {
					return
				}
				for i := from; i < min(from+batch, n); i++ {
					if err := wc.CreateTable(ctx, extTable(bigDB, bigTable(i), bigCols(), []*hm.FieldSchema{field("ds", "string")})); err != nil {
						errc <- fmt.Errorf("create_table %s.%s: %w", bigDB, bigTable(i), err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return loadStats{}, err
	}
	if err := ctx.Err(); err != nil {
		return loadStats{}, err
	}
	return loadStats{tables: n + 3, dbs: dbs + 2, elapsed: time.Since(start)}, nil
}

// expect is what the measured calls must return on each server, checked before measuring.
func check(ctx context.Context, addr string, policyOn bool, n int) error {
	c, err := dial(addr, benchUser, benchGroups)
	if err != nil {
		return err
	}
	defer c.Close()
	// (1) the restricted table.
	t, err := c.GetTable(ctx, salesDB, "customers")
	if err != nil {
		return fmt.Errorf("get_table sales.customers: %w", err)
	}
	if policyOn {
		if t.TableType != "VIRTUAL_VIEW" || !strings.HasPrefix(t.ViewOriginalText, "/* Presto View: ") || t.Owner != servicePrinc {
			return fmt.Errorf("policy on: sales.customers as %s is a %s owned by %s, not a Trino view owned by %s", benchUser, t.TableType, t.Owner, servicePrinc)
		}
	} else if t.TableType != "EXTERNAL_TABLE" {
		return fmt.Errorf("policy off: sales.customers is a %s", t.TableType)
	}
	// (2) an unrestricted table comes back raw on both.
	if t, err := c.GetTable(ctx, bigDB, bigTable(42)); err != nil || t.TableType != "EXTERNAL_TABLE" || t.Sd == nil || len(t.Sd.Cols) != len(bigCols()) {
		return fmt.Errorf("get_table big.%s: %v, %v", bigTable(42), t, err)
	}
	// A hidden table is not found on the policy server.
	_, err = c.GetTable(ctx, bigDB, bigTable(43))
	var nf *hm.NoSuchObjectException
	if policyOn != errors.As(err, &nf) {
		return fmt.Errorf("get_table big.%s (hidden from %s with policy on): %v", bigTable(43), benchUser, err)
	}
	// (3) the listing.
	want := n
	if policyOn {
		want = (n + 1) / 2
	}
	names, err := c.GetAllTables(ctx, bigDB)
	if err != nil || len(names) != want {
		return fmt.Errorf("get_all_tables big: %d names, %v; want %d", len(names), err, want)
	}
	// (4) get_table_meta over every database.
	metas, err := c.GetTableMeta(ctx, "*", "*", nil)
	wantMeta := n + 3
	if policyOn {
		wantMeta = want + 2 // sales.payments hidden
	}
	if err != nil || len(metas) != wantMeta {
		return fmt.Errorf("get_table_meta *.*: %d, %v; want %d", len(metas), err, wantMeta)
	}
	return nil
}
