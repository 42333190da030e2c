package enforce

import (
	"context"
	"strings"
	"testing"

	"github.com/propolis/propolis/internal/errs"
	wplan "github.com/propolis/propolis/workers/plan"
)

// TestFlightRefusesServicePrincipal: Flight callers are never trusted, so asserting the
// policy's service principal, in any letter case, is refused for tokens and privileges alike,
// as the metastore refuses it on untrusted profiles, instead of reading every table raw.
func TestFlightRefusesServicePrincipal(t *testing.T) {
	f, _ := newWorkerFixture(t)
	ctx := context.Background()
	for _, user := range []string{"propolis", "PROPOLIS", "Propolis"} {
		_, err := f.g.Issue(ctx, wplan.IssueRequest{User: user, DB: "sales", Table: "customers"})
		if errs.KindOf(err) != errs.KindDenied || !strings.Contains(err.Error(), "service principal") {
			t.Errorf("Issue as %s: %v; want refused as the service principal", user, err)
		}
		err = f.g.Authorize(ctx, wplan.AuthorizeRequest{User: user, Privilege: "detokenize", DB: "sales", Table: "customers"})
		if errs.KindOf(err) != errs.KindDenied || !strings.Contains(err.Error(), "service principal") {
			t.Errorf("Authorize as %s: %v; want refused as the service principal", user, err)
		}
	}
}
