package train

import (
	"os"
	"strings"
	"testing"
)

// A disk too full for one checkpoint is found before the first step.
func TestCheckWritableNeedsRoomForACheckpoint(t *testing.T) {
	dir := t.TempDir()
	if err := checkWritable(dir, 1<<20); err != nil {
		t.Fatalf("a megabyte: %v", err)
	}
	err := checkWritable(dir, 1<<62)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "free") {
		t.Fatalf("an exabyte: %v", err)
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Fatalf("the probe left %v", names)
	}
}
