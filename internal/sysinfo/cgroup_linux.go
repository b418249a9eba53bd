package sysinfo

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupHeadroom is what the memory limits of this process's control
// group and of the groups above it (a container's, a systemd slice's)
// still allow: for each, the limit less the memory in use that the kernel
// cannot reclaim (inactive file pages can be); the smallest. root is where
// the cgroup file systems are mounted (/sys/fs/cgroup); ok is false when
// no limit is set or none can be read. Both cgroup versions: v2's
// memory.max at every level, v1's memory.limit_in_bytes and the
// hierarchical limit its memory.stat reports.
func cgroupHeadroom(root string, selfCgroup string) (bytes uint64, ok bool) {
	best := uint64(math.MaxUint64)
	for _, line := range strings.Split(selfCgroup, "\n") {
		// "0::/path" (v2) or "N:memory:/path" (v1, or with other
		// controllers: "N:cpu,memory:/path").
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			// Every level from the process's group up to the root; inside
			// a container its own group is usually mounted as the root,
			// so the path from /proc need not exist.
			for dir := filepath.Join(root, parts[2]); ; dir = filepath.Dir(dir) {
				if h, found := headroom(dir, "memory.max", "memory.current", "inactive_file", ""); found {
					best = min(best, h)
				}
				if dir == root || !strings.HasPrefix(dir, root) {
					break
				}
			}
		case hasController(parts[1], "memory"):
			for _, dir := range []string{filepath.Join(root, "memory", parts[2]), filepath.Join(root, "memory")} {
				if h, found := headroom(dir, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file", "hierarchical_memory_limit"); found {
					best = min(best, h)
					break
				}
			}
		}
	}
	if best == math.MaxUint64 {
		return 0, false
	}
	return best, true
}

// headroom reads one group's limit (the smaller of limitFile and, when
// named, a memory.stat entry) less its unreclaimable usage; found is
// false when the group has no limit or its files cannot be read.
func headroom(dir, limitFile, usageFile, inactiveKey, statLimitKey string) (bytes uint64, found bool) {
	limit, err := readNumber(filepath.Join(dir, limitFile))
	if err != nil {
		return 0, false
	}
	stat := filepath.Join(dir, "memory.stat")
	if statLimitKey != "" {
		if l, ok := statValue(stat, statLimitKey); ok {
			limit = min(limit, l)
		}
	}
	if limit >= 1<<62 {
		return 0, false // "max", or v1's page-rounded "no limit"
	}
	usage, err := readNumber(filepath.Join(dir, usageFile))
	if err != nil {
		return 0, false
	}
	if inactive, ok := statValue(stat, inactiveKey); ok && inactive <= usage {
		usage -= inactive
	}
	if usage >= limit {
		return 0, true
	}
	return limit - usage, true
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// readNumber reads a file holding one number; "max" reads as no limit.
func readNumber(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 1 << 63, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// statValue reads one "key value" line of a memory.stat file.
func statValue(path, key string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key+" "); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}
