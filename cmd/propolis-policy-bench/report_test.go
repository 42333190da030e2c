package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The section goes between the markers (appended when absent); the rest stays byte for byte.
func TestWriteSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	head := "# Benchmarks\n\nsomeone else's text\n"
	os.WriteFile(path, []byte(head), 0o644)
	if err := writeSection(path, "one\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if want := head + "\n" + beginMarker + "\none\n" + endMarker + "\n"; string(b) != want {
		t.Fatalf("appended:\n%q\nwant\n%q", b, want)
	}
	tail := "\n## after\n"
	os.WriteFile(path, append(b, tail...), 0o644)
	if err := writeSection(path, "two\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if want := head + "\n" + beginMarker + "\ntwo\n" + endMarker + "\n" + tail; string(b) != want {
		t.Fatalf("replaced:\n%q\nwant\n%q", b, want)
	}
	os.WriteFile(path, []byte(head+beginMarker+"\n"), 0o644)
	if err := writeSection(path, "x\n"); err == nil {
		t.Fatal("a lone marker was accepted")
	}
}
