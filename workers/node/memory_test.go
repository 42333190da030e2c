package node

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAvailableMemory(t *testing.T) {
	const meminfo = "MemTotal:       8000000 kB\nMemFree:        100 kB\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"cgroup v2 limit", map[string]string{"sys/fs/cgroup/memory.max": "2147483648\n"}, 2 << 30},
		{"cgroup v2 unlimited", map[string]string{"sys/fs/cgroup/memory.max": "max\n"}, 8000000 << 10},
		{"cgroup v1 limit", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824\n"}, 1 << 30},
		{"cgroup v1 unlimited", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 8000000 << 10},
		{"no cgroup", nil, 8000000 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{"proc/meminfo": meminfo}
			for k, v := range tc.files {
				files[k] = v
			}
			for name, body := range files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := availableMemory(root); got != tc.want {
				t.Fatalf("availableMemory = %d, want %d", got, tc.want)
			}
		})
	}
	if DefaultMaxMemory() <= 0 {
		t.Fatal("no default memory cap on this machine")
	}
}
