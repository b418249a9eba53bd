package main

import (
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/train"
)

// TestImportTorchvisionCheckpoint: import turns a torchvision resnet18's
// state_dict (made now by Debian's PyTorch) into a checkpoint whose
// moving-average weights (what eval, predict and serve load) give
// PyTorch's logits; predict and export read it; a second import into the
// same directory, and weights for another architecture, are refused.
func TestImportTorchvisionCheckpoint(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import torchvision").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must check imports against PyTorch: apt-get install python3-torchvision")
		}
		t.Skip("no python3-torchvision here (apt-get install python3-torchvision)")
	}
	dir := t.TempDir()
	fx := filepath.Join(dir, "fx")
	script, _ := filepath.Abs("../../tools/torchfixtures/make_fixtures.py")
	images := []string{filepath.Join(testdataDigits(t), "3-photo.jpg"), filepath.Join(testdataDigits(t), "0-chalk.png"), filepath.Join(testdataDigits(t), "7-pencil.png")}
	if out, err := exec.Command("/usr/bin/python3", append([]string{script, "--arch", "resnet18", "--base-depth", "8", "--size", "64", "--classes", "10", "--out", fx,
		"--images"}, images...)...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	labels := filepath.Join(dir, "labels.txt")
	os.WriteFile(labels, []byte("zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n"), 0o644)
	r := run(t, dir, "import", filepath.Join("fx", "resnet18_d8_zip.pt"), "--arch", "resnet18", "--input", "3x64x64", "-o", "r18", "--labels", labels)
	if r.code != 0 || !strings.Contains(r.stderr, "resnet18-0.safetensors") || !strings.Contains(r.stderr, "skipped 20 counters") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	ck, err := checkpoint.Load(filepath.Join(dir, "r18", "resnet18-0.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	be, m := modelOf(t, ck, true)
	floats := func(path string) []float32 {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(bin.LittleEndian.Uint32(b[4*i:]))
		}
		return v
	}
	x, want := floats(filepath.Join(fx, "resnet18_d8_input.f32")), floats(filepath.Join(fx, "resnet18_d8_logits.f32"))
	xt := be.New(2, 3, 64, 64)
	be.Upload(xt, x)
	got := make([]float32, len(want))
	be.Download(m.Forward(xt), got)
	var diff, scale float64
	for i := range want {
		diff, scale = math.Max(diff, math.Abs(float64(got[i]-want[i]))), math.Max(scale, math.Abs(float64(want[i])))
	}
	if !(diff <= 1e-4*scale) {
		t.Errorf("imported checkpoint: logits differ from PyTorch's by %.3g (largest %.3g)", diff, scale)
	}
	// The same images, prepared as torchvision's ImageNet recipe prepares
	// them (shorter side scaled, centre crop, ImageNet's mean and
	// deviation), get PyTorch's top five.
	prep, err := data.ParsePreprocessing(ck.Meta[data.PreprocessingKey])
	if err != nil || prep.ResizeShorter != 73 {
		t.Fatalf("preprocessing %+v, %v", prep, err)
	}
	var torchAnswers []struct {
		Top5 []int `json:"top5"`
	}
	b, err := os.ReadFile(filepath.Join(fx, "resnet18_d8_images.json"))
	if err != nil || json.Unmarshal(b, &torchAnswers) != nil || len(torchAnswers) != len(images) {
		t.Fatalf("%v %s", err, b)
	}
	p := run(t, dir, append([]string{"predict", "--checkpoint-dir", "r18", "--checkpoint-name", "resnet18", "--json", "--top-k", "5"}, images...)...)
	if p.code != 0 {
		t.Fatalf("predict: exit %d\n%s%s", p.code, p.stdout, p.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(p.stdout))
	for i, img := range images {
		var ans struct {
			Predictions []struct {
				Class int    `json:"class"`
				Label string `json:"label"`
			} `json:"predictions"`
		}
		if err := dec.Decode(&ans); err != nil {
			t.Fatal(err)
		}
		var top5 []int
		for _, q := range ans.Predictions {
			top5 = append(top5, q.Class)
		}
		if !slices.Equal(top5, torchAnswers[i].Top5) {
			t.Errorf("%s: resgo's top five %v, PyTorch's %v", img, top5, torchAnswers[i].Top5)
		}
		if ans.Predictions[0].Label != []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}[top5[0]] {
			t.Errorf("%s: label %q for class %d", img, ans.Predictions[0].Label, top5[0])
		}
		decoded, err := data.DecodeImageFile(img)
		if err != nil {
			t.Fatal(err)
		}
		mine, err := prep.Input(decoded)
		if err != nil {
			t.Fatal(err)
		}
		theirs := floats(filepath.Join(fx, fmt.Sprintf("resnet18_d8_image%d.f32", i+1)))
		var worst, sum float64
		for j := range theirs {
			d := math.Abs(float64(mine[j] - theirs[j]))
			worst, sum = math.Max(worst, d), sum+d
		}
		t.Logf("%s: prepared input vs torchvision's: max |diff| %.3g, mean %.3g (in standard deviations)", filepath.Base(img), worst, sum/float64(len(theirs)))
		if sum/float64(len(theirs)) > 0.02 {
			t.Errorf("%s: prepared input differs from torchvision's by %.3g on average", img, sum/float64(len(theirs)))
		}
	}
	if e := run(t, dir, "export", "--checkpoint-dir", "r18", "--checkpoint-name", "resnet18", "-o", "r18.onnx"); e.code != 0 {
		t.Fatalf("export: exit %d\n%s", e.code, e.stderr)
	}
	oneLineError(t, run(t, dir, "import", filepath.Join("fx", "resnet18_d8_zip.pt"), "--arch", "resnet18", "--input", "3x64x64", "-o", "r18"), "already holds")
	oneLineError(t, run(t, dir, "import", filepath.Join("fx", "resnet18_d8_zip.pt"), "--arch", "resnet34", "--input", "3x64x64", "-o", "r34"),
		"do not fit resnet34", "missing")
	oneLineError(t, run(t, dir, "import", labels, "--arch", "resnet18", "-o", "x"), "not a PyTorch file")
}

func testdataDigits(t *testing.T) string {
	p, err := filepath.Abs("../../testdata/digits")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFineTuneFromImport: a run starts from an imported torchvision
// resnet18 (7 classes) on a folder of 10 classes: the classifier is
// replaced, --freeze backbone trains only it (the rest stays the imported
// weights, bit for bit), and an interrupted run resumes exactly.
func TestFineTuneFromImport(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import torchvision").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must check fine-tuning from PyTorch's weights: apt-get install python3-torchvision")
		}
		t.Skip("no python3-torchvision here (apt-get install python3-torchvision)")
	}
	long(t)
	dir := t.TempDir()
	script, _ := filepath.Abs("../../tools/torchfixtures/make_fixtures.py")
	if out, err := exec.Command("/usr/bin/python3", script, "--arch", "resnet18", "--base-depth", "8", "--size", "32", "--classes", "7",
		"--out", filepath.Join(dir, "fx")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r := run(t, dir, "import", filepath.Join("fx", "resnet18_d8_zip.pt"), "--arch", "resnet18", "--input", "3x32x32", "-o", "r18"); r.code != 0 {
		t.Fatalf("import: exit %d\n%s", r.code, r.stderr)
	}
	rgbFolder(t, filepath.Join(dir, "shapes"), 10, 4, 32)
	args := func(ckdir string, steps int) []string {
		return []string{"train", "--data", "shapes", "--init-from", filepath.Join("r18", "resnet18-0.safetensors"), "--freeze", "backbone",
			"--batch-size", "4", "--steps", fmt.Sprint(steps), "--save-every", "3", "--momentum", "0.9", "--learning-rate", "0.01",
			"--checkpoint-dir", ckdir, "--log-dir", "", "--threads", "2", "--eval-every", "0"}
	}
	r := run(t, dir, args("whole", 6)...)
	if r.code != 0 || !strings.Contains(r.stderr, "with a new classifier (fc.weight, fc.bias)") || !strings.Contains(r.stderr, "training 2 of 62 parameter tensors") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	src, err := checkpoint.Load(filepath.Join(dir, "r18", "resnet18-0.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	tuned, err := checkpoint.Load(filepath.Join(dir, "whole", "mnist_model-6.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"conv1.weight", "layer4.1.conv2.weight", "layer2.0.bn1.weight"} {
		if !slices.Equal(src.Tensors[name].Data, tuned.Tensors[name].Data) {
			t.Errorf("%s: frozen, yet changed", name)
		}
	}
	if got := tuned.Tensors["fc.weight"].Shape; !slices.Equal(got, []int{10, 64}) {
		t.Errorf("classifier %v, want [10 64]", got)
	}
	earlier, err := checkpoint.Load(filepath.Join(dir, "whole", "mnist_model-3.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(earlier.Tensors["fc.weight"].Data, tuned.Tensors["fc.weight"].Data) {
		t.Error("the classifier did not train")
	}
	// Batch norm's statistics follow the new data, frozen or not.
	if slices.Equal(src.Tensors["bn1.running_mean"].Data, tuned.Tensors["bn1.running_mean"].Data) {
		t.Error("batch norm's running mean did not move")
	}
	// The fine-tuned checkpoint, written by resgo, loads into torchvision's
	// own resnet18 (PyTorch's load_state_dict checks every name and
	// shape), which then computes resgo's logits.
	be, m := modelOf(t, tuned, false)
	x := make([]float32, 3*3*32*32)
	r2 := rand.New(rand.NewPCG(3, 4))
	for i := range x {
		x[i] = float32(r2.NormFloat64())
	}
	xt := be.New(3, 3, 32, 32)
	be.Upload(xt, x)
	logits := make([]float32, 3*10)
	be.Download(m.Forward(xt), logits)
	writeFloats := func(path string, v []float32) {
		b := make([]byte, 4*len(v))
		for i, f := range v {
			bin.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFloats(filepath.Join(dir, "x.f32"), x)
	writeFloats(filepath.Join(dir, "logits.f32"), logits)
	loader, _ := filepath.Abs("../../tools/torchfixtures/load_resgo.py")
	out, err := exec.Command("/usr/bin/python3", loader, filepath.Join(dir, "whole", "mnist_model-6.safetensors"), "--arch", "resnet18",
		"--base-depth", "8", "--classes", "10", "--size", "32", "--input", filepath.Join(dir, "x.f32"), "--logits", filepath.Join(dir, "logits.f32")).CombinedOutput()
	if err != nil {
		t.Fatalf("PyTorch loading resgo's checkpoint: %v\n%s", err, out)
	}
	t.Logf("PyTorch: %s", out)
	if r := run(t, dir, args("halves", 3)...); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, dir, args("halves", 6)...); r.code != 0 || !strings.Contains(r.stderr, "resuming from") || strings.Contains(r.stderr, "starting from the weights") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	sameWeights(t, filepath.Join(dir, "whole", "mnist_model-6.safetensors"), filepath.Join(dir, "halves", "mnist_model-6.safetensors"))
	oneLineError(t, run(t, dir, append(args("bad", 3), "--freeze", "layer9")...), "--freeze layer9", "its names begin conv1, bn1, layer1")
	// Resumed with another --freeze: allowed (gradual unfreezing), said.
	r = run(t, dir, append(args("halves", 7), "--freeze", "conv1")...)
	if r.code != 0 || !strings.Contains(r.stderr, `was trained with --freeze "backbone"; continuing with "conv1"`) {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	// --freeze-stats: the frozen batch norms' statistics stay too.
	r = run(t, dir, append(args("stats", 3), "--freeze-stats")...)
	if r.code != 0 || !strings.Contains(r.stderr, "and their batch norms' statistics") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	still, err := checkpoint.Load(filepath.Join(dir, "stats", "mnist_model-3.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bn1.running_mean", "layer3.1.bn2.running_var"} {
		if !slices.Equal(src.Tensors[name].Data, still.Tensors[name].Data) {
			t.Errorf("%s moved with --freeze-stats", name)
		}
	}
}

// rgbFolder writes classes folders of n noisy RGB images, each class its
// own colour, as DIR/train/<class>/.
func rgbFolder(t *testing.T, dir string, classes, n, side int) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	for c := range classes {
		for i := range n {
			img := image.NewRGBA(image.Rect(0, 0, side, side))
			for j := 0; j < len(img.Pix); j += 4 {
				img.Pix[j+c%3] = uint8(128 + r.IntN(128))
				img.Pix[j+(c+1)%3] = uint8(r.IntN(64))
				img.Pix[j+3] = 255
			}
			writePNG(t, filepath.Join(dir, "train", fmt.Sprintf("class%d", c), fmt.Sprintf("%02d.png", i)), img)
		}
	}
}

// modelOf builds a checkpoint's model with its raw weights or their
// moving averages (shadow), in evaluation mode.
func modelOf(t *testing.T, ck *checkpoint.Checkpoint, shadow bool) (backend.Backend, *model.Model) {
	t.Helper()
	mc, err := train.ModelConfig(ck)
	if err != nil {
		t.Fatal(err)
	}
	be := native.New(2)
	m, err := model.Build(be, mc)
	if err != nil {
		t.Fatal(err)
	}
	if err := train.LoadWeights(be, m, ck, shadow); err != nil {
		t.Fatal(err)
	}
	m.SetTraining(false)
	return be, m
}
