// Package hmstest starts a real Apache Hive standalone metastore (the one compat-tests/hms/hms.sh
// downloads from Maven Central, with an embedded Derby database) for tests and benchmarks.
//
// Tests call Start, which picks a free port on 127.0.0.1, waits until the metastore answers
// Thrift, and stops it when the test ends. When the metastore is not installed, Start skips the
// test (or fails it when CI=true), naming the command that installs it:
//
//	compat-tests/hms/hms.sh setup
//
// Programs (cmd/propolis-bench) use StartServer/StopServer directly.
package hmstest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Script returns the path of hms.sh: $PROPOLIS_HMS_SH if set, else the copy next to this
// package's source (compat-tests/hms/hms.sh in the checkout).
func Script() (string, error) {
	if s := os.Getenv("PROPOLIS_HMS_SH"); s != "" {
		return s, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("hmstest: cannot locate hms.sh (set PROPOLIS_HMS_SH)")
	}
	s := filepath.Join(filepath.Dir(filepath.Dir(file)), "hms.sh")
	if _, err := os.Stat(s); err != nil {
		return "", fmt.Errorf("hmstest: %s not found (set PROPOLIS_HMS_SH): %w", s, err)
	}
	return s, nil
}

// Installed reports whether `hms.sh setup` has been run; when not, why says what is missing.
func Installed() (ok bool, why string) {
	s, err := Script()
	if err != nil {
		return false, err.Error()
	}
	out, err := exec.Command("bash", s, "classpath").CombinedOutput()
	if err != nil {
		return false, strings.TrimSpace(stripANSI(string(out)))
	}
	return true, ""
}

// Version is the Hive version hms.sh runs (e.g. "4.0.1").
func Version() string {
	s, err := Script()
	if err != nil {
		return "unknown"
	}
	out, err := exec.Command("bash", s, "version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartServer runs `hms.sh start dataDir port`, copying its progress to progress (may be nil).
// It returns once the metastore answers get_all_databases, or with an error carrying the output
// (which includes the metastore log's tail on failure).
func StartServer(dataDir string, port int, progress io.Writer) error {
	s, err := Script()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	cmd := exec.Command("bash", s, "start", dataDir, fmt.Sprint(port))
	if progress != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&buf, progress), io.MultiWriter(&buf, progress)
	} else {
		cmd.Stdout, cmd.Stderr = &buf, &buf
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("hms.sh start %s %d: %v\n%s", dataDir, port, err, stripANSI(buf.String()))
	}
	return nil
}

// StopServer runs `hms.sh stop dataDir`.
func StopServer(dataDir string, progress io.Writer) error {
	s, err := Script()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	cmd := exec.Command("bash", s, "stop", dataDir)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if progress != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&buf, progress), io.MultiWriter(&buf, progress)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("hms.sh stop %s: %v\n%s", dataDir, err, stripANSI(buf.String()))
	}
	return nil
}

// StartAny starts a metastore on a free port, retrying on another port if the one picked was
// taken in the meantime. It returns the address, host:port.
func StartAny(dataDir string, progress io.Writer) (string, error) {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := FreePort()
		if err != nil {
			return "", err
		}
		if err := StartServer(dataDir, port, progress); err != nil {
			last = err
			if strings.Contains(err.Error(), "already in use") {
				continue
			}
			return "", err
		}
		return fmt.Sprintf("127.0.0.1:%d", port), nil
	}
	return "", last
}

// Start starts a real Hive metastore whose state lives in dataDir (typically t.TempDir()) and
// returns its address, host:port. The metastore is stopped when the test ends. Without
// `hms.sh setup`, the test is skipped, or failed when CI=true.
func Start(t testing.TB, dataDir string) (addr string) {
	t.Helper()
	if ok, why := Installed(); !ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real Hive Metastore (Apache Hive %s standalone metastore) not installed: %s; .ci/run must run compat-tests/hms/hms.sh setup", Version(), why)
		}
		t.Skip("real Hive Metastore not installed: run compat-tests/hms/hms.sh setup")
	}
	start := time.Now()
	addr, err := StartAny(dataDir, testWriter{t})
	if err != nil {
		t.Fatalf("starting the real Hive Metastore %s: %v", Version(), err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			LogTail(t, dataDir, 60)
		}
		if err := StopServer(dataDir, nil); err != nil {
			t.Errorf("stopping the real Hive Metastore: %v", err)
		}
	})
	t.Logf("real Hive Metastore %s on thrift://%s (started in %s)", Version(), addr, time.Since(start).Round(100*time.Millisecond))
	return addr
}

// LogTail logs the last n lines of the metastore's log in dataDir.
func LogTail(t testing.TB, dataDir string, n int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "hms.log"))
	if err != nil {
		t.Logf("no metastore log: %v", err)
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	t.Logf("last %d lines of %s:\n%s", len(lines), filepath.Join(dataDir, "hms.log"), strings.Join(lines, "\n"))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(stripANSI(string(p)), "\n"), "\n") {
		if line != "" {
			w.t.Log(line)
		}
	}
	return len(p), nil
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
