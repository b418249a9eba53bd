package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// accuracies reads eval's "validation accuracy = A, test accuracy = B".
func accuracies(t *testing.T, out string) (float64, float64) {
	t.Helper()
	m := regexp.MustCompile(`validation accuracy = ([0-9.]+), test accuracy = ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no accuracies in:\n%s", out)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	te, _ := strconv.ParseFloat(m[2], 64)
	return v, te
}

// TestQuantize: resgo quantize writes an int8 copy beside a checkpoint
// (the original untouched) with a table of the convolutions' inputs; eval
// --precision int8 of it is within 0.3% of float32's accuracy (the
// small test model) on MNIST; predict reads the test digits with it and
// serve answers with it; misuse gets one-line errors.
func TestQuantize(t *testing.T) {
	long(t)
	dir := t.TempDir()
	src, _ := os.ReadFile(testModel)
	ck := filepath.Join(dir, "ck", "mnist_model-2000.safetensors")
	os.MkdirAll(filepath.Dir(ck), 0o755)
	os.WriteFile(ck, src, 0o644)
	r := run(t, dir, "quantize", "--data-dir", mnistDir, "--checkpoint-dir", "ck", "--images", "300", "--threads", "2")
	out := filepath.Join(dir, "ck", "mnist_model-2000.int8.safetensors")
	if r.code != 0 || !strings.Contains(r.stdout, "resnet_layer/layer4-9-conv/Conv_2") || !strings.Contains(r.stdout, "SQNR") ||
		!strings.Contains(r.stdout, "wrote "+filepath.Join("ck", "mnist_model-2000.int8.safetensors")) {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after, _ := os.ReadFile(ck); string(after) != string(src) {
		t.Fatal("quantize changed the checkpoint it read")
	}
	f32 := run(t, dir, "eval", "--data-dir", mnistDir, "--checkpoint", out, "--confusion=false", "--threads", "2")
	i8 := run(t, dir, "eval", "--data-dir", mnistDir, "--checkpoint", out, "--precision", "int8", "--confusion=false", "--threads", "2")
	if f32.code != 0 || i8.code != 0 || !strings.Contains(i8.stdout, "int8 convolutions") {
		t.Fatalf("eval: exit %d / %d\n%s%s%s%s", f32.code, i8.code, f32.stdout, f32.stderr, i8.stdout, i8.stderr)
	}
	fv, ft := accuracies(t, f32.stdout)
	iv, it := accuracies(t, i8.stdout)
	t.Logf("float32: validation %.4f, test %.4f; int8: validation %.4f, test %.4f", fv, ft, iv, it)
	if d := max(fv-iv, ft-it); d > 0.003 || ft < 0.9 {
		t.Fatalf("int8 accuracy %.4f/%.4f against float32's %.4f/%.4f", iv, it, fv, ft)
	}
	// The newest checkpoint in the directory is still the trained one.
	if ev := run(t, dir, "eval", "--data-dir", mnistDir, "--checkpoint-dir", "ck", "--confusion=false"); ev.code != 0 ||
		!strings.Contains(ev.stdout, "mnist_model-2000.safetensors") {
		t.Fatalf("eval of the directory: exit %d\n%s%s", ev.code, ev.stdout, ev.stderr)
	}
	digits, _ := filepath.Abs("../../testdata/digits")
	p := run(t, dir, "predict", "--checkpoint", out, "--precision", "int8", digits)
	lines := strings.Split(strings.TrimSpace(p.stdout), "\n")
	right := 0
	for _, l := range lines[1:] {
		if f := strings.Fields(l); filepath.Base(f[0])[:1] == f[1] {
			right++
		}
	}
	if p.code != 0 || right < (len(lines)-1)*8/10 {
		t.Fatalf("predict --precision int8: exit %d, %d of %d right\n%s%s", p.code, right, len(lines)-1, p.stdout, p.stderr)
	}

	if version, label := serveDigit(t, "serve", "--checkpoint", out, "--precision", "int8"); version != "2000" || label != "7" {
		t.Fatalf("serve --precision int8: model version %q, answer %q", version, label)
	}

	oneLineError(t, run(t, dir, "eval", "--data-dir", mnistDir, "--checkpoint", ck, "--precision", "int8"), "no int8 calibration", "resgo quantize")
	oneLineError(t, run(t, dir, "serve", "--checkpoint-dir", "ck", "--watch", "1s", "--precision", "int8"), "--watch", "int8")
	oneLineError(t, run(t, dir, "predict", "--checkpoint", out, "--precision", "int8", "--raw", digits), "calibrated for its moving-average weights")
	oneLineError(t, run(t, dir, "train", "--precision", "int8"), "inference only")
	oneLineError(t, run(t, dir, "eval", "--watch", "--precision", "int8"), "--watch")
	oneLineError(t, run(t, dir, "quantize", "--checkpoint", ck, "--output", ck), "the checkpoint being quantized")
	oneLineError(t, run(t, dir, "quantize", "--checkpoint", ck, "--images", "0"), "--images 0")
	oneLineError(t, run(t, dir, "quantize", "--checkpoint", ck, "--precision", "bf16"), "calibration runs the model in f32")
}
