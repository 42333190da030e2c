package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/workers/eval"
	"github.com/propolis/propolis/workers/plan"
	"github.com/propolis/propolis/workers/scan"
	"github.com/propolis/propolis/workers/token"
)

// Plans is what a node asks the Propolis servers (plan.Client).
type Plans interface {
	Plan(ctx context.Context, token string) (*plan.Spec, error)
	Issue(ctx context.Context, req plan.IssueRequest) (string, error)
	Authorize(ctx context.Context, req plan.AuthorizeRequest) error
}

// Config is a node's wiring.
type Config struct {
	Plans   Plans
	Signer  *token.Signer // verifies tokens before anything is asked of a server
	Storage scan.Storage
	Keys    eval.Keyring
	// NoiseSecret seeds dp_noise.
	NoiseSecret []byte
	// Budget is each query's memory limit in bytes.
	Budget int64
	// MaxMemory caps what all queries together may hold (0: no cap). Budgets draw from it as
	// they allocate; beyond it a query fails "worker busy" (errs.ErrBusy) and may be retried.
	MaxMemory int64
	// Bucket is the bucket name worker locations use.
	Bucket string
	// Cache holds layouts and encoded row groups across requests (nil: a default one).
	Cache   *scan.Cache
	Metrics *Metrics // nil: none
	Log     *slog.Logger
	Now     func() time.Time
	// MaxQueries bounds the queries kept (default 256); the least recently used goes first.
	MaxQueries int
}

// Node serves queries. It is safe for concurrent use.
type Node struct {
	cfg  Config
	pool *scan.Pool // nil without MaxMemory

	mu      sync.Mutex
	queries map[string]*query
	tick    uint64
}

// New builds a node.
func New(cfg Config) (*Node, error) {
	switch {
	case cfg.Plans == nil:
		return nil, errs.Invalid("worker: no plan source")
	case cfg.Signer == nil:
		return nil, errs.Invalid("worker: no token verifier")
	case cfg.Storage == nil:
		return nil, errs.Invalid("worker: no storage")
	case cfg.Budget <= 0:
		return nil, errs.Invalid("worker: the memory budget must be positive")
	}
	if cfg.Cache == nil {
		cfg.Cache = scan.NewCache(4096, 64<<20)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxQueries <= 0 {
		cfg.MaxQueries = 256
	}
	if cfg.Bucket == "" {
		cfg.Bucket = "propolis"
	}
	n := &Node{cfg: cfg, queries: map[string]*query{}}
	if cfg.MaxMemory > 0 {
		n.pool = scan.NewPool(cfg.MaxMemory)
	}
	return n, nil
}

// Close releases every query.
func (n *Node) Close() error {
	n.mu.Lock()
	qs := n.queries
	n.queries = map[string]*query{}
	n.mu.Unlock()
	for _, q := range qs {
		q.release()
	}
	return nil
}

// query is one token's plan, compiled, and its files.
type query struct {
	tok     string
	claims  token.Claims
	spec    *plan.Spec
	tr      plan.Transform
	budget  *scan.Budget
	key     string // identifies the Transform for the cache: user, table, version
	used    uint64
	listing sync.Once
	objects []*object
	listErr error
}

// object is one virtual file of a query.
type object struct {
	key  string // the S3 key: <token>/<name>
	src  scan.ObjectInfo
	part map[string]string
	mu   sync.Mutex
	file *scan.File
	lay  *scan.Layout
}

func (q *query) release() {
	for _, o := range q.objects {
		o.mu.Lock()
		if o.file != nil {
			o.file.Close()
			o.file = nil
		}
		o.mu.Unlock()
	}
	if c, ok := q.tr.(io.Closer); ok {
		c.Close()
	}
}

// Query returns the query of tok, verifying the token and asking a server for its plan the
// first time. Every failure is counted as a rejected query.
func (n *Node) query(ctx context.Context, tok string) (*query, error) {
	claims, err := n.cfg.Signer.Verify(tok)
	if err != nil {
		n.cfg.Metrics.rejected("token")
		return nil, err
	}
	n.mu.Lock()
	n.tick++
	if q, ok := n.queries[tok]; ok {
		q.used = n.tick
		n.mu.Unlock()
		return q, nil
	}
	n.mu.Unlock()

	spec, err := n.cfg.Plans.Plan(ctx, tok)
	if err != nil {
		n.cfg.Metrics.rejected("plan")
		return nil, err
	}
	if err := claims.CheckTable(spec.DB, spec.Table); err != nil {
		n.cfg.Metrics.rejected("plan")
		return nil, err
	}
	budget := scan.NewBudget(n.cfg.Budget, nil).In(n.pool)
	tr, err := compile(spec, eval.Env{User: spec.User, Groups: spec.Groups, Keys: n.cfg.Keys, Lookups: &lookups{n: n, spec: spec, budget: budget}, NoiseSecret: n.cfg.NoiseSecret})
	if err != nil {
		n.cfg.Metrics.rejected("compile")
		return nil, fmt.Errorf("compiling the policy of %s for %s: %w", claims.Object(), claims.User, err)
	}
	q := &query{tok: tok, claims: claims, spec: spec, tr: tr, budget: budget,
		key: fmt.Sprintf("%s\x00%s.%s\x00%d\x00%s", spec.User, spec.DB, spec.Table, spec.Version, claims.Parts)}
	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.queries[tok]; ok { // another request compiled it meanwhile
		if c, ok := tr.(io.Closer); ok {
			c.Close()
		}
		return old, nil
	}
	q.used = n.tick
	n.queries[tok] = q
	n.evictLocked()
	n.cfg.Metrics.queries(len(n.queries))
	return q, nil
}

// evictLocked drops expired queries and, over MaxQueries, the least recently used.
func (n *Node) evictLocked() {
	now := n.cfg.Now().Unix()
	for tok, q := range n.queries {
		if q.claims.Expires <= now {
			delete(n.queries, tok)
			n.retire(q)
		}
	}
	for len(n.queries) > n.cfg.MaxQueries {
		var oldest *query
		for _, q := range n.queries {
			if oldest == nil || q.used < oldest.used {
				oldest = q
			}
		}
		delete(n.queries, oldest.tok)
		n.retire(oldest)
	}
}

// retireGrace is how long an evicted query's files stay open for the reads still using them.
const retireGrace = time.Minute

func (n *Node) retire(q *query) { time.AfterFunc(retireGrace, q.release) }

// list lists the query's source files, once, naming each virtual file
// <token>/<5-digit index>-<partition>-<source name>.
func (n *Node) list(ctx context.Context, q *query) ([]*object, error) {
	q.listing.Do(func() {
		var objs []*object
		for _, loc := range q.spec.Locations {
			infos, err := n.cfg.Storage.List(ctx, loc.URI)
			if err != nil {
				q.listErr = err
				return
			}
			for _, info := range infos {
				objs = append(objs, &object{src: info, part: loc.Partition, key: loc.Name})
			}
		}
		for i, o := range objs {
			name := strings.TrimSuffix(path.Base(o.src.Location), ".parquet")
			if o.key != "" {
				name = strings.NewReplacer("/", "_", "=", "-").Replace(o.key) + "-" + name
			}
			o.key = fmt.Sprintf("%s/%05d-%s.parquet", q.tok, i, safeName(name))
		}
		sort.Slice(objs, func(i, j int) bool { return objs[i].key < objs[j].key })
		q.objects = objs
	})
	return q.objects, q.listErr
}

// safeName keeps an object name to characters every S3 client passes through unescaped.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() > 200 {
		sum := sha256.Sum256([]byte(s))
		return b.String()[:180] + "-" + hex.EncodeToString(sum[:8])
	}
	return b.String()
}

// open opens o's virtual file (once).
func (n *Node) open(ctx context.Context, q *query, o *object) (*scan.File, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.file != nil {
		return o.file, nil
	}
	f, err := scan.Open(ctx, n.cfg.Storage, o.src.Location, q.tr, q.budget, scan.Config{
		Key: q.key, Cache: n.cfg.Cache, Metrics: n.cfg.Metrics.scan(), Partition: o.part,
	})
	if err != nil {
		return nil, err
	}
	o.file = f
	return f, nil
}

// layout is o's layout (exact size first of all).
func (n *Node) layout(ctx context.Context, q *query, o *object) (*scan.Layout, error) {
	f, err := n.open(ctx, q, o)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	lay := o.lay
	o.mu.Unlock()
	if lay != nil {
		return lay, nil
	}
	lay, err = f.Layout(ctx)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	o.lay = lay
	o.mu.Unlock()
	return lay, nil
}

// layouts computes the layouts of objs in parallel: listing a table needs every file's exact
// size, which takes one pass over its rows.
func (n *Node) layouts(ctx context.Context, q *query, objs []*object) error {
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, o := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := n.layout(ctx, q, o); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// etag is a stable entity tag of a virtual file: every worker computes the same one.
func etag(q *query, o *object, lay *scan.Layout) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%s\x00%d", q.key, o.src.Location, o.src.Size, o.src.ETag, lay.Size)
	h.Write(lay.Footer)
	return hex.EncodeToString(h.Sum(nil)[:16])
}
