package plan

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/propolis/propolis/internal/errs"
)

type planner map[string]*Spec

func (p planner) Authorize(_ context.Context, req AuthorizeRequest) error {
	if req.User == "alice" && req.Privilege == "detokenize" {
		return nil
	}
	return errs.Denied("%s lacks %s on %s.%s", req.User, req.Privilege, req.DB, req.Table)
}

func (p planner) Issue(_ context.Context, req IssueRequest) (string, error) {
	if req.User == "alice" {
		return "good", nil
	}
	return "", errs.NotFound("table %s.%s not found", req.DB, req.Table)
}

func (p planner) Plan(_ context.Context, tok string) (*Spec, error) {
	if s, ok := p[tok]; ok {
		return s, nil
	}
	return nil, errs.Denied("worker token signature does not match")
}

func TestClientHandler(t *testing.T) {
	key := "fleet-key-0123456789"
	srv := httptest.NewServer(Handler(planner{"good": {User: "alice", DB: "sales", Table: "t"}}, key))
	defer srv.Close()
	dead := httptest.NewServer(nil)
	dead.Close()
	ctx := context.Background()

	c := &Client{Servers: []string{dead.URL, srv.URL}, FleetKey: key}
	spec, err := c.Plan(ctx, "good")
	if err != nil || spec.User != "alice" {
		t.Fatalf("Plan through a dead then a live server = %+v, %v", spec, err)
	}
	if _, err := c.Plan(ctx, "bad"); !errors.Is(err, errs.ErrDenied) {
		t.Fatalf("bad token: %v, want denied", err)
	}
	tok, err := c.Issue(ctx, IssueRequest{User: "alice", DB: "sales", Table: "t"})
	if err != nil || tok != "good" {
		t.Fatalf("Issue = %q, %v", tok, err)
	}
	if _, err := c.Issue(ctx, IssueRequest{User: "oscar", DB: "sales", Table: "t"}); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Issue for a hidden table: %v, want not found", err)
	}
	if err := c.Authorize(ctx, AuthorizeRequest{User: "alice", Privilege: "detokenize", DB: "sales", Table: "t"}); err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	if err := c.Authorize(ctx, AuthorizeRequest{User: "bob", Privilege: "detokenize", DB: "sales", Table: "t"}); !errors.Is(err, errs.ErrDenied) {
		t.Fatalf("Authorize bob: %v, want denied", err)
	}
	wrong := &Client{Servers: []string{srv.URL}, FleetKey: "not-the-fleet-key"}
	if _, err := wrong.Plan(ctx, "good"); !errors.Is(err, errs.ErrDenied) {
		t.Fatalf("wrong fleet key: %v, want denied", err)
	}
	none := &Client{Servers: []string{dead.URL}, FleetKey: key}
	if _, err := none.Plan(ctx, "good"); !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("no live server: %v, want unavailable", err)
	}
}
