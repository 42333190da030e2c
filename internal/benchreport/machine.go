package benchreport

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes the machine a run measured on, as the reports' Machine tables show it.
// Kernel and Commit are empty when uname or git does not answer; LoadBefore and LoadAfter are
// the caller's to fill, with LoadAvg.
type Machine struct {
	CPU       string // the model name in /proc/cpuinfo, or "unknown"
	Cores     string // runtime.NumCPU
	Memory    string // MemTotal in /proc/meminfo, as "15.6 GiB", or "unknown"
	Kernel    string // uname -sr
	GoVersion string // the Go that built this program
	Commit    string // git rev-parse --short HEAD, in the working directory

	LoadBefore, LoadAfter string
}

// DescribeMachine describes this machine.
func DescribeMachine() Machine {
	m := Machine{CPU: "unknown", Cores: fmt.Sprint(runtime.NumCPU()), Memory: "unknown", GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if v, ok := cpuModel(string(b)); ok {
			m.CPU = v
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if v, ok := memTotal(string(b)); ok {
			m.Memory = v
		}
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}

// GoVersionOf is the Go version that built the binary bin, from `go version bin`.
func GoVersionOf(bin string) (string, bool) {
	out, err := exec.Command("go", "version", bin).Output()
	if err != nil {
		return "", false
	}
	return goVersionLine(string(out))
}

// goVersionLine reads "path: go1.x.y" as `go version bin` prints it.
func goVersionLine(out string) (string, bool) {
	_, v, ok := strings.Cut(strings.TrimSpace(out), ": ")
	return v, ok
}

// cpuModel is the first "model name" in /proc/cpuinfo's text.
func cpuModel(cpuinfo string) (string, bool) {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// memTotal is the first "MemTotal" line of /proc/meminfo's text, in GiB.
func memTotal(meminfo string) (string, bool) {
	for _, line := range strings.Split(meminfo, "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20)), true
		}
	}
	return "", false
}

// LoadAvg is /proc/loadavg's 1-minute figure ("" when unreadable): other work on the machine
// shows up here.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return firstField(string(b))
}

func firstField(s string) string {
	f := strings.Fields(s)
	if len(f) < 1 {
		return ""
	}
	return f[0]
}

// Busy reports a load average above the number of cores (false when either is not a number).
func Busy(load, cores string) bool {
	l, err1 := strconv.ParseFloat(load, 64)
	c, err2 := strconv.ParseFloat(cores, 64)
	return err1 == nil && err2 == nil && l > c
}

// Busy reports whether the load average before or after the run was above the number of cores.
func (m Machine) Busy() bool { return Busy(m.LoadBefore, m.Cores) || Busy(m.LoadAfter, m.Cores) }
