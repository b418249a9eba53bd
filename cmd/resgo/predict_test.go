package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resgo/resgo/predict"
)

const testModel = "../../testdata/models/mnist_d8_model-2000.safetensors"

// TestPredict: a table of the digits in testdata (drawn, not from MNIST)
// mostly read right; --json with --top-k, flags after the images; a
// damaged image is named while the others are still answered.
func TestPredict(t *testing.T) {
	dir := t.TempDir()
	digits, _ := filepath.Abs("../../testdata/digits")
	model, _ := filepath.Abs(testModel)
	r := run(t, dir, "predict", "--checkpoint", model, digits)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	right := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if filepath.Base(f[0])[:1] == f[1] {
			right++
		}
	}
	if len(lines) < 21 || right < (len(lines)-1)*9/10 {
		t.Fatalf("%d of %d right:\n%s", right, len(lines)-1, r.stdout)
	}

	r = run(t, dir, "predict", "--checkpoint", model, filepath.Join(digits, "3-pen.png"), "--json", "--top-k", "2", "--save-input", "seen")
	var got fileResult
	if err := json.Unmarshal([]byte(r.stdout), &got); r.code != 0 || err != nil || len(got.Predictions) != 2 || got.Predictions[0].Label != "3" {
		t.Fatalf("exit %d, %v: %s%s", r.code, err, r.stdout, r.stderr)
	}
	saved, _ := filepath.Glob(filepath.Join(dir, "seen", "*3-pen.png"))
	if len(saved) != 1 {
		t.Fatalf("--save-input wrote %v", saved)
	}
	if img, err := predict.DecodeFile(saved[0]); err != nil || img.Bounds().Dx() != 28 || img.Bounds().Dy() != 28 {
		t.Fatalf("--save-input: %v", err)
	}

	mixed := filepath.Join(dir, "mixed")
	os.Mkdir(mixed, 0o755)
	for _, f := range []string{"1-pen.png", "7-chalk.png"} {
		b, _ := os.ReadFile(filepath.Join(digits, f))
		os.WriteFile(filepath.Join(mixed, f), b, 0o644)
	}
	os.WriteFile(filepath.Join(mixed, "broken.png"), []byte("\x89PNG\r\n\x1a\n-- cut short"), 0o644)
	os.WriteFile(filepath.Join(mixed, "notes.txt"), []byte("not an image"), 0o644)
	r = run(t, dir, "predict", "--checkpoint", model, "mixed")
	if r.code != 1 || !strings.Contains(r.stderr, "broken.png") || !strings.Contains(r.stdout, "1-pen.png") ||
		!strings.Contains(r.stdout, "7-chalk.png") || strings.Contains(r.stdout+r.stderr, "notes.txt") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	oneLineError(t, run(t, dir, "predict", "--checkpoint", model), "no image given")
	oneLineError(t, run(t, dir, "predict", "--checkpoint", model, "--top-k", "0", digits), "--top-k 0")
	oneLineError(t, run(t, dir, "predict", "--checkpoint", model, "--preprocess", "blur", digits), "--preprocess", "blur")
	oneLineError(t, run(t, dir, "predict", digits), "MNIST_model", "no checkpoint directory")
	oneLineError(t, run(t, dir, "predict", "--checkpoint", model, "missing.png"), "missing.png")
}
