package node

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultMaxMemory is the process-wide cap on query memory when none is configured: half the
// memory the worker may use, which is its container's limit (cgroup v2 memory.max, or v1
// memory.limit_in_bytes) when there is one, else the machine's. The other half is for Go's
// own overhead, the layout cache and the connections. 0 if neither can be read.
func DefaultMaxMemory() int64 {
	return availableMemory("/") / 2
}

// availableMemory reads the limits under root ("/" outside tests).
func availableMemory(root string) int64 {
	machine := memTotal(filepath.Join(root, "proc/meminfo"))
	for _, f := range []string{"sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 { // "max": no limit
			continue
		}
		// An unlimited v1 cgroup reports a huge number; the machine is the limit then.
		if machine > 0 && n > machine {
			return machine
		}
		return n
	}
	return machine
}

func memTotal(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
