//go:build !linux

package sysinfo

// AvailableMemory is unknown off Linux: ok is false.
func AvailableMemory() (bytes uint64, ok bool) { return 0, false }

// FreeDisk is unknown off Linux: ok is false.
func FreeDisk(path string) (bytes uint64, ok bool) { return 0, false }
