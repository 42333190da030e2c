package compattests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Set by TestMain.
var (
	repoRoot     string // the module root (parent of compat-tests/)
	propolisBin  string // the binary built from ./cmd/propolis, "" if it could not be built
	buildErr     error  // why propolisBin is ""
	buildMissing bool   // ./cmd/propolis does not exist (yet)
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat-tests:", err)
		return 2
	}
	repoRoot = filepath.Dir(wd)
	tmp, err := os.MkdirTemp("", "propolis-compat-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat-tests:", err)
		return 2
	}
	defer os.RemoveAll(tmp)
	if bin := os.Getenv("PROPOLIS_BIN"); bin != "" {
		// A prebuilt binary (make test-compat builds it once for every package).
		propolisBin = bin
	} else if _, err := os.Stat(filepath.Join(repoRoot, "cmd", "propolis")); err != nil {
		buildMissing = true
		buildErr = fmt.Errorf("./cmd/propolis does not exist")
	} else {
		out := filepath.Join(tmp, "propolis")
		start := time.Now()
		cmd := exec.Command("go", "build", "-o", out, "./cmd/propolis")
		cmd.Dir = repoRoot
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/propolis: %v\n%s", err, buf.String())
		} else {
			propolisBin = out
			fmt.Fprintf(os.Stderr, "compat-tests: built ./cmd/propolis in %s\n", time.Since(start).Round(time.Millisecond))
		}
	}
	return m.Run()
}

// ---------------------------------------------------------------- components

func inCI() bool { return os.Getenv("CI") == "true" }

// missing fails the test in CI (where .ci/run must have installed everything) and skips it
// elsewhere, naming the component and how to get it.
func missing(t *testing.T, component, why string) {
	t.Helper()
	if inCI() {
		t.Fatalf("%s missing (%s): .ci/run must install it via compat-tests/setup.sh", component, why)
	}
	t.Skipf("%s missing (%s): run make deps", component, why)
}

func cacheDir() string {
	if d := os.Getenv("PROPOLIS_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "propolis")
}

// readCacheFile returns the trimmed content of a marker file setup.sh writes, or def.
func readCacheFile(name, def string) string {
	b, err := os.ReadFile(filepath.Join(cacheDir(), name))
	if err != nil {
		return def
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return s
	}
	return def
}

// venvPython returns the venv's python if it can import all modules, else skips/fails.
func venvPython(t *testing.T, component string, modules ...string) string {
	t.Helper()
	py := filepath.Join(cacheDir(), "venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		missing(t, component, "no venv at "+filepath.Dir(filepath.Dir(py)))
	}
	code := "import " + strings.Join(modules, ", ")
	if out, err := exec.Command(py, "-c", code).CombinedOutput(); err != nil {
		missing(t, component, fmt.Sprintf("%s -c %q: %v: %s", py, code, err, tail(string(out), 5)))
	}
	return py
}

func java17Home(t *testing.T) string {
	t.Helper()
	h := readCacheFile("java17-home", "/usr/lib/jvm/java-17-openjdk-amd64")
	if env := os.Getenv("JAVA17_HOME"); env != "" {
		h = env
	}
	if _, err := os.Stat(filepath.Join(h, "bin", "java")); err != nil {
		missing(t, "Java 17", "no "+filepath.Join(h, "bin", "java"))
	}
	return h
}

// ---------------------------------------------------------------- Propolis

// Propolis is one running server subprocess.
type Propolis struct {
	Thrift   string // host:port
	Admin    string // host:port
	DataDir  string
	Stderr   string // path of the file collecting its stderr
	cmd      *exec.Cmd
	external bool
	done     chan struct{}
	waitErr  error
}

// startPropolis starts a fresh server (own data dir, ports chosen by the kernel) and stops it when
// the test ends. extraArgs go after `serve`.
func startPropolis(t *testing.T, extraArgs ...string) *Propolis {
	t.Helper()
	if ext := os.Getenv("PROPOLIS_COMPAT_METASTORE"); ext != "" {
		// Point the engines at another metastore (e.g. a reference Hive Metastore) to check the
		// harness itself, or to compare. No metrics then.
		t.Logf("PROPOLIS_COMPAT_METASTORE=%s: using that metastore instead of starting Propolis", ext)
		return &Propolis{Thrift: strings.TrimPrefix(ext, "thrift://"), external: true}
	}
	if propolisBin == "" {
		if buildMissing {
			missing(t, "./cmd/propolis", buildErr.Error())
		}
		t.Fatalf("cannot build Propolis: %v", buildErr)
	}
	base := t.TempDir()
	p := &Propolis{DataDir: filepath.Join(base, "data"), Stderr: filepath.Join(base, "propolis.stderr"), done: make(chan struct{})}
	ready := filepath.Join(base, "ready.json")
	args := []string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--data-dir", p.DataDir, "--ready-file", ready}
	if cfg := os.Getenv("PROPOLIS_COMPAT_CONFIG"); cfg != "" {
		args = append(args, "--config", cfg)
	}
	args = append(args, extraArgs...)
	errf, err := os.Create(p.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(propolisBin, args...)
	p.cmd.Stdout, p.cmd.Stderr = errf, errf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", propolisBin, err)
	}
	go func() { p.waitErr = p.cmd.Wait(); errf.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("---- Propolis stderr (last 60 lines, full log %s) ----\n%s", p.Stderr, p.StderrTail(60))
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			var r struct{ Thrift, Admin string }
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatalf("ready file %s is not valid JSON: %v: %q", ready, err, b)
			}
			if r.Thrift == "" || r.Admin == "" {
				t.Fatalf("ready file %s lacks thrift/admin: %q", ready, b)
			}
			p.Thrift, p.Admin = r.Thrift, r.Admin
			break
		}
		select {
		case <-p.done:
			t.Fatalf("Propolis exited before it was ready (%v); args %q; stderr:\n%s", p.waitErr, args, p.StderrTail(40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("Propolis not ready after 60 s (no %s); stderr:\n%s", ready, p.StderrTail(40))
		}
	}
	t.Logf("Propolis: thrift %s, admin %s, data %s", p.Thrift, p.Admin, p.DataDir)
	return p
}

func (p *Propolis) URI() string { return "thrift://" + p.Thrift }

func (p *Propolis) stop() {
	if p.external {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *Propolis) StderrTail(n int) string {
	b, _ := os.ReadFile(p.Stderr)
	return tail(string(b), n)
}

// ---------------------------------------------------------------- metrics

var callLine = regexp.MustCompile(`^propolis_thrift_calls_total\{([^}]*)\}\s+(\S+)`)
var labelRe = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// Calls maps "method" to {ok, error} counts.
type Calls map[string][2]float64

// Metrics scrapes /metrics and returns the propolis_thrift_calls_total counters.
func (p *Propolis) Metrics(t *testing.T) Calls {
	t.Helper()
	if p.external {
		return Calls{}
	}
	resp, err := http.Get("http://" + p.Admin + "/metrics")
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scrape metrics: HTTP %d", resp.StatusCode)
	}
	calls := Calls{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := callLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			continue
		}
		var method, outcome string
		for _, l := range labelRe.FindAllStringSubmatch(m[1], -1) {
			switch l[1] {
			case "method":
				method = l[2]
			case "outcome":
				outcome = l[2]
			}
		}
		c := calls[method]
		if outcome == "ok" {
			c[0] += v
		} else {
			c[1] += v
		}
		calls[method] = c
	}
	return calls
}

// Sub returns after - before.
func (after Calls) Sub(before Calls) Calls {
	d := Calls{}
	for m, a := range after {
		b := before[m]
		if x := [2]float64{a[0] - b[0], a[1] - b[1]}; x[0] != 0 || x[1] != 0 {
			d[m] = x
		}
	}
	return d
}

func (c Calls) OK(method string) float64  { return c[method][0] }
func (c Calls) Err(method string) float64 { return c[method][1] }

func (c Calls) String() string {
	names := make([]string, 0, len(c))
	for m := range c {
		names = append(names, m)
	}
	sort.Strings(names)
	var b strings.Builder
	var tok, terr float64
	fmt.Fprintf(&b, "  %-44s %6s %6s\n", "metastore method", "ok", "error")
	for _, m := range names {
		fmt.Fprintf(&b, "  %-44s %6.0f %6.0f\n", m, c[m][0], c[m][1])
		tok += c[m][0]
		terr += c[m][1]
	}
	fmt.Fprintf(&b, "  %-44s %6.0f %6.0f  (%d methods)", "total", tok, terr, len(names))
	return b.String()
}

// reportCalls logs the calls an engine made and the methods that failed.
func reportCalls(t *testing.T, engine string, d Calls) {
	t.Helper()
	t.Logf("metastore calls made by %s:\n%s", engine, d)
	for m, c := range d {
		if c[1] > 0 {
			t.Logf("NOTE: %s: %.0f call(s) of %s answered with an error (may be expected, e.g. a probe for a missing object)", engine, c[1], m)
		}
	}
}

// ---------------------------------------------------------------- processes

// lineLogger is an io.Writer that logs each complete line through t.Log, with a prefix, and
// keeps everything for later inspection.
type lineLogger struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte
	all    bytes.Buffer
	quiet  bool
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if !l.quiet {
			l.t.Log(l.prefix + string(l.buf[:i]))
		}
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineLogger) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.all.String() }

// runScript runs a command, streaming its output into the test log, and fails the test with
// the output's tail when it exits non-zero or runs past timeout.
func runScript(t *testing.T, timeout time.Duration, env []string, dir, name string, args ...string) string {
	t.Helper()
	out, err := tryScript(t, timeout, env, dir, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tryScript is runScript that returns the failure instead of failing the test.
func tryScript(t *testing.T, timeout time.Duration, env []string, dir, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out := &lineLogger{t: t, prefix: "│ "}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("%s %s: timed out after %s", filepath.Base(name), strings.Join(args, " "), timeout)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %v after %s (its output is above; summary:)\n%s", filepath.Base(name),
			strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond), summary(out.String()))
	}
	t.Logf("%s %s: ok in %s", filepath.Base(name), firstArg(args), time.Since(start).Round(time.Millisecond))
	return out.String(), nil
}

// summary is a script's closing "... FAILED:" block if it printed one, else its last lines.
func summary(out string) string {
	if i := strings.LastIndex(out, " FAILED: "); i >= 0 {
		if j := strings.LastIndex(out[:i], "\n"); j >= 0 {
			return tail(out[j+1:], 60)
		}
	}
	return tail(out, 30)
}

func firstArg(a []string) string {
	if len(a) == 0 {
		return ""
	}
	return strings.Join(a[:min(len(a), 2)], " ")
}

// markerValue finds "KEY=value" on a line of its own in a script's output.
func markerValue(out, key string) string {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			return v
		}
	}
	return ""
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func fileTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	st, _ := f.Stat()
	const max = 256 << 10
	if st != nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return tail(string(b), n)
}

var errNotYet = errors.New("not yet")

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
