package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) < 2 || args[1] != "test" {
		fmt.Fprintln(os.Stderr, "usage: testsummary -- go test [flags] [packages]")
		os.Exit(2)
	}
	cmd := exec.Command(args[0], append([]string{"test", "-json"}, args[2:]...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	s := newSummary(os.Stdout)
	s.read(out)
	err = cmd.Wait()
	s.finish()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.ExitCode())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
}

// event is one line of `go test -json` (test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type summary struct {
	w io.Writer
	// output holds each running test's output (package + "\x00" + test; test "" is the
	// package's own), printed only if it fails, dropped when it passes.
	output  map[string]*strings.Builder
	skipped int
	failed  int
}

func newSummary(w io.Writer) *summary {
	return &summary{w: w, output: map[string]*strings.Builder{}}
}

func (s *summary) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintln(s.w, string(line)) // build output and anything else go test printed
			continue
		}
		s.event(e)
	}
}

func (s *summary) event(e event) {
	key := e.Package + "\x00" + e.Test
	switch e.Action {
	case "output":
		b := s.output[key]
		if b == nil {
			b = &strings.Builder{}
			s.output[key] = b
		}
		if b.Len() < 1<<20 {
			b.WriteString(e.Output)
		}
	case "pass":
		delete(s.output, key)
		if e.Test == "" {
			fmt.Fprintf(s.w, "ok    %s (%.1fs)\n", e.Package, e.Elapsed)
		}
	case "skip":
		if e.Test == "" {
			fmt.Fprintf(s.w, "?     %s (no tests)\n", e.Package)
		} else {
			s.skipped++
			fmt.Fprintf(s.w, "SKIP  %s %s: %s\n", e.Package, e.Test, skipReason(s.output[key]))
		}
		delete(s.output, key)
	case "fail":
		if e.Test != "" {
			s.failed++
		}
		if b := s.output[key]; b != nil {
			fmt.Fprint(s.w, packageNoise(b.String()))
		}
		delete(s.output, key)
		if e.Test == "" {
			fmt.Fprintf(s.w, "FAIL  %s (%.1fs)\n", e.Package, e.Elapsed)
		}
	}
}

// packageNoise drops go test's own FAIL lines from a package's output (the summary prints its
// own); a panic or a timeout outside any test is kept.
func packageNoise(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if t := strings.TrimSpace(l); t == "FAIL" || strings.HasPrefix(t, "FAIL\t") {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

// skipReason is the message a skipped test logged: its output without the RUN/SKIP lines.
func skipReason(b *strings.Builder) string {
	if b == nil {
		return "(no reason given)"
	}
	var parts []string
	for _, l := range strings.Split(b.String(), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}

func (s *summary) finish() {
	fmt.Fprintf(s.w, "%d tests skipped, %d failed\n", s.skipped, s.failed)
}
