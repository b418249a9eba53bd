package sysinfo

import (
	"runtime"
	"testing"
)

func TestReadsTheMachine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux is read")
	}
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
