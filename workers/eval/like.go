package eval

import (
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/propolis/propolis/policy/expr"
)

// likeRegexp translates a LIKE pattern (% any run, _ one character, backslash escaping %, _ and
// itself, as in Spark and in the ESCAPE '\' the Trino renderer adds) into an anchored regexp.
func likeRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '\\':
			if i+1 >= len(rs) {
				return nil, invalidf("LIKE pattern %q ends with the escape character", p)
			}
			i++
			if n := rs[i]; n != '%' && n != '_' && n != '\\' {
				return nil, invalidf("LIKE pattern %q: the escape character may only precede %%, _ or itself", p)
			}
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`\z`)
	return regexp.Compile(b.String())
}

type likeNode struct {
	x, pattern node
	fixed      *regexp.Regexp // the pattern, when it is constant
	not        bool
}

func (c *compiler) like(e *expr.Like) (node, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	n := &likeNode{x: x, not: e.Not}
	if s, ok := stringLit(e.Pattern); ok {
		if n.fixed, err = likeRegexp(s); err != nil {
			return nil, err
		}
		return n, nil
	}
	if n.pattern, err = c.compile(e.Pattern); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *likeNode) typ() expr.Type { return expr.TBoolean }
func (n *likeNode) eval(c *evalCtx) (arrow.Array, error) {
	xa, err := evalAs(c, n.x, expr.TString)
	if err != nil {
		return nil, err
	}
	defer xa.Release()
	x := xa.(*array.String)
	var pat *array.String
	if n.fixed == nil {
		pa, err := evalAs(c, n.pattern, expr.TString)
		if err != nil {
			return nil, err
		}
		defer pa.Release()
		pat = pa.(*array.String)
	}
	out := array.NewBooleanBuilder(c.mem)
	defer out.Release()
	out.Reserve(c.n)
	cache := map[string]*regexp.Regexp{}
	for i := 0; i < c.n; i++ {
		re := n.fixed
		if re == nil {
			if pat.IsNull(i) {
				out.UnsafeAppendBoolToBitmap(false)
				continue
			}
			p := pat.Value(i)
			if re = cache[p]; re == nil {
				if re, err = likeRegexp(p); err != nil {
					return nil, err
				}
				if len(cache) < 1024 {
					cache[strings.Clone(p)] = re
				}
			}
		}
		if x.IsNull(i) {
			out.UnsafeAppendBoolToBitmap(false)
			continue
		}
		out.UnsafeAppend(re.MatchString(x.Value(i)) != n.not)
	}
	return out.NewArray(), nil
}
