package eval

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/policy/expr"
)

// sparkCase is one mask over one column type: the Spark SQL that computes it (as text, CAST
// AS STRING, session time zone UTC), and what Spark 3.5.9 returned (nil for NULL).
type sparkCase struct {
	Mask   string
	Type   string
	Values []string
	Hive   string
	Spark  []*string `json:",omitempty"`
	// SparkError is Spark's refusal (an analysis error): the worker is not compared there.
	SparkError string `json:",omitempty"`
}

var sparkEnv = expr.RenderEnv{User: "alice", Groups: []string{"analysts"}}

// sparkCases lists every mask and function case that renders natively for Spark.
func sparkCases(t *testing.T) []sparkCase {
	var out []sparkCase
	for _, spec := range append(append([]string{}, maskSpecs...), funcCases...) {
		for _, typ := range sampleTypes {
			// char(n) literals are not padded in Spark (columns read from a table are), so a
			// char(n) case built from literals would not be what Spark shows of a table.
			if strings.HasPrefix(typ, "char") {
				continue
			}
			e, err := expr.Mask(spec, "c", typ)
			if err != nil || expr.NeedsWorker(e, expr.Hive) {
				continue
			}
			h, err := expr.Render(e, expr.Hive, sparkEnv)
			if err != nil {
				continue
			}
			ty, _ := expr.ParseType(typ)
			var rows []string
			for i, v := range sampleValues[typ] {
				lit := "NULL"
				if v != "NULL" {
					s := strings.Trim(v, "'")
					if strings.HasPrefix(v, "'") {
						s = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
					}
					lit = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
				}
				rows = append(rows, "SELECT "+strconv.Itoa(i)+" AS i, CAST("+lit+" AS "+strings.ToUpper(ty.String())+") AS c")
			}
			out = append(out, sparkCase{Mask: spec, Type: typ, Values: sampleValues[typ],
				Hive: "SELECT i, CAST(" + h + " AS STRING) AS m FROM (" + strings.Join(rows, " UNION ALL ") + ") t ORDER BY i"})
		}
	}
	return out
}

// TestSparkQueries writes the Spark side of TestMatchesSpark to $PROPOLIS_SPARK_OUT;
// testdata/spark.py runs them and records the results in testdata/spark.json:
//
//	PROPOLIS_SPARK_OUT=/tmp/spark_q.json go test ./workers/eval -run TestSparkQueries
//	~/.cache/propolis/venv/bin/python workers/eval/testdata/spark.py /tmp/spark_q.json workers/eval/testdata/spark.json
func TestSparkQueries(t *testing.T) {
	out := os.Getenv("PROPOLIS_SPARK_OUT")
	if out == "" {
		t.Skip("set PROPOLIS_SPARK_OUT to write the Spark queries (see testdata/spark.py)")
	}
	b, err := json.MarshalIndent(sparkCases(t), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMatchesSpark: for every natively renderable mask and function case, the worker computes
// what real Spark 3.5.9 computed (testdata/spark.json, recorded by testdata/spark.py).
func TestMatchesSpark(t *testing.T) {
	b, err := os.ReadFile("testdata/spark.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []sparkCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 100 {
		t.Fatalf("only %d recorded Spark cases", len(cases))
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	env := testEnv(t)
	env.User, env.Groups = sparkEnv.User, sparkEnv.Groups
	compared, refused := 0, 0
	for _, c := range cases {
		if c.SparkError != "" {
			refused++
			continue
		}
		e, err := expr.Mask(c.Mask, "c", c.Type)
		if err != nil {
			t.Errorf("%s | %s: %v", c.Mask, c.Type, err)
			continue
		}
		got, _, err := evalExpr(t, mem, env, e, c.Type, c.Values)
		if err != nil {
			t.Errorf("%s | %s: %v", c.Mask, c.Type, err)
			continue
		}
		if len(c.Spark) != len(c.Values) {
			t.Errorf("%s | %s: %d Spark results for %d values", c.Mask, c.Type, len(c.Spark), len(c.Values))
			continue
		}
		for i, want := range c.Spark {
			w := "NULL"
			if want != nil {
				w = *want
			}
			if got[i] != w {
				t.Errorf("%s | %s | %s: worker %q, Spark %q", c.Mask, c.Type, c.Values[i], got[i], w)
			}
			compared++
		}
	}
	t.Logf("%d cases (%d refused by Spark), %d values equal to Spark's", len(cases), refused, compared)
}
