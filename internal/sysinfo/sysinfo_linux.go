package sysinfo

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// AvailableMemory is the memory the kernel says can be allocated without
// swapping (MemAvailable in /proc/meminfo), or less where this process's
// control group (a container) has a memory limit with less headroom, in
// bytes; ok is false when neither can be read.
func AvailableMemory() (bytes uint64, ok bool) {
	mem, memOK := machineAvailable()
	var group uint64
	groupOK := false
	if self, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		group, groupOK = cgroupHeadroom("/sys/fs/cgroup", string(self))
	}
	switch {
	case memOK && groupOK:
		return min(mem, group), true
	case groupOK:
		return group, true
	}
	return mem, memOK
}

// machineAvailable is /proc/meminfo's MemAvailable in bytes.
func machineAvailable() (bytes uint64, ok bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, found := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !found {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}

// FreeDisk is the space an unprivileged writer can still use on the file
// system holding path, in bytes; ok is false when it cannot be read.
func FreeDisk(path string) (bytes uint64, ok bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}
