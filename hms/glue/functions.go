package glue

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/internal/errs"
)

func (c *Client) noFunctions() error {
	if c.cfg.DisableFunctions {
		return errs.Unsupported("glue backend %q is configured without user-defined functions (disable_functions)", c.name)
	}
	return nil
}

func (c *Client) CreateFunction(ctx context.Context, in *hm.Function) error {
	if err := c.noFunctions(); err != nil {
		return err
	}
	if in == nil {
		return errs.Invalid("function is missing")
	}
	f := *in
	f.DbName, f.FunctionName = norm(f.DbName), norm(f.FunctionName)
	if !hivename.ValidName(f.FunctionName) {
		return errs.Invalid("invalid function name %q", in.FunctionName)
	}
	if f.ClassName == "" {
		return errs.Invalid("function %s.%s has no class name", f.DbName, f.FunctionName)
	}
	if _, err := c.GetDatabase(ctx, f.DbName); errs.KindOf(err) == errs.KindNotFound {
		return errs.NotFound("Database %s does not exist", f.DbName)
	} else if err != nil {
		return err
	}
	err := c.call(ctx, "create function "+f.DbName+"."+f.FunctionName, func(ctx context.Context) error {
		_, err := c.g.CreateUserDefinedFunction(ctx, &glue.CreateUserDefinedFunctionInput{CatalogId: c.catalog(), DatabaseName: aws.String(f.DbName), FunctionInput: funcInput(&f)})
		return err
	})
	if errs.KindOf(err) == errs.KindExists {
		return errs.Exists("Function %s.%s already exists", f.DbName, f.FunctionName)
	}
	return err
}

func (c *Client) GetFunction(ctx context.Context, db, name string) (*hm.Function, error) {
	if err := c.noFunctions(); err != nil {
		return nil, err
	}
	db, name = norm(db), norm(name)
	var out *glue.GetUserDefinedFunctionOutput
	err := c.call(ctx, "get function "+db+"."+name, func(ctx context.Context) (err error) {
		out, err = c.g.GetUserDefinedFunction(ctx, &glue.GetUserDefinedFunctionInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), FunctionName: aws.String(name)})
		return err
	})
	if err != nil {
		if errs.KindOf(err) == errs.KindNotFound {
			return nil, errs.NotFound("Function %s.%s does not exist", db, name)
		}
		return nil, err
	}
	f := funcFromGlue(out.UserDefinedFunction)
	if f.DbName == "" {
		f.DbName = db
	}
	return f, nil
}

// ListFunctions pages through GetUserDefinedFunctions; without a database Glue searches all.
func (c *Client) ListFunctions(ctx context.Context, db string) ([]*hm.Function, error) {
	if err := c.noFunctions(); err != nil {
		return nil, err
	}
	db = norm(db)
	out := []*hm.Function{}
	var token *string
	for {
		in := &glue.GetUserDefinedFunctionsInput{CatalogId: c.catalog(), Pattern: aws.String("*"), NextToken: token, MaxResults: c.page(maxFunctionsPage)}
		if db != "" {
			in.DatabaseName = aws.String(db)
		}
		var res *glue.GetUserDefinedFunctionsOutput
		err := c.call(ctx, "list functions", func(ctx context.Context) (err error) {
			res, err = c.g.GetUserDefinedFunctions(ctx, in)
			return err
		})
		if err != nil {
			if errs.KindOf(err) == errs.KindNotFound && db != "" {
				return nil, errs.NotFound("Database %s does not exist", db)
			}
			return nil, err
		}
		for i := range res.UserDefinedFunctions {
			f := funcFromGlue(&res.UserDefinedFunctions[i])
			if f.DbName == "" {
				f.DbName = db
			}
			out = append(out, f)
		}
		if token = res.NextToken; aws.ToString(token) == "" {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DbName != out[j].DbName {
			return out[i].DbName < out[j].DbName
		}
		return out[i].FunctionName < out[j].FunctionName
	})
	return out, nil
}

func (c *Client) AlterFunction(ctx context.Context, db, name string, in *hm.Function) error {
	if err := c.noFunctions(); err != nil {
		return err
	}
	if in == nil {
		return errs.Invalid("function is missing")
	}
	db, name = norm(db), norm(name)
	f := *in
	f.DbName, f.FunctionName = norm(f.DbName), norm(f.FunctionName)
	if f.DbName == "" {
		f.DbName = db
	}
	if f.FunctionName == "" {
		f.FunctionName = name
	}
	if f.DbName != db {
		return errs.Invalid("cannot move function %s.%s to database %s", db, name, f.DbName)
	}
	if !hivename.ValidName(f.FunctionName) {
		return errs.Invalid("invalid function name %q", in.FunctionName)
	}
	err := c.call(ctx, "alter function "+db+"."+name, func(ctx context.Context) error {
		_, err := c.g.UpdateUserDefinedFunction(ctx, &glue.UpdateUserDefinedFunctionInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), FunctionName: aws.String(name), FunctionInput: funcInput(&f)})
		return err
	})
	if errs.KindOf(err) == errs.KindNotFound {
		return errs.NotFound("Function %s.%s does not exist", db, name)
	}
	return err
}

func (c *Client) DropFunction(ctx context.Context, db, name string) error {
	if err := c.noFunctions(); err != nil {
		return err
	}
	db, name = norm(db), norm(name)
	err := c.call(ctx, "drop function "+db+"."+name, func(ctx context.Context) error {
		_, err := c.g.DeleteUserDefinedFunction(ctx, &glue.DeleteUserDefinedFunctionInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), FunctionName: aws.String(name)})
		return err
	})
	if errs.KindOf(err) == errs.KindNotFound {
		return errs.NotFound("Function %s.%s does not exist", db, name)
	}
	return err
}
