package flight

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
)

// FuzzParseDescriptor: whatever a client sends, parsing returns an error or a well-formed
// target, never a panic, a dotted name or a token with spaces.
func FuzzParseDescriptor(f *testing.F) {
	for _, s := range []string{`{"table":"db.t"}`, `{"token":"a.b"}`, "tok.sig", " ", `{"table":"a.b.c"}`, "{", "\x00"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, cmd bool) {
		d := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(s)}
		if !cmd {
			db, table, _ := strings.Cut(s, "/")
			d = &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{db, table}}
		}
		tg, err := parseDescriptor(d)
		if err != nil {
			return
		}
		if (tg.Token == "") == (tg.DB == "" || tg.Table == "") {
			t.Fatalf("%q: malformed target %+v", s, tg)
		}
		if strings.ContainsAny(tg.DB+tg.Table, "./") || strings.ContainsAny(tg.Token, " \n\t") {
			t.Fatalf("%q: unsafe target %+v", s, tg)
		}
	})
}
