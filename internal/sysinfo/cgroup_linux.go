package sysinfo

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupHeadroom is what the memory limit of this process's control group
// (a container's, or a systemd unit's) still allows: the limit less the
// memory in use that the kernel cannot reclaim (inactive file pages can
// be). root is where the cgroup file systems are mounted
// (/sys/fs/cgroup); ok is false when there is no limit or it cannot be
// read. Both cgroup versions: v2's memory.max, v1's
// memory/memory.limit_in_bytes.
func cgroupHeadroom(root string, selfCgroup string) (bytes uint64, ok bool) {
	for _, line := range strings.Split(selfCgroup, "\n") {
		// "0::/path" (v2) or "N:memory:/path" (v1, or with other
		// controllers: "N:cpu,memory:/path").
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var dirs []string
		var limitFile, usageFile, statKey string
		switch {
		case parts[0] == "0" && parts[1] == "":
			dirs = []string{filepath.Join(root, parts[2]), root}
			limitFile, usageFile, statKey = "memory.max", "memory.current", "inactive_file"
		case hasController(parts[1], "memory"):
			dirs = []string{filepath.Join(root, "memory", parts[2]), filepath.Join(root, "memory")}
			limitFile, usageFile, statKey = "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"
		default:
			continue
		}
		// Inside a container the process's own group is usually mounted
		// as the root, so its path from /proc does not exist there.
		for _, dir := range dirs {
			limit, err := readNumber(filepath.Join(dir, limitFile))
			if err != nil {
				continue
			}
			if limit >= 1<<62 {
				return 0, false // "max", or v1's page-rounded "no limit"
			}
			usage, err := readNumber(filepath.Join(dir, usageFile))
			if err != nil {
				return 0, false
			}
			if inactive, ok := statValue(filepath.Join(dir, "memory.stat"), statKey); ok && inactive <= usage {
				usage -= inactive
			}
			if usage >= limit {
				return 0, true
			}
			return limit - usage, true
		}
	}
	return 0, false
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
