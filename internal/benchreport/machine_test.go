package benchreport

import (
	"fmt"
	"runtime"
	"testing"
)

func TestCPUModel(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nmodel name\t: other\n", "Intel(R) Xeon(R) Processor", true},
		{"model name:  AMD EPYC 7B13  \n", "AMD EPYC 7B13", true},
		{"model\t\t: 85\n", "", false},
		{"", "", false},
	} {
		if got, ok := cpuModel(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("cpuModel(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMemTotal(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"MemTotal:       16384000 kB\nMemFree:  1 kB\n", "15.6 GiB", true},
		{"MemFree:  1 kB\nMemTotal: 1048576 kB\n", "1.0 GiB", true},
		{"MemFree:  1 kB\n", "", false},
	} {
		if got, ok := memTotal(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("memTotal(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestGoVersionLine(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"bin/propolis: go1.26.8\n", "go1.26.8", true},
		{"go version go1.26.8 linux/amd64\n", "", false},
	} {
		if got, ok := goVersionLine(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("goVersionLine(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFirstField(t *testing.T) {
	for in, want := range map[string]string{
		"0.52 0.58 0.59 1/389 12345\n": "0.52",
		"  3.10\n":                     "3.10",
		"":                             "",
	} {
		if got := firstField(in); got != want {
			t.Errorf("firstField(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBusy(t *testing.T) {
	for _, tc := range []struct {
		load, cores string
		want        bool
	}{
		{"2.5", "2", true},
		{"2", "2", false},
		{"0.1", "8", false},
		{"", "2", false},
		{"3", "", false},
		{"n/a", "2", false},
	} {
		if got := Busy(tc.load, tc.cores); got != tc.want {
			t.Errorf("Busy(%q, %q) = %v, want %v", tc.load, tc.cores, got, tc.want)
		}
	}
	for _, tc := range []struct {
		m    Machine
		want bool
	}{
		{Machine{Cores: "2", LoadBefore: "0.5", LoadAfter: "0.7"}, false},
		{Machine{Cores: "2", LoadBefore: "0.5", LoadAfter: "4.0"}, true},
		{Machine{Cores: "2", LoadBefore: "4.0"}, true},
		{Machine{Cores: "2"}, false},
	} {
		if got := tc.m.Busy(); got != tc.want {
			t.Errorf("%+v.Busy() = %v, want %v", tc.m, got, tc.want)
		}
	}
}

// The description never leaves a field the tables print without a value.
func TestDescribeMachine(t *testing.T) {
	m := DescribeMachine()
	if m.CPU == "" || m.Memory == "" || m.GoVersion != runtime.Version() || m.Cores != fmt.Sprint(runtime.NumCPU()) {
		t.Errorf("DescribeMachine() = %+v", m)
	}
}
