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

// Path is where servers answer plan requests (on the admin listener).
const Path = "/-/worker/plan"

// MinFleetKey is the shortest fleet key accepted.
const MinFleetKey = 16

type request struct {
	Token string `json:"token"`
}

type failure struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Handler serves Planner over HTTP to workers that present the fleet key. The plan names the
// real files of protected tables, so only the fleet may ask for it: a token alone is not
// enough.
func Handler(p Planner, fleetKey string) http.Handler {
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
		var req request
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeFailure(w, http.StatusBadRequest, errs.Invalid("malformed plan request: %v", err))
			return
		}
		spec, err := p.Plan(r.Context(), req.Token)
		if err != nil {
			writeFailure(w, statusOf(err), err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(spec)
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
	if len(c.Servers) == 0 {
		return nil, errs.Unavailable("no Propolis server is configured to ask for plans")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	body, _ := json.Marshal(request{Token: token})
	var last error
	for _, s := range c.Servers {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s, "/")+Path, bytes.NewReader(body))
		if err != nil {
			return nil, errs.Invalid("plan server %q: %w", s, err)
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
			return nil, fromKind(f.Kind, f.Message)
		}
		var spec Spec
		if err := json.Unmarshal(data, &spec); err != nil {
			return nil, errs.Unavailable("plan server %s sent a malformed plan: %w", s, err)
		}
		return &spec, nil
	}
	return nil, last
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
