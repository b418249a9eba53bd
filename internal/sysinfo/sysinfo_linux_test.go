package sysinfo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadsTheMachine(t *testing.T) {
	mem, ok := AvailableMemory()
	if !ok || mem < 1<<20 {
		t.Errorf("available memory %d, %v", mem, ok)
	}
	disk, ok := FreeDisk(t.TempDir())
	if !ok || disk == 0 {
		t.Errorf("free disk %d, %v", disk, ok)
	}
	if _, ok := FreeDisk("/no/such/dir"); ok {
		t.Error("a missing directory has free space")
	}
}

// TestCgroupHeadroom: a container's memory limit bounds what is
// available (v2 and v1 layouts, the group mounted as the root or at its
// own path), less the usage the kernel cannot reclaim; no limit is no
// answer.
func TestCgroupHeadroom(t *testing.T) {
	write := func(path, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const gib = 1 << 30
	v2 := t.TempDir()
	write(filepath.Join(v2, "memory.max"), "4294967296\n")
	write(filepath.Join(v2, "memory.current"), "1610612736\n")
	write(filepath.Join(v2, "memory.stat"), "anon 1000\ninactive_file 536870912\nactive_file 5\n")
	// A limit on a parent (a systemd slice) bounds its children.
	v2parent := t.TempDir()
	write(filepath.Join(v2parent, "memory.max"), "max\n")
	write(filepath.Join(v2parent, "memory.current"), "1\n")
	write(filepath.Join(v2parent, "work.slice", "memory.max"), "2147483648\n")
	write(filepath.Join(v2parent, "work.slice", "memory.current"), "1073741824\n")
	write(filepath.Join(v2parent, "work.slice", "job.scope", "memory.max"), "max\n")
	write(filepath.Join(v2parent, "work.slice", "job.scope", "memory.current"), "536870912\n")
	v1hier := t.TempDir()
	write(filepath.Join(v1hier, "memory", "memory.limit_in_bytes"), "9223372036854771712\n")
	write(filepath.Join(v1hier, "memory", "memory.usage_in_bytes"), "1073741824\n")
	write(filepath.Join(v1hier, "memory", "memory.stat"), "cache 5\nhierarchical_memory_limit 3221225472\ntotal_inactive_file 0\n")
	v2limitless := t.TempDir()
	write(filepath.Join(v2limitless, "user.slice", "memory.max"), "max\n")
	write(filepath.Join(v2limitless, "user.slice", "memory.current"), "100\n")
	v1 := t.TempDir()
	write(filepath.Join(v1, "memory", "docker", "abc", "memory.limit_in_bytes"), "2147483648\n")
	write(filepath.Join(v1, "memory", "docker", "abc", "memory.usage_in_bytes"), "3221225472\n")
	v1limitless := t.TempDir()
	write(filepath.Join(v1limitless, "memory", "memory.limit_in_bytes"), "9223372036854771712\n")
	write(filepath.Join(v1limitless, "memory", "memory.usage_in_bytes"), "4856451072\n")
	for _, c := range []struct {
		name, root, self string
		want             uint64
		ok               bool
	}{
		{"v2, group mounted as the root", v2, "0::/some/where\n", 4*gib - (1.5*gib - 0.5*gib), true},
		{"v2 without a limit", v2limitless, "0::/user.slice\n", 0, false},
		{"v2, a parent's limit", v2parent, "0::/work.slice/job.scope\n", 1 * gib, true},
		{"v1, a hierarchical limit", v1hier, "4:memory:/\n", 2 * gib, true},
		{"v1 over its limit", v1, "12:cpu,cpuacct:/\n4:memory:/docker/abc\n", 0, true},
		{"v1 without a limit", v1limitless, "4:memory:/process_api/x\n", 0, false},
		{"no cgroup files", t.TempDir(), "0::/\n", 0, false},
	} {
		got, ok := cgroupHeadroom(c.root, c.self)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %d, %v; want %d, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
