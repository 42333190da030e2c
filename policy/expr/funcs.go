package expr

import (
	"strconv"
	"strings"

	"github.com/propolis/propolis/internal/errs"
)

// renderFunc renders a call whose arguments are already rendered (args), in one dialect.
type renderFunc func(r *renderer, c *Call, args []string) (string, error)

// Func is one entry of the function registry: its signature and, per dialect, how it renders.
// A nil renderer means the function is not native in that dialect: an expression using it
// takes the worker path there.
type Func struct {
	Name string
	// Sig is the signature as documentation shows it.
	Sig              string
	MinArgs, MaxArgs int // MaxArgs < 0: variadic
	// Check validates the argument types (and literal arguments) and returns the result type.
	Check func(c *Call, args []Type) (Type, error)
	// Native, when set, rejects argument types for which no dialect renders the function with
	// identical results (the worker computes it instead). It returns the reason.
	Native func(args []Type) error
	Hive   renderFunc
	Trino  renderFunc
}

func (f *Func) arity() string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return strconv.Itoa(n) + " arguments"
	}
	switch {
	case f.MaxArgs < 0:
		return "at least " + plural(f.MinArgs)
	case f.MinArgs == f.MaxArgs:
		return plural(f.MinArgs)
	}
	return strconv.Itoa(f.MinArgs) + " to " + plural(f.MaxArgs)
}

func (f *Func) renderer(d Dialect) renderFunc {
	switch d {
	case Hive:
		return f.Hive
	case Trino:
		return f.Trino
	}
	return nil
}

// Functions lists the registry, sorted as declared (for documentation and explain).
func Functions() []*Func { return functions }

var registry = map[string]*Func{}

func init() {
	for _, f := range functions {
		if registry[f.Name] != nil {
			panic("expr: function " + f.Name + " registered twice")
		}
		registry[f.Name] = f
	}
}

// functions is the registry. Every renderer below was chosen so that Spark 3.5 and Trino 476
// return identical values for every input (NULL in gives NULL out); where they cannot, Native
// or Check says so and the call goes to the worker or is refused.
var functions = []*Func{
	{
		Name: "current_user", Sig: "current_user() -> string", MinArgs: 0, MaxArgs: 0,
		Check: func(*Call, []Type) (Type, error) { return TString, nil },
		Hive:  renderUser, Trino: renderUser,
	},
	{
		Name: "is_member", Sig: "is_member('group') -> boolean", MinArgs: 1, MaxArgs: 1,
		Check: func(c *Call, args []Type) (Type, error) {
			if _, ok := stringLit(c.Args[0]); !ok {
				return Type{}, errs.Invalid("the group must be a string literal")
			}
			return TBoolean, nil
		},
		Hive: renderMember, Trino: renderMember,
	},
	{
		Name: "lower", Sig: "lower(string) -> string", MinArgs: 1, MaxArgs: 1,
		Check: stringToString, Hive: native("lower"), Trino: native("lower"),
	},
	{
		Name: "upper", Sig: "upper(string) -> string", MinArgs: 1, MaxArgs: 1,
		Check: stringToString, Hive: native("upper"), Trino: native("upper"),
	},
	{
		// Characters (code points) in both engines; Spark returns int, Trino bigint.
		Name: "length", Sig: "length(string) -> int", MinArgs: 1, MaxArgs: 1,
		Check: func(c *Call, args []Type) (Type, error) {
			if err := want(args, 0, stringish, "a string"); err != nil {
				return Type{}, err
			}
			return TInt, nil
		},
		Hive: native("length"), Trino: native("length"),
	},
	{
		// Positions are 1-based. Spark reads position 0 as 1 and clamps negative positions
		// before the start; Trino returns ''. So a literal position must be >= 1 and a literal
		// length >= 0; a computed position is the policy author's responsibility.
		Name: "substr", Sig: "substr(string, pos int [, len int]) -> string", MinArgs: 2, MaxArgs: 3,
		Check: func(c *Call, args []Type) (Type, error) {
			if err := want(args, 0, stringish, "a string"); err != nil {
				return Type{}, err
			}
			for i := 1; i < len(args); i++ {
				if err := want(args, i, integerish, "an integer"); err != nil {
					return Type{}, err
				}
			}
			if n, ok := intLit(c.Args[1]); ok && n < 1 {
				return Type{}, errs.Invalid("position %d: positions start at 1 (Spark and Trino disagree on 0 and negative positions)", n)
			}
			if len(c.Args) == 3 {
				if n, ok := intLit(c.Args[2]); ok && n < 0 {
					return Type{}, errs.Invalid("length %d must not be negative", n)
				}
			}
			return TString, nil
		},
		Hive: native("substr"), Trino: native("substr"),
	},
	{
		// Both engines: longer strings are truncated to the target length; a literal length
		// must be >= 0 (Spark returns '' below 0, Trino fails) and the pad non-empty.
		Name: "lpad", Sig: "lpad(string, len int, pad string) -> string", MinArgs: 3, MaxArgs: 3,
		Check: padCheck, Hive: native("lpad"), Trino: native("lpad"),
	},
	{
		Name: "rpad", Sig: "rpad(string, len int, pad string) -> string", MinArgs: 3, MaxArgs: 3,
		Check: padCheck, Hive: native("rpad"), Trino: native("rpad"),
	},
	{
		// NULL if any argument is NULL, in both engines.
		Name: "concat", Sig: "concat(string, ...) -> string", MinArgs: 1, MaxArgs: -1,
		Check: func(c *Call, args []Type) (Type, error) {
			for i := range args {
				if err := want(args, i, stringish, "a string"); err != nil {
					return Type{}, err
				}
			}
			return TString, nil
		},
		Hive: native("concat"), Trino: native("concat"),
	},
	{
		Name: "coalesce", Sig: "coalesce(x, ...) -> common type", MinArgs: 1, MaxArgs: -1,
		Check: func(c *Call, args []Type) (Type, error) {
			res := TNull
			for i, a := range args {
				if a.IsComplex() {
					return Type{}, errs.Invalid("argument %d: complex types are not supported", i+1)
				}
				t, ok := common(res, a)
				if !ok {
					return Type{}, errs.Invalid("argument %d: %s does not match %s", i+1, a, res)
				}
				res = t
			}
			return res, nil
		},
		Hive: native("coalesce"), Trino: native("coalesce"),
	},
	{
		// abs of the smallest integer overflows: Spark wraps, Trino fails. So integers are
		// widened first: tinyint/smallint/int to bigint, bigint to decimal(19,0).
		Name: "abs", Sig: "abs(number) -> number", MinArgs: 1, MaxArgs: 1,
		Check: func(c *Call, args []Type) (Type, error) {
			return wider(args[0]), want(args, 0, numberish, "a number")
		},
		Hive: renderAbs, Trino: renderAbs,
	},
	{
		// Half away from zero in both engines for integers and decimals. A decimal(p,s)
		// result is cast to decimal(min(38,p+1),s) in both dialects: Spark narrows the scale
		// and Trino keeps it, so without the cast the two would print differently. Rounding an
		// integer to negative digits can overflow (Spark wraps, Trino fails), so it is done one
		// size up: tinyint/smallint/int in bigint, bigint in decimal(19,0) giving decimal(20,0).
		// Floating point is not native: Spark rounds the shortest decimal representation
		// (round(1.005, 2) = 1.01) and Trino the binary value (1.0).
		Name: "round", Sig: "round(number [, digits int literal]) -> number", MinArgs: 1, MaxArgs: 2,
		Check: func(c *Call, args []Type) (Type, error) {
			if err := want(args, 0, numberish, "a number"); err != nil {
				return Type{}, err
			}
			var n int64
			if len(c.Args) == 2 {
				var ok bool
				if n, ok = intLit(c.Args[1]); !ok {
					return Type{}, errs.Invalid("the number of digits must be an integer literal")
				}
				if n < -38 || n > 38 {
					return Type{}, errs.Invalid("digits %d out of range -38..38", n)
				}
			}
			return roundType(args[0], n), nil
		},
		Native: func(args []Type) error {
			if args[0].Kind == Float || args[0].Kind == Double {
				return errs.Unsupported("rounding %s differs between Spark and Trino", args[0])
			}
			return nil
		},
		Hive: renderRound, Trino: renderRound,
	},
	{
		Name: "year", Sig: "year(date|timestamp) -> int", MinArgs: 1, MaxArgs: 1,
		Check: func(c *Call, args []Type) (Type, error) {
			return TInt, want(args, 0, datetimeish, "a date or timestamp")
		},
		Hive: native("year"), Trino: native("year"),
	},
	{
		// Trino's date_trunc; Hive has no date_trunc, so the Hive dialect uses trunc(), which
		// Hive and Spark share (returning a string in Hive, a date in Spark: hence the CAST).
		Name: "date_trunc", Sig: "date_trunc('year'|'quarter'|'month'|'day', date|timestamp) -> same type", MinArgs: 2, MaxArgs: 2,
		Check: func(c *Call, args []Type) (Type, error) {
			u, ok := stringLit(c.Args[0])
			if !ok || truncUnits[strings.ToLower(u)] == "" {
				return Type{}, errs.Invalid("the unit must be one of 'year', 'quarter', 'month', 'day'")
			}
			if err := want(args, 1, datetimeish, "a date or timestamp"); err != nil {
				return Type{}, err
			}
			if args[1].Kind == Null {
				return TTimestamp, nil
			}
			return args[1], nil
		},
		Hive: renderTruncHive, Trino: renderTruncTrino,
	},
	{
		// Lower-case hex SHA-256 of the UTF-8 text of the value (of the bytes, for binary).
		// Native only where both engines print the value identically: not for float/double
		// (Spark 1.5, Trino 1.5E0), timestamp (Trino prints the column's .000 precision), or
		// decimals with scale > 6 (Spark prints 1E-8); char(n) is refused for every function
		// (see charNative).
		Name: "sha256", Sig: "sha256(x) -> string", MinArgs: 1, MaxArgs: 1,
		Check: func(c *Call, args []Type) (Type, error) {
			if args[0].IsComplex() {
				return Type{}, errs.Invalid("cannot hash %s", args[0])
			}
			return TString, nil
		},
		Native: func(args []Type) error {
			switch t := args[0]; {
			case t.Kind == Float || t.Kind == Double || t.Kind == Timestamp:
				return errs.Unsupported("the text of a %s value differs between Spark and Trino", t)
			case t.Kind == Decimal && t.Scale > 6:
				return errs.Unsupported("Spark prints %s values in scientific notation", t)
			}
			return nil
		},
		Hive: renderSHA256Hive, Trino: renderSHA256Trino,
	},
	// Worker-only functions: keyed, secret or randomised, so never rendered into SQL.
	{
		Name: "tokenize", Sig: "tokenize(x, 'keyid') -> string", MinArgs: 2, MaxArgs: 2,
		Check: keyedCheck,
	},
	{
		Name: "encrypt", Sig: "encrypt(x, 'keyid') -> string", MinArgs: 2, MaxArgs: 2,
		Check: keyedCheck,
	},
	{
		// Without a key id the worker's default key is used.
		Name: "fpe_digits", Sig: "fpe_digits(x, keep_last int literal [, 'keyid']) -> string", MinArgs: 2, MaxArgs: 3,
		Check: func(c *Call, args []Type) (Type, error) {
			if !stringish(args[0]) && !integerish(args[0]) {
				return Type{}, errs.Invalid("argument 1 must be a string or an integer, got %s", args[0])
			}
			if n, ok := intLit(c.Args[1]); !ok || n < 0 {
				return Type{}, errs.Invalid("argument 2 must be a non-negative integer literal")
			}
			if len(c.Args) == 3 {
				if s, ok := stringLit(c.Args[2]); !ok || s == "" {
					return Type{}, errs.Invalid("argument 3 must be a key id string literal")
				}
			}
			return TString, nil
		},
	},
	{
		Name: "dp_noise", Sig: "dp_noise(number, epsilon literal) -> double", MinArgs: 2, MaxArgs: 2,
		Check: func(c *Call, args []Type) (Type, error) {
			if err := want(args, 0, numberish, "a number"); err != nil {
				return Type{}, err
			}
			l, ok := c.Args[1].(*Literal)
			if !ok || (l.Kind != LitInt && l.Kind != LitDecimal) || strings.HasPrefix(l.Text, "-") || strings.Trim(l.Text, "0.") == "" {
				return Type{}, errs.Invalid("epsilon must be a positive number literal")
			}
			return TDouble, nil
		},
	},
}

var truncUnits = map[string]string{"year": "YEAR", "quarter": "QUARTER", "month": "MM", "day": "DAY"}

func want(args []Type, i int, ok func(Type) bool, what string) error {
	if !ok(args[i]) {
		return errs.Invalid("argument %d must be %s, got %s", i+1, what, args[i])
	}
	return nil
}

func integerish(t Type) bool  { return t.IsInteger() || t.Kind == Null }
func datetimeish(t Type) bool { return t.IsDatetime() || t.Kind == Null }

func stringToString(c *Call, args []Type) (Type, error) {
	return TString, want(args, 0, stringish, "a string")
}

func padCheck(c *Call, args []Type) (Type, error) {
	if err := want(args, 0, stringish, "a string"); err != nil {
		return Type{}, err
	}
	if err := want(args, 1, integerish, "an integer"); err != nil {
		return Type{}, err
	}
	if err := want(args, 2, stringish, "a string"); err != nil {
		return Type{}, err
	}
	if n, ok := intLit(c.Args[1]); ok && n < 0 {
		return Type{}, errs.Invalid("length %d must not be negative", n)
	}
	if s, ok := stringLit(c.Args[2]); ok && s == "" {
		return Type{}, errs.Invalid("the pad string must not be empty")
	}
	return TString, nil
}

func keyedCheck(c *Call, args []Type) (Type, error) {
	if args[0].IsComplex() {
		return Type{}, errs.Invalid("argument 1 must be a primitive value, got %s", args[0])
	}
	if s, ok := stringLit(c.Args[1]); !ok || s == "" {
		return Type{}, errs.Invalid("argument 2 must be a key id string literal")
	}
	return TString, nil
}

func roundType(t Type, digits int64) Type {
	switch {
	case t.Kind == Decimal:
		return Type{Kind: Decimal, Precision: min(38, t.Precision+1), Scale: t.Scale}
	case t.IsInteger() && digits < 0:
		w := wider(t)
		if w.Kind == Decimal {
			w.Precision++
		}
		return w
	}
	return t
}

// wider is the type an integer is computed in where the result may not fit its own type.
func wider(t Type) Type {
	switch {
	case t.Kind == BigInt:
		return Type{Kind: Decimal, Precision: 19}
	case t.IsInteger():
		return TBigInt
	}
	return t
}

// widenArg renders an integer argument one size up (see wider).
func widenArg(r *renderer, t Type, s string) string {
	if w := wider(t); t.IsInteger() {
		return "CAST(" + s + " AS " + r.typeName(w) + ")"
	}
	return s
}

func renderAbs(r *renderer, c *Call, args []string) (string, error) {
	return "abs(" + widenArg(r, c.Args[0].Type(), args[0]) + ")", nil
}

func native(name string) renderFunc {
	return func(r *renderer, c *Call, args []string) (string, error) {
		return name + "(" + strings.Join(args, ", ") + ")", nil
	}
}

func renderUser(r *renderer, c *Call, args []string) (string, error) {
	if r.env.User == "" {
		return "", errs.Invalid("current_user(): no caller to render for")
	}
	return r.stringLiteral(r.env.User), nil
}

func renderMember(r *renderer, c *Call, args []string) (string, error) {
	g, _ := stringLit(c.Args[0])
	for _, m := range r.env.Groups {
		if m == g {
			return "TRUE", nil
		}
	}
	return "FALSE", nil
}

func renderRound(r *renderer, c *Call, args []string) (string, error) {
	if n, _ := intLit(c.Args[len(c.Args)-1]); len(c.Args) == 2 && n < 0 {
		args = []string{widenArg(r, c.Args[0].Type(), args[0]), args[1]}
	}
	s := "round(" + strings.Join(args, ", ") + ")"
	if t := c.Type(); t.Kind == Decimal {
		return "CAST(" + s + " AS " + r.typeName(t) + ")", nil
	}
	return s, nil
}

func renderTruncHive(r *renderer, c *Call, args []string) (string, error) {
	u, _ := stringLit(c.Args[0])
	unit := truncUnits[strings.ToLower(u)]
	t := c.Type()
	if unit == "DAY" {
		if c.Args[1].Type().Kind == Date {
			return args[1], nil
		}
		return "CAST(CAST(" + args[1] + " AS DATE) AS " + r.typeName(t) + ")", nil
	}
	return "CAST(trunc(" + args[1] + ", '" + unit + "') AS " + r.typeName(t) + ")", nil
}

func renderTruncTrino(r *renderer, c *Call, args []string) (string, error) {
	u, _ := stringLit(c.Args[0])
	return "date_trunc('" + strings.ToLower(u) + "', " + args[1] + ")", nil
}

func renderSHA256Hive(r *renderer, c *Call, args []string) (string, error) {
	x, t := args[0], c.Args[0].Type()
	if t.Kind != String && t.Kind != Varchar && t.Kind != Binary {
		x = "CAST(" + x + " AS STRING)"
	}
	return "sha2(" + x + ", 256)", nil
}

func renderSHA256Trino(r *renderer, c *Call, args []string) (string, error) {
	x, t := args[0], c.Args[0].Type()
	if t.Kind == Binary {
		return "lower(to_hex(sha256(" + x + ")))", nil
	}
	if t.Kind != String && t.Kind != Varchar {
		x = "CAST(" + x + " AS varchar)"
	}
	return "lower(to_hex(sha256(to_utf8(" + x + "))))", nil
}
