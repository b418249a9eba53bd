package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportONNX: export writes an ONNX file of a checkpoint (ONNX's own
// checker accepts it where python3-onnx is installed) with the class
// names and step in its metadata; a bad format or a missing checkpoint is
// one line; an existing file is replaced whole.
func TestExportONNX(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "digits.onnx")
	os.WriteFile(out, []byte("old"), 0o644)
	r := run(t, dir, "export", "--checkpoint", testModelAbs(t), "-o", out)
	if r.code != 0 || !strings.Contains(r.stderr, "input [N, 1, 28, 28], output [N, 10]") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() < 100000 {
		t.Fatalf("%v %v", fi, err)
	}
	if exec.Command("/usr/bin/python3", "-c", "import onnx").Run() == nil {
		check := exec.Command("/usr/bin/python3", "-c", `
import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
meta = {p.key: p.value for p in m.metadata_props}
print(meta["step"], meta["weights"], m.graph.input[0].name, m.graph.output[0].name)
`, out)
		got, err := check.CombinedOutput()
		if err != nil || strings.TrimSpace(string(got)) != "2000 moving-average input logits" {
			t.Fatalf("onnx checker: %v\n%s", err, got)
		}
	}
	oneLineError(t, run(t, dir, "export", "--checkpoint", testModelAbs(t), "--format", "tflite"), "--format", "onnx")
	oneLineError(t, run(t, dir, "export", "--checkpoint-dir", filepath.Join(dir, "none")), "no checkpoint")
}
