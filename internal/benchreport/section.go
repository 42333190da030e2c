package benchreport

import (
	"fmt"
	"os"
	"strings"
)

// Begin is the marker that opens the section the program called name owns.
func Begin(name string) string { return "<!-- " + name + ":begin -->" }

// End is the marker that closes the section the program called name owns.
func End(name string) string { return "<!-- " + name + ":end -->" }

// ReplaceSection returns doc with what is between name's markers replaced by section, or with
// the markers and section appended (after a blank line) when doc has neither marker; the rest
// of doc is left byte for byte. A doc with only one of the markers is an error.
func ReplaceSection(doc, name, section string) (string, error) {
	begin, end := Begin(name), End(name)
	block := begin + "\n" + section + end
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	switch {
	case i >= 0 && j > i:
		return doc[:i] + block + doc[j+len(end):], nil
	case i >= 0 || j >= 0:
		return "", fmt.Errorf("only one of the markers %s and %s is there; fix the file by hand", begin, end)
	}
	if doc != "" && !strings.HasSuffix(doc, "\n") {
		doc += "\n"
	}
	if doc != "" {
		doc += "\n"
	}
	return doc + block + "\n", nil
}

// WriteSection rewrites name's section of the file at path (created when absent) with
// ReplaceSection. It writes beside the file and renames, so a reader never sees half a file.
func WriteSection(path, name, section string) error {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s, err := ReplaceSection(string(b), name, section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp := path + "." + name + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
