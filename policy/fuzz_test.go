package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/propolis/propolis/internal/errs"
)

// FuzzParse: any policy file parses or is refused as invalid, never panics; a parsed policy
// answers a decision for anyone without panicking. Seeds: every policy in testdata.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("default: deny\ngrants: [{to: [user:a], privileges: [select], on: \"*.*\"}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz", data)
		if err != nil {
			if errs.KindOf(err) != errs.KindInvalid {
				t.Fatalf("kind %v for %v", errs.KindOf(err), err)
			}
			return
		}
		who := Principal{User: "alice", Groups: []string{"analysts"}}
		p.TableVisible(who, "sales", "customers")
		p.Groups(who)
	})
}
