package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Diff describes how a policy file changes from old to new, section by section: changed
// settings, groups and roles added, removed or changed by name, and list rules (tags, grants,
// denies, masks, row_filters) added or removed with their index in the file they come from.
// Comments and formatting are not changes. When either side is not a YAML mapping it falls
// back to a line diff. "" when nothing changed.
func Diff(old, new []byte) string {
	a, aok := sections(old)
	b, bok := sections(new)
	if !aok || !bok {
		return lineDiff(splitLines(string(old)), splitLines(string(new)))
	}
	keys := append([]string(nil), topKeys...)
	for _, m := range []map[string]*yaml.Node{a, b} {
		for k := range m {
			if !contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	sort.SliceStable(keys[len(topKeys):], func(i, j int) bool { return keys[len(topKeys)+i] < keys[len(topKeys)+j] })
	var out strings.Builder
	for _, k := range keys {
		out.WriteString(diffSection(k, a[k], b[k]))
	}
	return out.String()
}

func sections(data []byte) (map[string]*yaml.Node, bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, false
	}
	out := map[string]*yaml.Node{}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return out, true
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, false
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if v := deref(root.Content[i+1]); !isNull(v) {
			out[root.Content[i].Value] = v
		}
	}
	return out, true
}

// canon is a one-line, key-sorted rendering of a YAML value.
func canon(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return n.Value
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func diffSection(key string, a, b *yaml.Node) string {
	if canon(a) == canon(b) {
		return ""
	}
	var out strings.Builder
	switch {
	case a == nil:
		fmt.Fprintf(&out, "%s: added\n", key)
	case b == nil:
		fmt.Fprintf(&out, "%s: removed\n", key)
	default:
		fmt.Fprintf(&out, "%s:\n", key)
	}
	kind := yaml.ScalarNode
	for _, n := range []*yaml.Node{a, b} {
		if n != nil {
			kind = n.Kind
		}
	}
	if a != nil && b != nil && a.Kind != b.Kind {
		kind = yaml.ScalarNode
	}
	switch kind {
	case yaml.MappingNode:
		am, bm := mapEntries(a), mapEntries(b)
		names := map[string]bool{}
		for k := range am {
			names[k] = true
		}
		for k := range bm {
			names[k] = true
		}
		for _, k := range sortedKeys(names) {
			switch x, y := am[k], bm[k]; {
			case x == y:
			case x == "":
				fmt.Fprintf(&out, "  + %s: %s\n", k, y)
			case y == "":
				fmt.Fprintf(&out, "  - %s: %s\n", k, x)
			default:
				fmt.Fprintf(&out, "  ~ %s: %s -> %s\n", k, x, y)
			}
		}
	case yaml.SequenceNode:
		as, bs := items(a), items(b)
		n, m := len(as), len(bs)
		lcs := make([][]int32, n+1)
		for i := range lcs {
			lcs[i] = make([]int32, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if as[i] == bs[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		for i, j := 0, 0; i < n || j < m; {
			switch {
			case i < n && j < m && as[i] == bs[j]:
				i++
				j++
			case j < m && (i == n || lcs[i][j+1] > lcs[i+1][j]):
				fmt.Fprintf(&out, "  + %s[%d]: %s\n", key, j, bs[j])
				j++
			default:
				fmt.Fprintf(&out, "  - %s[%d]: %s\n", key, i, as[i])
				i++
			}
		}
	default:
		if a != nil && b != nil {
			fmt.Fprintf(&out, "  %s -> %s\n", canon(a), canon(b))
		} else if a != nil {
			fmt.Fprintf(&out, "  - %s\n", canon(a))
		} else {
			fmt.Fprintf(&out, "  + %s\n", canon(b))
		}
	}
	return out.String()
}

func mapEntries(n *yaml.Node) map[string]string {
	out := map[string]string{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = canon(deref(n.Content[i+1]))
	}
	return out
}

func items(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]string, len(n.Content))
	for i, c := range n.Content {
		out[i] = canon(deref(c))
	}
	return out
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// lineDiff is an LCS line diff ("-" removed, "+" added, unchanged lines omitted).
func lineDiff(a, b []string) string {
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] > lcs[i+1][j]):
			out.WriteString("+ " + b[j] + "\n")
			j++
		default:
			out.WriteString("- " + a[i] + "\n")
			i++
		}
	}
	return out.String()
}
