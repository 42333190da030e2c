package glue

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/compat-tests/moto/mototest"
	"github.com/propolis/propolis/internal/errs"
)

// lossyProxy forwards every request to moto, but for the first request whose X-Amz-Target is
// target it drops the connection after moto has answered: the call was applied and its
// response lost, which is what a connection closed under load looks like to the SDK.
func lossyProxy(t *testing.T, moto, target string) (url string, dropped *atomic.Int32) {
	t.Helper()
	dropped = &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, moto+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if r.Header.Get("X-Amz-Target") == target && dropped.CompareAndSwap(0, 1) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, dropped
}

// A BatchCreatePartition the SDK retries after its first attempt was applied must not fail
// with "already exists" for the partitions that attempt created; a partition that was there
// before (another location: another writer's) still fails the call, retried or not.
func TestAddPartitionsRetriedAfterLostResponse(t *testing.T) {
	moto := mototest.Start(t)
	seed := clientOn(t, moto)
	db := seed.db("retry")
	must(t, "create table", seed.c.CreateTable(seed.ctx, simpleTable(db, "events", key("ds", "string"))))

	for _, tc := range []struct {
		name     string
		values   []string
		existing bool // created before the call, at another location
		want     errs.Kind
	}{
		{name: "created by the lost attempt", values: []string{"2024-05-01"}, want: errs.KindUnknown},
		{name: "existed before the call", values: []string{"2024-05-02"}, existing: true, want: errs.KindExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.existing {
				if _, err := seed.c.AddPartitions(seed.ctx, db, "events", []*hm.Partition{{Values: tc.values, Sd: &hm.StorageDescriptor{Location: "s3://elsewhere/" + tc.values[0]}}}, false); err != nil {
					t.Fatal(err)
				}
			}
			proxy, dropped := lossyProxy(t, moto, "AWSGlue.BatchCreatePartition")
			e := clientOn(t, proxy)
			got, err := e.c.AddPartitions(e.ctx, db, "events", []*hm.Partition{{Values: tc.values}}, false)
			if dropped.Load() != 1 {
				t.Fatalf("the proxy dropped %d responses, want 1", dropped.Load())
			}
			if tc.want == errs.KindUnknown {
				must(t, "add after a lost response", err)
				if len(got) != 1 || got[0].Values[0] != tc.values[0] {
					t.Fatalf("added %v", got)
				}
			} else {
				wantKind(t, "add of an existing partition", err, tc.want)
			}
			p, err := seed.c.GetPartition(seed.ctx, db, "events", tc.values)
			must(t, "get", err)
			if p.Values[0] != tc.values[0] {
				t.Fatalf("partition %v", p.Values)
			}
		})
	}
}

// A create of a table or database the SDK retries after its first attempt was applied
// succeeds; one that existed before (another location) still fails as existing.
func TestCreateRetriedAfterLostResponse(t *testing.T) {
	moto := mototest.Start(t)
	seed := clientOn(t, moto)
	db := seed.db("retry_create")
	for _, tc := range []struct {
		name, target string
		create       func(e *env, name, loc string) error
		want         errs.Kind
		preexisting  bool
	}{
		{name: "table", target: "AWSGlue.CreateTable", create: func(e *env, name, loc string) error {
			tb := simpleTable(db, name)
			tb.Sd.Location = loc
			return e.c.CreateTable(e.ctx, tb)
		}},
		{name: "table existing", target: "AWSGlue.CreateTable", preexisting: true, want: errs.KindExists, create: func(e *env, name, loc string) error {
			tb := simpleTable(db, name)
			tb.Sd.Location = loc
			return e.c.CreateTable(e.ctx, tb)
		}},
		{name: "database", target: "AWSGlue.CreateDatabase", create: func(e *env, name, loc string) error {
			return e.c.CreateDatabase(e.ctx, &hm.Database{Name: name, LocationUri: loc})
		}},
		{name: "database existing", target: "AWSGlue.CreateDatabase", preexisting: true, want: errs.KindExists, create: func(e *env, name, loc string) error {
			return e.c.CreateDatabase(e.ctx, &hm.Database{Name: name, LocationUri: loc})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := uniq("made")
			if tc.preexisting {
				must(t, "create before", tc.create(seed, name, "s3://elsewhere/"+name))
			}
			proxy, dropped := lossyProxy(t, moto, tc.target)
			err := tc.create(clientOn(t, proxy), name, "s3://bucket/"+name)
			if dropped.Load() != 1 {
				t.Fatalf("the proxy dropped %d responses, want 1", dropped.Load())
			}
			if tc.want == errs.KindUnknown {
				must(t, "create after a lost response", err)
			} else {
				wantKind(t, "create of an existing object", err, tc.want)
			}
		})
	}
}
