package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesOrKeeps(t *testing.T) {
	dir := t.TempDir()
	put := func(s string, fail bool) error {
		return Write(dir, "f.txt", ".tmp-", func(w io.Writer) error {
			if _, err := io.WriteString(w, s); err != nil {
				return err
			}
			if fail {
				return errors.New("disk full")
			}
			return nil
		})
	}
	if err := put("first", false); err != nil {
		t.Fatal(err)
	}
	if err := put("second, half written", true); err == nil {
		t.Fatal("a failed write reported success")
	}
	b, err := os.ReadFile(filepath.Join(dir, "f.txt"))
	if err != nil || string(b) != "first" {
		t.Fatalf("after a failed write the file holds %q (%v), want the old contents", b, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
	if err := put("second", false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f.txt")); string(b) != "second" {
		t.Fatalf("file holds %q", b)
	}
}
