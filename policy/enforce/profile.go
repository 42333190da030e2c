package enforce

import (
	"context"
	"strings"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
)

// Profile is how Propolis treats one kind of engine: the dialect its policy views are written
// in, and whether it is trusted to keep its users to their SQL.
type Profile struct {
	Name string
	// Dialect is "hive" (Hive and Spark; "spark" is accepted) or "trino" ("presto" is accepted).
	Dialect string
	// Trusted engines receive policy views; untrusted ones never receive a protected table.
	Trusted bool
	// TrinoCatalog is the catalog name the Trino engine uses for this metastore, which the
	// definer views name their raw table in; default "hive".
	TrinoCatalog string
}

// DefaultTrinoCatalog is Profile.TrinoCatalog when it is not set.
const DefaultTrinoCatalog = "hive"

// profile is a validated Profile.
type profile struct {
	Profile
	dialect expr.Dialect
}

type profileKey struct{}

// WithProfile returns ctx carrying the engine profile name: the listener (or the engine
// principal) a connection came in through. Sessions derive their context from it.
func WithProfile(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, profileKey{}, name)
}

// ProfileFrom returns the profile name WithProfile put in ctx, or "" when there is none.
func ProfileFrom(ctx context.Context) string {
	name, _ := ctx.Value(profileKey{}).(string)
	return name
}

// buildProfiles validates the configured profiles and returns them by name.
func buildProfiles(ps []Profile, def string) (map[string]*profile, error) {
	out := make(map[string]*profile, len(ps))
	for i, p := range ps {
		if strings.TrimSpace(p.Name) == "" {
			return nil, errs.Invalid("engine profile %d has no name", i+1)
		}
		if _, dup := out[p.Name]; dup {
			return nil, errs.Invalid("engine profile %q is defined twice", p.Name)
		}
		if p.Dialect == "" {
			return nil, errs.Invalid("engine profile %q has no dialect (want hive, spark, trino or presto)", p.Name)
		}
		d, err := expr.ParseDialect(p.Dialect)
		if err != nil {
			return nil, errs.Invalid("engine profile %q: %w", p.Name, err)
		}
		if p.TrinoCatalog == "" {
			p.TrinoCatalog = DefaultTrinoCatalog
		}
		out[p.Name] = &profile{Profile: p, dialect: d}
	}
	if def != "" {
		if _, ok := out[def]; !ok {
			return nil, errs.Invalid("default engine profile %q is not defined", def)
		}
	}
	return out, nil
}
