package main

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
)

// mnistFolder writes MNIST images as PNG files in class folders:
// DIR/train/<digit>/ and DIR/test/<digit>/.
func mnistFolder(t *testing.T, dir string, trainN, testN int) {
	t.Helper()
	m, err := data.LoadMNIST(mnistDir, 5000)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []struct {
		name string
		set  *data.Set
		n    int
	}{{"train", m.Train, trainN}, {"test", m.Test, testN}} {
		for i := range part.n {
			img := image.NewGray(image.Rect(0, 0, 28, 28))
			for j, v := range part.set.Image(i) {
				img.Pix[j] = uint8(math.Round(float64(v) * 255))
			}
			writePNG(t, filepath.Join(dir, part.name, fmt.Sprint(part.set.Labels[i]), fmt.Sprintf("%05d.png", i)), img)
		}
	}
}

// writePNG writes img as a PNG file, making its folder.
func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	err = png.Encode(f, img)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestTrainOnImageFolder: train reads a folder of PNG files, stores the
// class names and preprocessing in its checkpoints, resumes exactly after
// an interruption (augmentation included), and eval and predict read the
// same preprocessing back.
func TestTrainOnImageFolder(t *testing.T) {
	long(t)
	dir := t.TempDir()
	mnistFolder(t, filepath.Join(dir, "digits"), 400, 50)
	args := func(ckdir string, steps int) []string {
		return []string{"train", "--data", "digits", "--arch", "resnet18", "--base-depth", "8", "--batch-size", "20",
			"--steps", fmt.Sprint(steps), "--save-every", "10", "--momentum", "0.9", "--learning-rate", "0.01",
			"--checkpoint-dir", ckdir, "--log-dir", "", "--threads", "2", "--eval-every", "15", "--augment", "crop=2,flip"}
	}
	r := run(t, dir, args("whole", 30)...)
	if r.code != 0 || !strings.Contains(r.stderr, "10 classes (0, 1, 2, 3, 4, ...), 360 training, 40 validation and 50 test images, 1x28x28") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	// Interrupted at 20 (a run to 20), resumed to 30: the same weights.
	if r := run(t, dir, args("halves", 20)...); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, dir, args("halves", 30)...); r.code != 0 || !strings.Contains(r.stderr, "resuming from") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	a := sameWeights(t, filepath.Join(dir, "whole", "mnist_model-30.safetensors"), filepath.Join(dir, "halves", "mnist_model-30.safetensors"))
	// Streamed from the files, read ahead batch by batch, instead of held
	// in memory: the same weights (interrupted and resumed too).
	if r := run(t, dir, append(args("streamed", 20), "--stream")...); r.code != 0 || !strings.Contains(r.stderr, "batch by batch") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, dir, append(args("streamed", 30), "--stream")...); r.code != 0 || !strings.Contains(r.stderr, "resuming from") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	sameWeights(t, filepath.Join(dir, "whole", "mnist_model-30.safetensors"), filepath.Join(dir, "streamed", "mnist_model-30.safetensors"))
	if a.Meta["labels"] != `["0","1","2","3","4","5","6","7","8","9"]` || !strings.Contains(a.Meta["preprocessing"], `"channels":1`) {
		t.Fatalf("metadata: %v", a.Meta)
	}
	p := run(t, dir, "predict", "--checkpoint", filepath.Join("whole", "mnist_model-30.safetensors"), "--json", filepath.Join("digits", "test", "7"))
	if p.code != 0 || !strings.Contains(p.stdout, `"label":`) {
		t.Fatalf("predict: exit %d\n%s%s", p.code, p.stdout, p.stderr)
	}
	// eval reads the folder as training did: same split, same preprocessing.
	ev := run(t, dir, "eval", "--data", "digits", "--checkpoint-dir", "whole")
	if ev.code != 0 || !strings.Contains(ev.stdout, "After 30 training step(s)") || !strings.Contains(ev.stdout, "validation accuracy = ") ||
		!strings.Contains(ev.stdout, "test accuracy = ") || !strings.Contains(ev.stdout, "Test confusion matrix") {
		t.Fatalf("eval: exit %d\n%s%s", ev.code, ev.stdout, ev.stderr)
	}
	// Streamed, eval reads the same images.
	evs := run(t, dir, "eval", "--data", "digits", "--checkpoint-dir", "whole", "--stream")
	if evs.code != 0 || evs.stdout != ev.stdout {
		t.Fatalf("eval --stream: exit %d\n%s\nin memory:\n%s", evs.code, evs.stdout, ev.stdout)
	}
	// int8: calibrated on the folder's training images (normalised as
	// training did), evaluated on its test images, batch norms folded.
	q := run(t, dir, "quantize", "--data", "digits", "--checkpoint-dir", "whole", "--images", "100", "--threads", "2")
	if q.code != 0 || !strings.Contains(q.stdout, "layer1.0.conv1") {
		t.Fatalf("quantize: exit %d\n%s%s", q.code, q.stdout, q.stderr)
	}
	ev8 := run(t, dir, "eval", "--data", "digits", "--checkpoint", filepath.Join("whole", "mnist_model-30.int8.safetensors"), "--precision", "int8")
	if ev8.code != 0 || !strings.Contains(ev8.stdout, "int8 convolutions): validation accuracy = ") {
		t.Fatalf("eval --precision int8: exit %d\n%s%s", ev8.code, ev8.stdout, ev8.stderr)
	}
	oneLineError(t, run(t, dir, "quantize", "--checkpoint-dir", "whole"), "trained on an image folder", "--data DIR")
	oneLineError(t, run(t, dir, "eval", "--data", "digits", "--checkpoint", testModelAbs(t)), "not trained on an image folder")
	oneLineError(t, run(t, dir, "eval", "--data-dir", mnistDir, "--checkpoint-dir", "whole"), "trained on an image folder", "--data")
	// A class folder renamed: resuming would change what the outputs mean.
	for _, part := range []string{"train", "test"} {
		os.Rename(filepath.Join(dir, "digits", part, "9"), filepath.Join(dir, "digits", part, "nine"))
	}
	oneLineError(t, run(t, dir, args("whole", 40)...), "mnist_model-30.safetensors", "was trained with labels")
	// The model's own preparation (scaled and normalised), not MNIST's.
	p = run(t, dir, "predict", "--checkpoint", filepath.Join("whole", "mnist_model-30.safetensors"), filepath.Join("digits", "test", "7"))
	if p.code != 0 || !strings.Contains(p.stderr, "resize preprocessing") {
		t.Fatalf("predict: exit %d\n%s%s", p.code, p.stdout, p.stderr)
	}
}

// sameWeights fails unless two checkpoints hold bit-identical tensors;
// it returns the first.
func sameWeights(t *testing.T, pathA, pathB string) *checkpoint.Checkpoint {
	t.Helper()
	a, err := checkpoint.Load(pathA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := checkpoint.Load(pathB)
	if err != nil {
		t.Fatal(err)
	}
	for name, ta := range a.Tensors {
		tb, ok := b.Tensors[name]
		if !ok || len(tb.Data) != len(ta.Data) {
			t.Fatalf("%s: in %s, not the same in %s", name, pathA, pathB)
		}
		for i, v := range ta.Data {
			if math.Float32bits(v) != math.Float32bits(tb.Data[i]) {
				t.Fatalf("%s[%d]: %v in %s, %v in %s", name, i, v, pathA, tb.Data[i], pathB)
			}
		}
	}
	return a
}

func testModelAbs(t *testing.T) string {
	p, err := filepath.Abs(testModel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFolderFlagsAreChecked: bad values of the image-folder flags are one
// line each, before any image is read.
func TestFolderFlagsAreChecked(t *testing.T) {
	dir := t.TempDir()
	for _, c := range [][]string{
		{"--augment", "blur", "unknown"}, {"--augment", "crop=-2", "crop=N"}, {"--augment", "crop=x", "crop=N"},
		{"--image-size", "32", "HxW"}, {"--image-size", "0x5", "HxW"}, {"--image-size", "9000x9000", "HxW"},
		{"--channels", "2", "--channels 2"}, {"--validation-fraction", "1", "--validation-fraction 1"},
		{"--validation-fraction", "nan", "not a finite number"},
	} {
		r := run(t, dir, "train", "--data", "nowhere", c[0], c[1])
		oneLineError(t, r, c[2])
		if strings.Contains(r.stderr, "reading images") {
			t.Fatalf("%v: read images before checking its flags", c)
		}
	}
}
