package glue

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/internal/errs"
)

func (c *Client) CreateDatabase(ctx context.Context, in *hm.Database) error {
	if in == nil {
		return errs.Invalid("database is missing")
	}
	db := *in
	db.Name = norm(db.Name)
	if !hivename.ValidName(db.Name) {
		return errs.Invalid("invalid database name %q", in.Name)
	}
	if db.LocationUri == "" && c.cfg.Warehouse != "" {
		db.LocationUri = strings.TrimRight(c.cfg.Warehouse, "/") + "/" + db.Name + ".db"
	}
	attempts, sent := 0, time.Now()
	err := c.call(ctx, "create database "+db.Name, func(ctx context.Context) error {
		_, err := c.g.CreateDatabase(ctx, &glue.CreateDatabaseInput{CatalogId: c.catalog(), DatabaseInput: dbInput(&db)}, countAttempts(&attempts))
		return err
	})
	if attempts > 1 && errs.KindOf(err) == errs.KindExists {
		if got, gerr := c.GetDatabase(ctx, db.Name); gerr == nil && got.CreateTime != nil {
			same := got.LocationUri == db.LocationUri && got.Description == db.Description
			if createdEarlier(sent, same, int64(*got.CreateTime)) {
				c.log.Info("create database: a retried call found the database its earlier attempt created", "database", db.Name)
				return nil
			}
		}
	}
	return err
}

func (c *Client) GetDatabase(ctx context.Context, name string) (*hm.Database, error) {
	name = norm(name)
	var out *glue.GetDatabaseOutput
	err := c.call(ctx, "get database "+name, func(ctx context.Context) (err error) {
		out, err = c.g.GetDatabase(ctx, &glue.GetDatabaseInput{CatalogId: c.catalog(), Name: aws.String(name)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return dbFromGlue(out.Database), nil
}

func (c *Client) ListDatabases(ctx context.Context) ([]string, error) {
	names := []string{}
	var token *string
	for {
		var out *glue.GetDatabasesOutput
		err := c.call(ctx, "list databases", func(ctx context.Context) (err error) {
			out, err = c.g.GetDatabases(ctx, &glue.GetDatabasesInput{CatalogId: c.catalog(), NextToken: token, MaxResults: c.page(maxDatabasesPage)})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, d := range out.DatabaseList {
			names = append(names, norm(aws.ToString(d.Name)))
		}
		if token = out.NextToken; aws.ToString(token) == "" {
			break
		}
	}
	sort.Strings(names)
	return names, nil
}

func (c *Client) AlterDatabase(ctx context.Context, name string, in *hm.Database) error {
	if in == nil {
		return errs.Invalid("database is missing")
	}
	name = norm(name)
	db := *in
	if n := norm(db.Name); n != "" && n != name {
		return errs.Invalid("cannot rename database %s to %s: Hive has no database rename", name, n)
	}
	db.Name = name
	return c.call(ctx, "alter database "+name, func(ctx context.Context) error {
		_, err := c.g.UpdateDatabase(ctx, &glue.UpdateDatabaseInput{CatalogId: c.catalog(), Name: aws.String(name), DatabaseInput: dbInput(&db)})
		return err
	})
}

// DropDatabase checks emptiness itself, because Glue's DeleteDatabase silently deletes every
// table and function of the database, which Hive does only with cascade. Data files are never
// deleted (see doc.go), whatever deleteData says.
func (c *Client) DropDatabase(ctx context.Context, name string, deleteData, cascade bool) error {
	name = norm(name)
	if _, err := c.GetDatabase(ctx, name); err != nil {
		return err
	}
	if !cascade {
		tables, err := c.tableNames(ctx, name, 1)
		if err != nil {
			return err
		}
		if len(tables) > 0 {
			return errs.Conflict("Database %s is not empty. One or more tables exist.", name)
		}
		if !c.cfg.DisableFunctions {
			fns, err := c.ListFunctions(ctx, name)
			if err != nil {
				return err
			}
			if len(fns) > 0 {
				return errs.Conflict("Database %s is not empty. One or more functions exist.", name)
			}
		}
	}
	if deleteData {
		c.log.Debug("drop database: Glue backends never delete data files", "db", name)
	}
	return c.call(ctx, "drop database "+name, func(ctx context.Context) error {
		_, err := c.g.DeleteDatabase(ctx, &glue.DeleteDatabaseInput{CatalogId: c.catalog(), Name: aws.String(name)})
		return err
	})
}
