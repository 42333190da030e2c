package compattests

import (
	"archive/zip"
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHiveConformance runs Apache Hive's own published metastore test suites (the
// metastore/client/Test* classes and TestHiveMetaStore as TestRemoteHiveMetaStore runs it, from
// Hive's test jars on Maven Central) against a live Propolis: one JVM per suite, a fresh Propolis
// with a fresh data directory and warehouse for every class. Hive's classes run unmodified; only
// Hive's MetaStoreFactoryForTests is replaced (compat-tests/conformance/src) so they reach
// Propolis instead of an in-process Derby metastore.
//
// The gate is a ratchet: testdata/conformance/<suite>.pass lists the tests known to pass, and any
// of them failing fails this test. Newly passing tests are printed; `-update` rewrites the lists
// and docs/conformance.md from the run. A JVM that does not start, or a suite that runs no test,
// fails it too.
//
//	go test ./compat-tests/ -v -run TestHiveConformance                   # both suites
//	PROPOLIS_CONFORMANCE_SUITES=4.0.1 go test ./compat-tests/ -run TestHiveConformance
//	PROPOLIS_CONFORMANCE_CLASSES='TestDatabases|TestFunctions' go test ...  # some classes
//	go test ./compat-tests/ -run TestHiveConformance -update               # refresh lists and report
//
// PROPOLIS_CONFORMANCE_SUITES=none skips it (e.g. for a quicker local `make test`).
func TestHiveConformance(t *testing.T) {
	want := getenv("PROPOLIS_CONFORMANCE_SUITES", "all")
	if want == "none" {
		t.Skip("PROPOLIS_CONFORMANCE_SUITES=none")
	}
	var classRe *regexp.Regexp
	if s := os.Getenv("PROPOLIS_CONFORMANCE_CLASSES"); s != "" {
		classRe = regexp.MustCompile(s)
	}
	excl, err := readExclusions(filepath.Join(repoRoot, "compat-tests", "conformance", "exclusions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	nondet, err := readExclusions(filepath.Join(repoRoot, "compat-tests", "testdata", "conformance", "nondeterministic.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var reports []*suiteReport
	for _, s := range conformanceSuites {
		if want != "all" && !containsWord(want, s.Version) {
			continue
		}
		t.Run("hive-"+s.Version, func(t *testing.T) {
			r := runSuite(t, s, excl, nondet, classRe)
			if r != nil {
				reports = append(reports, r)
			}
		})
	}
	if *updateConformance && classRe == nil && want == "all" && len(reports) == len(conformanceSuites) {
		doc := filepath.Join(repoRoot, "docs", "conformance.md")
		if err := os.MkdirAll(filepath.Dir(doc), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(doc, []byte(conformanceDoc(reports, excl, nondet)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", doc)
	} else if *updateConformance {
		t.Logf("docs/conformance.md not rewritten: it needs a run of every suite and every class")
	}
}

var updateConformance = flag.Bool("update", false, "TestHiveConformance: rewrite testdata/conformance/*.pass and docs/conformance.md from this run")

// conformanceSuite is one Hive release's published metastore tests.
type conformanceSuite struct {
	Version string
	TestJar string // in ${PROPOLIS_CACHE}/conformance/hive-<Version>/lib (compat-tests/conformance/setup.sh)
}

var conformanceSuites = []conformanceSuite{
	{Version: "3.1.3", TestJar: "hive-standalone-metastore-3.1.3-tests.jar"},
	// The newest 4.x whose metastore-server test jar is on Maven Central: 4.1.0 and 4.2.0 publish no
	// hive-standalone-metastore-server artifact.
	{Version: "4.0.1", TestJar: "hive-standalone-metastore-server-4.0.1-tests.jar"},
}

// The class that runs Hive's TestHiveMetaStore the way TestRemoteHiveMetaStore does, against Propolis.
const remoteHMSRunner = "TestHiveMetaStore:org.apache.hadoop.hive.metastore.PropolisRemoteHiveMetaStore"

// Java 17 needs these for Hadoop's and Hive's reflection on JDK internals.
var conformanceJVMFlags = []string{
	"-Xmx1g", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
	"--add-opens=java.base/java.lang=ALL-UNNAMED",
	"--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
	"--add-opens=java.base/java.util=ALL-UNNAMED",
	"--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
	"--add-opens=java.base/java.net=ALL-UNNAMED",
	"--add-opens=java.base/java.nio=ALL-UNNAMED",
	"--add-opens=java.base/java.io=ALL-UNNAMED",
	"--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
}

// testResult is one row of the runner's results file.
type testResult struct {
	Class, Method, Status string
	Millis                int64
	Exception, Message    string
	Where                 string // the line of Hive's test class where it failed
}

func (r testResult) Key() string { return r.Class + "#" + r.Method }

type classReport struct {
	Name                                   string
	Run, Pass, Fail, Error, Skip, Excluded int
	Wall                                   time.Duration
}

type suiteReport struct {
	Version string
	Classes []*classReport
	Total   classReport
	Results []testResult
	Wall    time.Duration
}

func runSuite(t *testing.T, s conformanceSuite, excl, nondet exclusions, classRe *regexp.Regexp) *suiteReport {
	lib := filepath.Join(cacheDir(), "conformance", "hive-"+s.Version, "lib")
	testJar := filepath.Join(lib, s.TestJar)
	if _, err := os.Stat(testJar); err != nil {
		missing(t, "Hive "+s.Version+" metastore test suite", "no "+testJar)
	}
	jh := java17Home(t)
	tmp := t.TempDir()

	// Our runner and factory, compiled against this suite's Hive (a few seconds; never stale).
	var srcs []string
	_ = filepath.WalkDir(filepath.Join(repoRoot, "compat-tests", "conformance", "src"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".java") {
			srcs = append(srcs, p)
		}
		return nil
	})
	classes := filepath.Join(tmp, "classes")
	cp := filepath.Join(lib, "*")
	if out, err := exec.Command(filepath.Join(jh, "bin", "javac"), append([]string{"-nowarn", "-encoding", "UTF-8", "-d", classes, "-cp", cp}, srcs...)...).CombinedOutput(); err != nil {
		t.Fatalf("javac the conformance runner against Hive %s: %v\n%s", s.Version, err, out)
	}

	// The client side's configuration, on the class path: the warehouse Propolis is started with
	// (Hive's tests check directories under it), client timeouts so a hung call fails its test
	// instead of the suite, and (rewritten for every class) the URI of that class's Propolis.
	wh := filepath.Join(tmp, "wh")
	confDir := filepath.Join(tmp, "conf")
	hiveLog := filepath.Join(tmp, "hive.log")
	if err := writeConformanceConf(confDir, wh, hiveLog, ""); err != nil {
		t.Fatal(err)
	}

	names, err := testClasses(testJar)
	if err != nil {
		t.Fatalf("list the test classes in %s: %v", testJar, err)
	}
	names = append(names, remoteHMSRunner)
	var run []string
	for _, n := range names {
		if classRe == nil || classRe.MatchString(displayName(n)) {
			run = append(run, n)
		}
	}
	if len(run) == 0 {
		t.Fatalf("no test class matches PROPOLIS_CONFORMANCE_CLASSES=%s", classRe)
	}
	exclFile := filepath.Join(tmp, "excluded.txt")
	if err := os.WriteFile(exclFile, []byte(strings.Join(excl.For(s.Version), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(tmp, "results.tsv")

	timeout, err := time.ParseDuration(getenv("PROPOLIS_CONFORMANCE_TIMEOUT", "30m"))
	if err != nil {
		t.Fatalf("PROPOLIS_CONFORMANCE_TIMEOUT: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append(append([]string{}, conformanceJVMFlags...),
		"-Dlog4j2.configurationFile="+filepath.Join(confDir, "log4j2.properties"),
		"-Djava.io.tmpdir="+tmp,
		"-cp", strings.Join([]string{confDir, classes, cp}, string(os.PathListSeparator)),
		"io.propolis.conformance.ConformanceRunner", results, exclFile)
	args = append(args, run...)
	cmd := exec.CommandContext(ctx, filepath.Join(jh, "bin", "java"), args...)
	cmd.Dir = tmp
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	jvmErr := filepath.Join(tmp, "jvm.stderr")
	errf, err := os.Create(jvmErr)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	cmd.Stderr = errf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the JVM: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	t.Logf("Hive %s: %d test classes in one JVM (Java %s), a fresh Propolis for each", s.Version, len(run), jh)

	walls := map[string]time.Duration{}
	var cur *Propolis
	var curStart time.Time
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "@@conformance need "):
			cls := strings.TrimPrefix(line, "@@conformance need ")
			curStart = time.Now()
			_ = os.RemoveAll(wh)
			if err := os.MkdirAll(filepath.Join(wh, "warehouse"), 0o755); err != nil {
				t.Fatal(err)
			}
			cur = startPropolis(t, "--warehouse", "file://"+filepath.Join(wh, "warehouse"), "--log-level", "warn")
			// Also in metastore-site.xml, as an operator would set it: some tests build a fresh
			// Configuration and a client of their own from it.
			if err := writeConformanceConf(confDir, wh, hiveLog, cur.URI()); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(stdin, cur.URI())
			_ = cls
		case strings.HasPrefix(line, "@@conformance done "):
			cls := strings.TrimPrefix(line, "@@conformance done ")
			if cur != nil {
				cur.stop()
				_ = os.RemoveAll(cur.DataDir)
				cur = nil
			}
			walls[shortName(cls)] = time.Since(curStart)
			fmt.Fprintln(stdin, "ok")
		default:
			t.Logf("jvm: %s", line)
		}
	}
	waitErr := cmd.Wait()
	wall := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("Hive %s suite still running after PROPOLIS_CONFORMANCE_TIMEOUT=%s: killed\n%s", s.Version, timeout, fileTail(jvmErr, 30))
	}
	if waitErr != nil {
		t.Fatalf("the JVM running the Hive %s suite failed: %v\n---- its stderr (last 40 lines, full: %s) ----\n%s", s.Version, waitErr, jvmErr, fileTail(jvmErr, 40))
	}
	res, err := readResults(results)
	if err != nil {
		t.Fatal(err)
	}
	rep := summarize(s.Version, res, walls, wall)
	if rep.Total.Run == 0 {
		t.Fatalf("Hive %s suite ran no test\n%s", s.Version, fileTail(jvmErr, 40))
	}
	t.Logf("Hive %s metastore test suite against Propolis, %s:\n%s", s.Version, wall.Round(time.Second), rep.Table())
	if f := rep.Failures(); f != "" {
		t.Logf("Hive %s: failing tests (exception: first line of the message):\n%s", s.Version, f)
	}
	for _, r := range res {
		if r.Method == "(class)" && r.Status == "error" {
			t.Logf("NOTE: Hive %s: class %s did not run: %s: %s", s.Version, r.Class, r.Exception, r.Message)
		}
	}
	if classRe == nil {
		excludedRan := map[string]bool{}
		for _, r := range res {
			if r.Status == "excluded" {
				excludedRan[r.Key()] = true
				excludedRan[r.Class] = true
			}
		}
		for _, e := range excl {
			if excl.applies(e, s.Version) && !excludedRan[e.Test] {
				t.Errorf("compat-tests/conformance/exclusions.txt: %s names no test of the Hive %s suite (stale or misspelt)", e.Test, s.Version)
			}
		}
	}
	if *updateConformance && classRe == nil {
		if err := writePassList(s.Version, res, nondet); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	checkRatchet(t, s.Version, res, nondet)
	return rep
}

// checkRatchet fails on every test of the pass list that did not pass in this run (classes that
// were not run are not checked) and prints the tests that pass now but are not on the list.
func checkRatchet(t *testing.T, version string, res []testResult, nondet exclusions) {
	t.Helper()
	path := passListPath(version)
	known, err := readLines(path)
	if err != nil {
		t.Fatalf("read the pass list: %v (create it with -update)", err)
	}
	got := map[string]testResult{}
	ranClass := map[string]bool{}
	for _, r := range res {
		got[r.Key()] = r
		ranClass[r.Class] = true
	}
	knownSet := map[string]bool{}
	var regressions []string
	for _, k := range known {
		knownSet[k] = true
		cls, _, _ := strings.Cut(k, "#")
		if !ranClass[cls] {
			continue
		}
		r, ok := got[k]
		switch {
		case !ok:
			regressions = append(regressions, fmt.Sprintf("  %s: did not run", k))
		case r.Status != "pass":
			regressions = append(regressions, fmt.Sprintf("  %s: %s: %s: %s", k, r.Status, r.Exception, r.Message))
		}
	}
	var fresh []string
	for _, r := range res {
		if r.Status == "pass" && !knownSet[r.Key()] && !nondet.Has(version, r.Key()) {
			fresh = append(fresh, "  "+r.Key())
		}
	}
	sort.Strings(fresh)
	if len(fresh) > 0 {
		t.Logf("Hive %s: %d test(s) pass that %s does not list yet (run with -update to add them):\n%s", version, len(fresh), relPath(path), strings.Join(fresh, "\n"))
	}
	if len(regressions) > 0 {
		t.Errorf("Hive %s: %d test(s) listed in %s as passing no longer pass (a regression):\n%s", version, len(regressions), relPath(path), strings.Join(regressions, "\n"))
	}
}

func writePassList(version string, res []testResult, nondet exclusions) error {
	var pass []string
	for _, r := range res {
		if r.Status == "pass" && !nondet.Has(version, r.Key()) {
			pass = append(pass, r.Key())
		}
	}
	sort.Strings(pass)
	path := passListPath(version)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	head := fmt.Sprintf("# Tests of Apache Hive %s's metastore suite known to pass against Propolis (TestHiveConformance's\n# ratchet: any of them failing fails the test). Generated by `go test ./compat-tests/ -run TestHiveConformance -update`.\n", version)
	return os.WriteFile(path, []byte(head+strings.Join(pass, "\n")+"\n"), 0o644)
}

func passListPath(version string) string {
	return filepath.Join(repoRoot, "compat-tests", "testdata", "conformance", "hive-"+version+".pass")
}

func relPath(p string) string {
	if r, err := filepath.Rel(repoRoot, p); err == nil {
		return r
	}
	return p
}

// ---------------------------------------------------------------- exclusions

// exclusions is a list of "SUITES TEST REASON" lines: SUITES is * or comma-separated versions,
// TEST is Class#method or Class.
type exclusions []exclusion

type exclusion struct {
	Suites []string
	Test   string
	Reason string
}

func readExclusions(path string) (exclusions, error) {
	lines, err := readLines(path)
	if err != nil {
		return nil, err
	}
	var ex exclusions
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 {
			return nil, fmt.Errorf("%s:%d: want SUITES TEST REASON, got %q", path, i+1, l)
		}
		ex = append(ex, exclusion{Suites: strings.Split(f[0], ","), Test: f[1], Reason: strings.Join(f[2:], " ")})
	}
	return ex, nil
}

func (ex exclusions) applies(e exclusion, version string) bool {
	for _, s := range e.Suites {
		if s == "*" || s == version {
			return true
		}
	}
	return false
}

// For lists the tests excluded from a suite, as the runner reads them.
func (ex exclusions) For(version string) []string {
	var out []string
	for _, e := range ex {
		if ex.applies(e, version) {
			out = append(out, e.Test)
		}
	}
	return out
}

// Has reports whether key (Class#method) is listed for the suite, by itself or by its class.
func (ex exclusions) Has(version, key string) bool {
	cls, _, _ := strings.Cut(key, "#")
	for _, e := range ex {
		if ex.applies(e, version) && (e.Test == key || e.Test == cls) {
			return true
		}
	}
	return false
}

// readLines returns the non-empty lines of a file that are not # comments.
func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, nil
}

// ---------------------------------------------------------------- classes, conf, results

// testClasses lists Hive's metastore/client/Test* classes in a test jar ("MetaStoreClientTest" and
// the other helpers do not start with Test).
func testClasses(jar string) ([]string, error) {
	z, err := zip.OpenReader(jar)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	const dir = "org/apache/hadoop/hive/metastore/client/"
	var out []string
	for _, f := range z.File {
		name, ok := strings.CutPrefix(f.Name, dir)
		if !ok || strings.Contains(name, "/") || strings.Contains(name, "$") || !strings.HasPrefix(name, "Test") || !strings.HasSuffix(name, ".class") {
			continue
		}
		out = append(out, strings.ReplaceAll(strings.TrimSuffix(f.Name, ".class"), "/", "."))
	}
	sort.Strings(out)
	return out, nil
}

func displayName(arg string) string {
	if n, _, ok := strings.Cut(arg, ":"); ok {
		return n
	}
	return arg[strings.LastIndex(arg, ".")+1:]
}

func shortName(protoArg string) string { return displayName(protoArg) }

func writeConformanceConf(dir, wh, hiveLog, uri string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	site := fmt.Sprintf(`<?xml version="1.0"?>
<!-- written by compat-tests/conformance_test.go: the client side of Hive's metastore tests -->
<configuration>
  <property><name>metastore.warehouse.dir</name><value>file://%[1]s/warehouse</value></property>
  <property><name>hive.metastore.warehouse.dir</name><value>file://%[1]s/warehouse</value></property>
  <property><name>metastore.warehouse.external.dir</name><value>file://%[1]s/external</value></property>
  <property><name>metastore.client.socket.timeout</name><value>60s</value></property>
  <property><name>hive.metastore.client.socket.timeout</name><value>60s</value></property>
  <property><name>metastore.connect.retries</name><value>3</value></property>
  <property><name>metastore.thrift.uris</name><value>%[2]s</value></property>
  <property><name>hive.metastore.uris</name><value>%[2]s</value></property>
</configuration>
`, wh, uri)
	logc := fmt.Sprintf(`status = WARN
appender.f.type = File
appender.f.name = f
appender.f.fileName = %s
appender.f.layout.type = PatternLayout
appender.f.layout.pattern = %%d %%p [%%t] %%c{2}: %%m%%n
rootLogger.level = WARN
rootLogger.appenderRef.f.ref = f
`, hiveLog)
	if err := os.WriteFile(filepath.Join(dir, "metastore-site.xml"), []byte(site), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "log4j2.properties"), []byte(logc), 0o644)
}

func readResults(path string) ([]testResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the runner wrote no results: %v", err)
	}
	defer f.Close()
	var out []testResult
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 7 {
			return nil, fmt.Errorf("%s: malformed line %q", path, sc.Text())
		}
		ms, _ := strconv.ParseInt(c[3], 10, 64)
		out = append(out, testResult{Class: c[0], Method: c[1], Status: c[2], Millis: ms, Exception: c[4], Message: c[5], Where: c[6]})
	}
	return out, sc.Err()
}

func summarize(version string, res []testResult, walls map[string]time.Duration, wall time.Duration) *suiteReport {
	rep := &suiteReport{Version: version, Results: res, Wall: wall}
	byName := map[string]*classReport{}
	for _, r := range res {
		c := byName[r.Class]
		if c == nil {
			c = &classReport{Name: r.Class, Wall: walls[r.Class]}
			byName[r.Class] = c
			rep.Classes = append(rep.Classes, c)
		}
		for _, x := range []*classReport{c, &rep.Total} {
			switch r.Status {
			case "pass":
				x.Pass++
			case "fail":
				x.Fail++
			case "error":
				x.Error++
			case "skip":
				x.Skip++
			case "excluded":
				x.Excluded++
			}
			if r.Status != "excluded" {
				x.Run++
			}
		}
	}
	sort.Slice(rep.Classes, func(i, j int) bool { return rep.Classes[i].Name < rep.Classes[j].Name })
	rep.Total.Name = "total"
	rep.Total.Wall = wall
	return rep
}

// Table is the per-class report as a Markdown table.
func (r *suiteReport) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| class | run | pass | fail | error | skip | excluded | wall |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	row := func(c *classReport, bold bool) {
		n := c.Name
		if bold {
			n = "**" + n + "**"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %.1f s |\n", n, c.Run, c.Pass, c.Fail, c.Error, c.Skip, c.Excluded, c.Wall.Seconds())
	}
	for _, c := range r.Classes {
		row(c, false)
	}
	row(&r.Total, true)
	return b.String()
}

// Failures lists every failing test with its exception and the first line of its message.
func (r *suiteReport) Failures() string {
	var lines []string
	for _, x := range r.Results {
		if x.Status == "fail" || x.Status == "error" {
			where := ""
			if x.Where != "" {
				where = " (" + x.Where + ")"
			}
			lines = append(lines, fmt.Sprintf("- `%s` %s%s: %s: %s\n", x.Key(), x.Status, where, shortException(x.Exception), x.Message))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}

func shortException(e string) string { return e[strings.LastIndex(e, ".")+1:] }

// causes groups the failures by exception and message (with names and numbers blanked), most
// frequent first.
func (r *suiteReport) causes() []cause {
	norm := regexp.MustCompile(`\d+|'[^']*'|"[^"]*"|\[[^\]]*\]`)
	m := map[string]*cause{}
	for _, x := range r.Results {
		if x.Status != "fail" && x.Status != "error" {
			continue
		}
		k := shortException(x.Exception) + ": " + norm.ReplaceAllString(x.Message, "…")
		if len(k) > 160 {
			k = k[:160] + "…"
		}
		c := m[k]
		if c == nil {
			c = &cause{Key: k}
			m[k] = c
		}
		c.Tests = append(c.Tests, x.Key())
	}
	out := make([]cause, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].Tests) != len(out[j].Tests) {
			return len(out[i].Tests) > len(out[j].Tests)
		}
		return out[i].Key < out[j].Key
	})
	return out
}

type cause struct {
	Key   string
	Tests []string
}

func conformanceDoc(reports []*suiteReport, excl, nondet exclusions) string {
	var b strings.Builder
	b.WriteString(`# Conformance: Apache Hive's metastore test suites against Propolis

Generated by ` + "`go test ./compat-tests/ -run TestHiveConformance -update`" + ` (compat-tests/conformance_test.go);
do not edit by hand. Each suite is Apache Hive's own published test jar from Maven Central, run
unmodified in one JVM (Java 17) against a live Propolis; every class gets a fresh Propolis with a
fresh data directory and warehouse. Only Hive's ` + "`MetaStoreFactoryForTests`" + ` is replaced
(compat-tests/conformance/src), so the classes reach Propolis over Thrift instead of starting an
in-process Derby metastore; ` + "`TestHiveMetaStore`" + ` runs as Hive's ` + "`TestRemoteHiveMetaStore`" + ` runs it.

| suite | test jar | classes |
|---|---|---|
| Hive 3.1.3 | ` + "`org.apache.hive:hive-standalone-metastore:3.1.3:tests`" + ` | ` + "`metastore.client.Test*`" + `, ` + "`TestHiveMetaStore`" + ` |
| Hive 4.0.1 | ` + "`org.apache.hive:hive-standalone-metastore-server:4.0.1:tests`" + ` | ` + "`metastore.client.Test*`" + `, ` + "`TestHiveMetaStore`" + ` |

4.0.1 is the newest 4.x whose metastore test jar resolves: Hive 4.1.0 and 4.2.0 publish no
` + "`hive-standalone-metastore-server`" + ` artifact on Maven Central.

The gate (` + "`make test`" + `) is a ratchet: compat-tests/testdata/conformance/hive-<version>.pass lists the
tests known to pass; any of them failing fails TestHiveConformance. "run" counts the tests that ran
(pass + fail + error + skip); "fail" is an assertion that did not hold, "error" any other exception.

## Summary

| suite | run | pass | fail | error | skip | excluded | pass rate | wall |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
`)
	for _, r := range reports {
		t := r.Total
		rate := 0.0
		if t.Run > 0 {
			rate = 100 * float64(t.Pass) / float64(t.Run)
		}
		fmt.Fprintf(&b, "| Hive %s | %d | %d | %d | %d | %d | %d | %.1f%% | %.0f s |\n", r.Version, t.Run, t.Pass, t.Fail, t.Error, t.Skip, t.Excluded, rate, r.Wall.Seconds())
	}
	for _, r := range reports {
		fmt.Fprintf(&b, "\n## Hive %s: per class\n\n%s", r.Version, r.Table())
	}
	b.WriteString("\n## Excluded tests\n\nTests that cannot apply to any remote metastore, excluded by name in compat-tests/conformance/exclusions.txt:\n\n| suites | test | why |\n|---|---|---|\n")
	for _, e := range excl {
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", strings.Join(e.Suites, ", "), e.Test, e.Reason)
	}
	if len(nondet) > 0 {
		b.WriteString("\n## Not in the ratchet (nondeterministic)\n\nThese run and are reported, but are kept off the pass lists (compat-tests/testdata/conformance/nondeterministic.txt):\n\n| suites | test | why |\n|---|---|---|\n")
		for _, e := range nondet {
			fmt.Fprintf(&b, "| %s | `%s` | %s |\n", strings.Join(e.Suites, ", "), e.Test, e.Reason)
		}
	}
	for _, r := range reports {
		fmt.Fprintf(&b, "\n## Hive %s: failures by cause\n\nMost frequent first; names and numbers in the messages are blanked (…) to group them.\n\n| tests | exception: message | examples |\n|---:|---|---|\n", r.Version)
		for _, c := range r.causes() {
			ex := c.Tests
			if len(ex) > 3 {
				ex = ex[:3]
			}
			fmt.Fprintf(&b, "| %d | %s | %s |\n", len(c.Tests), mdEscape(c.Key), "`"+strings.Join(ex, "`, `")+"`")
		}
	}
	for _, r := range reports {
		fmt.Fprintf(&b, "\n## Hive %s: every failing test\n\n%s", r.Version, mdEscapeLines(r.Failures()))
	}
	return b.String()
}

func mdEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ")
}

func mdEscapeLines(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func containsWord(list, w string) bool {
	for _, x := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		if x == w {
			return true
		}
	}
	return false
}
