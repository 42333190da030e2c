package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/propolis/propolis/internal/errs"
)

// Explain describes the decision for who on t over several lines: the outcome, the principal
// as the policy sees it, and every rule considered with why it applied or not.
func (p *Policy) Explain(who Principal, t TableRef) string {
	var b strings.Builder
	tr := &trace{}
	dec, err := p.decide(who, t, tr)
	object := strings.ToLower(t.DB) + "." + strings.ToLower(t.Table)
	fmt.Fprintf(&b, "table: %s\n", object)
	if p != nil {
		fmt.Fprintf(&b, "policy: %s version %d (default %s, service principal %s)\n", p.name, p.version, map[bool]string{true: "allow", false: "deny"}[p.defaultAllow], p.service)
		fmt.Fprintf(&b, "principal: %s\n", p.resolve(who))
	} else {
		fmt.Fprintf(&b, "principal: user %s\n", who.User)
	}
	if err != nil {
		fmt.Fprintf(&b, "decision: denied (%s): %v\n", errs.KindOf(err), err)
	} else {
		fmt.Fprintf(&b, "decision: %s\n", dec.Outcome)
		fmt.Fprintf(&b, "reason: %s\n", dec.Reason)
		if len(dec.Rules) > 0 {
			fmt.Fprintf(&b, "rules: %s\n", strings.Join(dec.Rules, "; "))
		}
		if len(dec.HiddenColumns) > 0 {
			fmt.Fprintf(&b, "hidden columns: %s\n", strings.Join(dec.HiddenColumns, ", "))
		}
		if len(dec.Masks) > 0 {
			cols := make([]string, 0, len(dec.Masks))
			for c := range dec.Masks {
				cols = append(cols, c)
			}
			sort.Strings(cols)
			b.WriteString("masks:\n")
			for _, c := range cols {
				fmt.Fprintf(&b, "  %s: %s\n", c, dec.Masks[c])
			}
		}
		if dec.RowFilter != "" {
			fmt.Fprintf(&b, "row filter: %s\n", dec.RowFilter)
		}
		if dec.Outcome == Restricted {
			path := "native"
			if dec.NeedsWorker {
				path = "worker"
			}
			fmt.Fprintf(&b, "enforcement: %s\n", path)
		}
	}
	b.WriteString("considered:\n")
	for _, l := range tr.lines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
