package main

import (
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"start","Package":"a"}`,
		`{"Action":"run","Package":"a","Test":"TestOK"}`,
		`{"Action":"output","Package":"a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"output","Package":"a","Test":"TestOK","Output":"    a_test.go:3: chatter\n"}`,
		`{"Action":"pass","Package":"a","Test":"TestOK","Elapsed":0.1}`,
		`{"Action":"run","Package":"a","Test":"TestDB"}`,
		`{"Action":"output","Package":"a","Test":"TestDB","Output":"=== RUN   TestDB\n"}`,
		`{"Action":"output","Package":"a","Test":"TestDB","Output":"    db_test.go:9: MariaDB not available: set PROPOLIS_TEST_MYSQL_DSN\n"}`,
		`{"Action":"output","Package":"a","Test":"TestDB","Output":"--- SKIP: TestDB (0.00s)\n"}`,
		`{"Action":"skip","Package":"a","Test":"TestDB","Elapsed":0}`,
		`{"Action":"run","Package":"a","Test":"TestBad"}`,
		`{"Action":"output","Package":"a","Test":"TestBad","Output":"    bad_test.go:5: want 1, got 2\n"}`,
		`{"Action":"output","Package":"a","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}`,
		`{"Action":"fail","Package":"a","Test":"TestBad","Elapsed":0}`,
		`{"Action":"output","Package":"a","Output":"FAIL\n"}`,
		`{"Action":"output","Package":"a","Output":"panic: test timed out after 1s\n"}`,
		`{"Action":"fail","Package":"a","Elapsed":1.5}`,
		`# b`,
		`b/x.go:1: syntax error`,
		`{"Action":"pass","Package":"c","Elapsed":2}`,
		`{"Action":"skip","Package":"d"}`,
	}, "\n")
	var out strings.Builder
	s := newSummary(&out)
	s.read(strings.NewReader(in))
	s.finish()
	want := `SKIP  a TestDB: db_test.go:9: MariaDB not available: set PROPOLIS_TEST_MYSQL_DSN
    bad_test.go:5: want 1, got 2
--- FAIL: TestBad (0.00s)
panic: test timed out after 1s
FAIL  a (1.5s)
# b
b/x.go:1: syntax error
ok    c (2.0s)
?     d (no tests)
1 tests skipped, 1 failed
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
