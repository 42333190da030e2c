package engines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
)

// Status is the outcome of one probe.
type Status string

const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Result is one line of a doctor report.
type Result struct {
	Status Status `json:"status"`
	// Call is the Thrift method that answered, or the first one tried when none did.
	Call string `json:"call"`
	// Purpose says what the engine uses the call for.
	Purpose string `json:"purpose"`
	// Detail is what happened: the answer's shape, the error.
	Detail string `json:"detail,omitempty"`
	// Fix says what to do about a failure.
	Fix      string        `json:"fix,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// CheckOptions select what Check probes and how it connects.
type CheckOptions struct {
	// Database and Table name the objects probed (default: database "default" and its first
	// table). Calls on an object that does not exist pass when the endpoint answers
	// NoSuchObjectException, as a Hive metastore does.
	Database, Table string
	// User is sent with set_ugi (default "propolis-doctor").
	User string
	// Framed selects the framed transport.
	Framed bool
	// Timeout bounds each call (default 10s).
	Timeout time.Duration
}

// Profile is what one engine calls, in the order it calls them.
type Profile struct {
	Engine      string
	Description string
	Probes      []Probe
}

// Probe is one thing an engine does against the metastore. Calls are the alternatives the
// engine tries in order: a later one is tried only when the endpoint answers UNKNOWN_METHOD to
// the earlier, as the engine's client does.
type Probe struct {
	Purpose string
	Calls   []Call
	// NeedsPartitions skips the probe when no partitioned table is known.
	NeedsPartitions bool
}

// Call is one Thrift method, made with what the scope knows.
type Call struct {
	Method string
	Do     func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error)
}

// Scope is what discovery found to probe: a database, a table, its partition keys and names.
type Scope struct {
	Database, Table, User string
	PartKeys              []*hm.FieldSchema
	PartNames             []string
	Columns               []string
}

// Profiles returns the probes for engine (presto shares Trino's client lineage).
func Profiles(engine string) (Profile, bool) {
	switch engine {
	case "spark":
		return sparkProfile, true
	case "trino", "presto":
		p := trinoProfile
		p.Engine = engine
		return p, true
	case "hive":
		return hiveProfile, true
	case "pyiceberg":
		return pyicebergProfile, true
	}
	return Profile{}, false
}

// DoctorEngines lists the engines Check knows.
var DoctorEngines = []string{"spark", "trino", "presto", "hive", "pyiceberg"}

// Check connects to addr (host:port) and runs engine's probes, one Result per probe, after a
// first "connect" result. It fails only for an unknown engine; an unreachable endpoint is a
// failed connect result.
func Check(ctx context.Context, engine, addr string, opts CheckOptions) ([]Result, error) {
	prof, ok := Profiles(engine)
	if !ok {
		return nil, fmt.Errorf("unknown engine %q: want one of %s", engine, strings.Join(DoctorEngines, ", "))
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.User == "" {
		opts.User = "propolis-doctor"
	}
	d := &doctor{addr: addr, opts: opts}

	start := time.Now()
	c, closeFn, err := d.dial()
	connect := Result{Call: "connect", Purpose: "open a Thrift connection (binary protocol, " + d.transportName() + " transport)",
		Duration: time.Since(start)}
	if err != nil {
		connect.Status, connect.Detail, connect.Fix = Fail, err.Error(), connectFix(addr, err)
		return []Result{connect}, nil
	}
	connect.Status, connect.Detail = Pass, addr
	scope := d.discover(ctx, c)
	closeFn()
	results := []Result{connect}
	for _, p := range prof.Probes {
		results = append(results, d.run(ctx, prof.Engine, p, scope))
	}
	return results, nil
}

type doctor struct {
	addr string
	opts CheckOptions
}

func (d *doctor) transportName() string {
	if d.opts.Framed {
		return "framed"
	}
	return "buffered"
}

// dial opens one connection; every probe gets its own, so a broken stream cannot spill into
// the next probe and set_ugi is per connection as engines do it.
func (d *doctor) dial() (*hm.ThriftHiveMetastoreClient, func(), error) {
	conf := &thrift.TConfiguration{ConnectTimeout: d.opts.Timeout, SocketTimeout: d.opts.Timeout}
	var tr thrift.TTransport = thrift.NewTSocketConf(d.addr, conf)
	if d.opts.Framed {
		tr = thrift.NewTFramedTransportConf(tr, conf)
	} else {
		tr = thrift.NewTBufferedTransport(tr, 8192)
	}
	if err := tr.Open(); err != nil {
		return nil, nil, err
	}
	p := thrift.NewTBinaryProtocolConf(tr, conf)
	return hm.NewThriftHiveMetastoreClient(thrift.NewTStandardClient(p, p)), func() { tr.Close() }, nil
}

// discover finds a table to probe: the one named, else the first table of the database,
// preferring a partitioned one among the first few. Failures leave placeholders: the probes
// report them.
func (d *doctor) discover(ctx context.Context, c *hm.ThriftHiveMetastoreClient) *Scope {
	s := &Scope{Database: d.opts.Database, Table: d.opts.Table, User: d.opts.User}
	if s.Database == "" {
		s.Database = "default"
	}
	cctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	candidates := []string{s.Table}
	if s.Table == "" {
		names, _ := c.GetAllTables(cctx, s.Database)
		if len(names) > 20 {
			names = names[:20]
		}
		candidates = names
	}
	for _, name := range candidates {
		t := fetchTable(cctx, c, s.Database, name)
		if t == nil {
			continue
		}
		if s.Table == "" || len(t.PartitionKeys) > 0 && len(s.PartKeys) == 0 {
			s.Table, s.PartKeys, s.Columns = t.TableName, t.PartitionKeys, nil
			if t.Sd != nil {
				for _, col := range t.Sd.Cols {
					s.Columns = append(s.Columns, col.Name)
				}
			}
		}
		if len(s.PartKeys) > 0 {
			break
		}
	}
	if s.Table == "" {
		s.Table = "propolis_doctor_no_such_table"
	}
	if len(s.PartKeys) > 0 {
		s.PartNames, _ = c.GetPartitionNames(cctx, s.Database, s.Table, 10)
	}
	return s
}

// fetchTable tries get_table_req, then get_table (Hive 4 has only the first, 2.3 only the second).
func fetchTable(ctx context.Context, c *hm.ThriftHiveMetastoreClient, db, name string) *hm.Table {
	if r, err := c.GetTableReq(ctx, &hm.GetTableRequest{DbName: db, TblName: name}); err == nil && r.Table != nil {
		return r.Table
	}
	t, err := c.GetTable(ctx, db, name)
	if err != nil {
		return nil
	}
	return t
}

func (d *doctor) run(ctx context.Context, engine string, p Probe, s *Scope) Result {
	res := Result{Purpose: p.Purpose, Call: p.Calls[0].Method}
	if p.NeedsPartitions && len(s.PartKeys) == 0 {
		res.Status = Skip
		res.Detail = fmt.Sprintf("no partitioned table in %s to probe: pass --table DB.TABLE naming one", s.Database)
		return res
	}
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	var unknown []string
	for _, call := range p.Calls {
		res.Call = call.Method
		detail, err := d.call(ctx, call, s)
		switch {
		case err == nil:
			res.Status, res.Detail = Pass, detail
		case isUnknownMethod(err):
			unknown = append(unknown, call.Method)
			continue
		case isNoSuchObject(err):
			res.Status, res.Detail = Pass, "answered NoSuchObjectException, as Hive does: "+errText(err)
		default:
			res.Status, res.Detail, res.Fix = Fail, errText(err), callFix(engine, call.Method, err)
		}
		if len(unknown) > 0 && res.Status == Pass {
			res.Detail = fmt.Sprintf("%s (after UNKNOWN_METHOD for %s, as %s falls back)", res.Detail, strings.Join(unknown, ", "), engine)
		}
		return res
	}
	res.Call = p.Calls[0].Method
	res.Status = Fail
	res.Detail = "the endpoint answers UNKNOWN_METHOD for " + strings.Join(unknown, " and ")
	res.Fix = fmt.Sprintf("%s cannot %q through this endpoint, and has no other call to fall back to. If the endpoint is an "+
		"older metastore than the engine's client, point the engine at Propolis or at a newer metastore; if it is Propolis, "+
		"this call is not implemented yet: report it", engine, p.Purpose)
	return res
}

func (d *doctor) call(ctx context.Context, call Call, s *Scope) (string, error) {
	c, closeFn, err := d.dial()
	if err != nil {
		return "", err
	}
	defer closeFn()
	cctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	return call.Do(cctx, c, s)
}

func isUnknownMethod(err error) bool {
	var app thrift.TApplicationException
	if errors.As(err, &app) {
		return app.TypeId() == thrift.UNKNOWN_METHOD || app.TypeId() == thrift.WRONG_METHOD_NAME
	}
	return false
}

func isNoSuchObject(err error) bool {
	var nso *hm.NoSuchObjectException
	return errors.As(err, &nso)
}

func isTransport(err error) bool {
	var te thrift.TTransportException
	var ne net.Error
	return errors.As(err, &te) || errors.As(err, &ne) || errors.Is(err, io.EOF)
}

// errText names a Hive exception by its type and message, anything else by its text.
func errText(err error) string {
	var s string
	if m, ok := err.(interface{ GetMessage() string }); ok {
		s = strings.TrimPrefix(fmt.Sprintf("%T", err), "*hive_metastore.") + ": " + m.GetMessage()
	} else {
		s = err.Error()
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

func connectFix(addr string, err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing listens on %s: start Propolis there (propolis serve --listen %s) or correct --endpoint", addr, addr)
	case strings.Contains(err.Error(), "no such host"):
		return "the host name does not resolve: correct --endpoint, or use the address the engine hosts resolve"
	case strings.Contains(err.Error(), "timeout"):
		return "the connection timed out: a firewall or security group drops traffic to " + addr + ", or the host is down"
	}
	return "check that Propolis runs and that " + addr + " is reachable from the engine's hosts"
}

func callFix(engine, method string, err error) string {
	var meta *hm.MetaException
	switch {
	case isTransport(err):
		return "the connection broke during " + method + ": if the endpoint expects the framed transport, pass --framed " +
			"(and set it in the engine); if the reply is large, raise thrift.max_message_bytes; the server's log names the cause"
	case errors.As(err, &meta):
		return "the endpoint answered " + method + " with an error " + engine + " would see as a failed query: " +
			"the Propolis log (or /metrics propolis_thrift_calls_total{method=\"" + method + "\"}) shows why"
	}
	return "the endpoint answered " + method + " with an error " + engine + " does not expect; see the server's log"
}
