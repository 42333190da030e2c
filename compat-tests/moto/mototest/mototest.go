// Package mototest starts moto's server (compat-tests/moto/moto.sh, from PyPI), which emulates
// AWS Glue and S3 on one HTTP endpoint, for tests of the Glue backend and the federation.
//
// Tests call Start, which picks a free port on 127.0.0.1, waits until the server answers, and
// stops it when the test ends. When moto is not installed, Start skips the test (or fails it
// when CI=true), naming the command that installs it:
//
//	compat-tests/moto/moto.sh setup
package mototest

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

// Region and static credentials moto accepts (it checks none); use them with the endpoint.
const (
	Region          = "us-east-1"
	AccessKeyID     = "testing"
	SecretAccessKey = "testing"
	// AccountID is the account id moto reports by default (the Glue catalog id).
	AccountID = "123456789012"
)

// Script returns the path of moto.sh: $PROPOLIS_MOTO_SH if set, else the copy next to this
// package's source (compat-tests/moto/moto.sh in the checkout).
func Script() (string, error) {
	if s := os.Getenv("PROPOLIS_MOTO_SH"); s != "" {
		return s, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("mototest: cannot locate moto.sh (set PROPOLIS_MOTO_SH)")
	}
	s := filepath.Join(filepath.Dir(filepath.Dir(file)), "moto.sh")
	if _, err := os.Stat(s); err != nil {
		return "", fmt.Errorf("mototest: %s not found (set PROPOLIS_MOTO_SH): %w", s, err)
	}
	return s, nil
}

// Installed reports whether `moto.sh setup` has been run; when not, why says what is missing.
func Installed() (ok bool, why string) {
	s, err := Script()
	if err != nil {
		return false, err.Error()
	}
	out, err := exec.Command("bash", s, "bin").CombinedOutput()
	if err != nil {
		return false, strings.TrimSpace(stripANSI(string(out)))
	}
	return true, ""
}

// Version is the moto version moto.sh installs.
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

func run(progress io.Writer, args ...string) error {
	s, err := Script()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	cmd := exec.Command("bash", append([]string{s}, args...)...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if progress != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&buf, progress), io.MultiWriter(&buf, progress)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("moto.sh %s: %v\n%s", strings.Join(args, " "), err, stripANSI(buf.String()))
	}
	return nil
}

// StartServer runs `moto.sh start dir port`; it returns once the server answers HTTP.
func StartServer(dir string, port int, progress io.Writer) error {
	return run(progress, "start", dir, fmt.Sprint(port))
}

// StopServer runs `moto.sh stop dir`.
func StopServer(dir string, progress io.Writer) error {
	return run(progress, "stop", dir)
}

// StartAny starts a server on a free port, retrying on another port if the one picked was
// taken in the meantime. It returns the endpoint, http://127.0.0.1:PORT.
func StartAny(dir string, progress io.Writer) (string, error) {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := FreePort()
		if err != nil {
			return "", err
		}
		if err := StartServer(dir, port, progress); err != nil {
			last = err
			if strings.Contains(err.Error(), "already in use") {
				continue
			}
			return "", err
		}
		return fmt.Sprintf("http://127.0.0.1:%d", port), nil
	}
	return "", last
}

// Start starts a moto server for this test and returns its endpoint (http://127.0.0.1:PORT).
// The server is stopped when the test ends. Without `moto.sh setup` the test is skipped, or
// failed when CI=true.
func Start(t testing.TB) (endpoint string) {
	t.Helper()
	if ok, why := Installed(); !ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("moto server (moto[server] %s from PyPI, the Glue/S3 emulator) not installed: %s; .ci/run must run compat-tests/moto/moto.sh setup", Version(), why)
		}
		t.Skip("moto server not installed: run compat-tests/moto/moto.sh setup")
	}
	dir := t.TempDir()
	start := time.Now()
	endpoint, err := StartAny(dir, nil)
	if err != nil {
		t.Fatalf("starting the moto server %s: %v", Version(), err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			LogTail(t, dir, 40)
		}
		if err := StopServer(dir, nil); err != nil {
			t.Errorf("stopping the moto server: %v", err)
		}
	})
	t.Logf("moto server %s on %s (started in %s)", Version(), endpoint, time.Since(start).Round(10*time.Millisecond))
	return endpoint
}

// LogTail logs the last n lines of the server's log in dir.
func LogTail(t testing.TB, dir string, n int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "moto.log"))
	if err != nil {
		t.Logf("no moto log: %v", err)
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	t.Logf("last %d lines of %s:\n%s", len(lines), filepath.Join(dir, "moto.log"), strings.Join(lines, "\n"))
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
