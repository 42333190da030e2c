package plan

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/propolis/propolis/internal/errs"
)

// Planner is the server side: the plan behind a worker token.
type Planner interface {
	Plan(ctx context.Context, token string) (*Spec, error)
}

// Issuer is the server side of Arrow Flight's "read this table as this user": the policy
// decides, and a table the user may read gets a token, as get_table would have given.
type Issuer interface {
	Issue(ctx context.Context, req IssueRequest) (string, error)
}

// IssueRequest names the caller (as the worker authenticated it) and the table.
type IssueRequest struct {
	User   string   `json:"user"`
	Groups []string `json:"groups,omitempty"`
	DB     string   `json:"db"`
	Table  string   `json:"table"`
}

// Authorizer is the server side of privileges a worker exercises itself, such as detokenize:
// nil when the policy grants req.Privilege on the table to the user.
type Authorizer interface {
	Authorize(ctx context.Context, req AuthorizeRequest) error
}

// AuthorizeRequest names the caller, the privilege and the table.
type AuthorizeRequest struct {
	User      string   `json:"user"`
	Groups    []string `json:"groups,omitempty"`
	Privilege string   `json:"privilege"`
	DB        string   `json:"db"`
	Table     string   `json:"table"`
}

// Paths where servers answer the fleet (on the admin listener).
const (
	Path          = "/-/worker/plan"
	IssuePath     = "/-/worker/issue"
	AuthorizePath = "/-/worker/authorize"
)

// MinFleetKey is the shortest fleet key accepted.
const MinFleetKey = 16

type request struct {
	Token string `json:"token"`
}

type failure struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Server is what a Propolis server answers workers.
type Server interface {
	Planner
	Issuer
	Authorizer
}

// Handler serves s over HTTP (Path and IssuePath) to workers that present the fleet key. A
// plan names the real files of protected tables, so only the fleet may ask for one: a token
// alone is not enough.
func Handler(s Server, fleetKey string) http.Handler {
	want := []byte("Bearer " + fleetKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeFailure(w, http.StatusMethodNotAllowed, errs.Invalid("plan requests are POSTs"))
			return
		}
		if len(fleetKey) < MinFleetKey || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeFailure(w, http.StatusUnauthorized, errs.Denied("plan requests need the fleet key"))
			return
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		var out any
		switch r.URL.Path {
		case Path:
			var req request
			if err := dec.Decode(&req); err != nil {
				writeFailure(w, http.StatusBadRequest, errs.Invalid("malformed plan request: %v", err))
				return
			}
			spec, err := s.Plan(r.Context(), req.Token)
			if err != nil {
				writeFailure(w, statusOf(err), err)
				return
			}
			out = spec
		case IssuePath:
			var req IssueRequest
			if err := dec.Decode(&req); err != nil {
				writeFailure(w, http.StatusBadRequest, errs.Invalid("malformed issue request: %v", err))
				return
			}
			tok, err := s.Issue(r.Context(), req)
			if err != nil {
				writeFailure(w, statusOf(err), err)
				return
			}
			out = request{Token: tok}
		case AuthorizePath:
			var req AuthorizeRequest
			if err := dec.Decode(&req); err != nil {
				writeFailure(w, http.StatusBadRequest, errs.Invalid("malformed authorize request: %v", err))
				return
			}
			if err := s.Authorize(r.Context(), req); err != nil {
				writeFailure(w, statusOf(err), err)
				return
			}
			out = struct{}{}
		default:
			writeFailure(w, http.StatusNotFound, errs.NotFound("no such fleet endpoint %s", r.URL.Path))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}

func statusOf(err error) int {
	switch errs.KindOf(err) {
	case errs.KindNotFound:
		return http.StatusNotFound
	case errs.KindDenied:
		return http.StatusForbidden
	case errs.KindInvalid:
		return http.StatusBadRequest
	case errs.KindUnavailable:
		return http.StatusServiceUnavailable
	case errs.KindUnsupported:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

func writeFailure(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(failure{Kind: errs.KindOf(err).String(), Message: err.Error()})
}

// Client asks servers for plans, trying each in turn while they are unreachable.
type Client struct {
	Servers  []string // base URLs, e.g. http://127.0.0.1:9084
	FleetKey string
	HTTP     *http.Client
}

// Plan fetches the plan for token. Errors keep the server's kind (a denied token stays
// errs.Denied); an unreachable fleet of servers is errs.Unavailable.
func (c *Client) Plan(ctx context.Context, token string) (*Spec, error) {
	var spec Spec
	if err := c.post(ctx, Path, request{Token: token}, &spec); err != nil {
		return nil, err
	}
	return &spec, nil
}

// Issue asks a server for a token for req's user and table.
func (c *Client) Issue(ctx context.Context, req IssueRequest) (string, error) {
	var out request
	if err := c.post(ctx, IssuePath, req, &out); err != nil {
		return "", err
	}
	return out.Token, nil
}

// Authorize asks a server whether req's user holds req's privilege on the table.
func (c *Client) Authorize(ctx context.Context, req AuthorizeRequest) error {
	var out struct{}
	return c.post(ctx, AuthorizePath, req, &out)
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	if len(c.Servers) == 0 {
		return errs.Unavailable("no Propolis server is configured to ask for plans")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	body, _ := json.Marshal(in)
	var last error
	for _, s := range c.Servers {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s, "/")+path, bytes.NewReader(body))
		if err != nil {
			return errs.Invalid("plan server %q: %w", s, err)
		}
		req.Header.Set("Authorization", "Bearer "+c.FleetKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			last = errs.Unavailable("plan server %s: %w", s, err)
			continue
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			last = errs.Unavailable("plan server %s: %w", s, err)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			var f failure
			if json.Unmarshal(data, &f) != nil || f.Message == "" {
				last = errs.Unavailable("plan server %s answered %s", s, resp.Status)
				continue
			}
			return fromKind(f.Kind, f.Message)
		}
		if err := json.Unmarshal(data, out); err != nil {
			return errs.Unavailable("plan server %s sent a malformed answer: %w", s, err)
		}
		return nil
	}
	return last
}

// fromKind rebuilds an error of the kind the server reported.
func fromKind(kind, msg string) error {
	for _, k := range errs.Kinds {
		if k.String() == kind {
			return &errs.Error{Kind: k, Msg: msg}
		}
	}
	return fmt.Errorf("%s", msg)
}
