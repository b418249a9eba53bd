package interop

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/model"
)

// torchFixtures returns a folder of fixtures made by
// tools/torchfixtures/make_fixtures.py: RESGO_TORCH_FIXTURES (CI makes
// full-size ones), or small ones made now with Debian's python3-torchvision.
func torchFixtures(t *testing.T) string {
	if dir := os.Getenv("RESGO_TORCH_FIXTURES"); dir != "" {
		return dir
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torchvision").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must check imports against PyTorch: apt-get install python3-torchvision")
		}
		t.Skip("no python3-torchvision here (apt-get install python3-torchvision)")
	}
	dir := t.TempDir()
	out, err := exec.Command("/usr/bin/python3", "../tools/torchfixtures/make_fixtures.py", "--arch", "resnet18", "resnet34", "resnet50",
		"--base-depth", "8", "--size", "64", "--classes", "10", "--out", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("making fixtures: %v\n%s", err, out)
	}
	return dir
}

func readFloats(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// TestImportTorchvision: torchvision's resnet18, resnet34 and resnet50,
// trained a few steps (batch norm's statistics are not trivial) and saved
// by torch.save in the zip and the legacy format and as safetensors, load
// into resgo's models and give PyTorch's logits (eval mode) within 1e-4 of
// the largest; resnet50 in torchvision's layout ("v1.5": the 3x3 strides),
// and the same weights in the paper's layout give what PyTorch gives with
// the stride moved to the 1x1.
func TestImportTorchvision(t *testing.T) {
	dir := torchFixtures(t)
	infos, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(infos) == 0 {
		t.Fatalf("no fixtures in %s", dir)
	}
	be := native.New(2)
	for _, infoPath := range infos {
		var info struct {
			Arch       string `json:"arch"`
			BaseDepth  int    `json:"base_depth"`
			Classes    int    `json:"classes"`
			InputShape []int  `json:"input_shape"`
		}
		b, err := os.ReadFile(infoPath)
		if err != nil || json.Unmarshal(b, &info) != nil || len(info.InputShape) != 4 {
			t.Fatalf("%s: %v", infoPath, err)
		}
		base := strings.TrimSuffix(infoPath, ".json")
		x := readFloats(t, base+"_input.f32")
		layouts := map[string]string{model.BottleneckStride3x3: base + "_logits.f32"}
		if model.HasBottlenecks(info.Arch) {
			layouts[model.BottleneckStride1x1] = base + "_v1logits.f32"
		} else {
			layouts = map[string]string{"": base + "_logits.f32"}
		}
		for _, file := range []string{base + "_zip.pt", base + "_legacy.pt", base + ".safetensors"} {
			sd, err := ReadStateDict(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(sd.Skipped) == 0 || !strings.HasSuffix(sd.Skipped[0], "num_batches_tracked") {
				t.Errorf("%s: skipped %v", file, sd.Skipped)
			}
			for stride, logitsPath := range layouts {
				c := model.Config{Arch: info.Arch, BaseDepth: info.BaseDepth, Classes: info.Classes,
					Input: [3]int{3, info.InputShape[2], info.InputShape[3]}, Stem: model.StemImageNet, BottleneckStride: stride}
				m, err := model.Build(be, c)
				if err != nil {
					t.Fatal(err)
				}
				if err := LoadStateDict(be, m, sd); err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				m.SetTraining(false)
				n := info.InputShape[0]
				xt := be.New(n, 3, info.InputShape[2], info.InputShape[3])
				be.Upload(xt, x)
				got := make([]float32, n*info.Classes)
				be.Download(m.Forward(xt), got)
				want := readFloats(t, logitsPath)
				var diff, scale float64
				for i := range want {
					diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
					scale = math.Max(scale, math.Abs(float64(want[i])))
				}
				t.Logf("%s (bottleneck stride %q): max |resgo - PyTorch| = %.3g, largest logit %.3g (%.2g relative)",
					filepath.Base(file), stride, diff, scale, diff/scale)
				if !(diff <= 1e-4*scale) {
					t.Errorf("%s (stride %q): logits differ by %.3g, %.3g of the largest", file, stride, diff, diff/scale)
				}
			}
		}
	}
}

// TestImportErrors: a file of another kind, an empty one, and weights
// that do not fit the model are one error each, naming what is wrong.
func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty.pt": "", "text.pt": "hello, not weights", "cut.pt": "PK\x03\x04trunc"} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o644)
		if _, err := ReadStateDict(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v", name, err)
		}
	}
	be := native.New(1)
	m, err := model.Build(be, model.Config{Arch: "resnet18", BaseDepth: 4, Classes: 10, Input: [3]int{3, 32, 32}})
	if err != nil {
		t.Fatal(err)
	}
	sd := &StateDict{Tensors: map[string]checkpoint.Tensor{}}
	for _, p := range m.State() {
		sd.Tensors[p.Name] = checkpoint.Tensor{Shape: p.Shape, Data: make([]float32, backend.Len(p.Shape))}
	}
	delete(sd.Tensors, "fc.bias")
	sd.Tensors["conv1.weight"] = checkpoint.Tensor{Shape: []int{4, 1, 3, 3}, Data: make([]float32, 36)}
	sd.Tensors["extra.weight"] = checkpoint.Tensor{Shape: []int{2}, Data: make([]float32, 2)}
	err = LoadStateDict(be, m, sd)
	if err == nil {
		t.Fatal("loaded weights that do not fit")
	}
	good := &StateDict{Tensors: map[string]checkpoint.Tensor{}}
	for _, p := range m.State() {
		good.Tensors[p.Name] = checkpoint.Tensor{Shape: p.Shape, Data: make([]float32, backend.Len(p.Shape))}
	}
	good.Tensors["fc.bias"].Data[3] = float32(math.Inf(1))
	if err := LoadStateDict(be, m, good); err == nil || !strings.Contains(err.Error(), "fc.bias[3] is +Inf") {
		t.Errorf("infinite weight: %v", err)
	}
	for _, want := range []string{"missing (1): fc.bias [10]", "wrong shape (1): conv1.weight is [4 1 3 3], the model's is [4 3 3 3]", "unexpected (1): extra.weight [2]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestDenseFloats: a view is gathered by its strides and offset; sizes
// that would read past the storage, or more elements than it holds (a
// stride of 0, an overflowing size), are errors, not huge allocations.
func TestDenseFloats(t *testing.T) {
	storage := &pytorch.FloatStorage{Data: []float32{0, 1, 2, 3, 4, 5, 6}}
	// The transpose of the 2x3 matrix at offset 1: [[1 4] [2 5] [3 6]].
	got, isFloat, err := denseFloats(&pytorch.Tensor{Source: storage, StorageOffset: 1, Size: []int{3, 2}, Stride: []int{1, 3}})
	if err != nil || !isFloat || !slices.Equal(got, []float32{1, 4, 2, 5, 3, 6}) {
		t.Fatalf("%v %v %v", got, isFloat, err)
	}
	for _, bad := range []*pytorch.Tensor{
		{Source: storage, Size: []int{65536, 16384}, Stride: []int{0, 0}},
		{Source: storage, Size: []int{1 << 40, 1 << 40}, Stride: []int{1, 1}},
		{Source: storage, Size: []int{2, 4}, Stride: []int{4, 1}},
		{Source: storage, StorageOffset: 9, Size: []int{1}, Stride: []int{1}},
	} {
		if _, _, err := denseFloats(bad); err == nil {
			t.Errorf("size %v, strides %v, offset %d accepted", bad.Size, bad.Stride, bad.StorageOffset)
		}
	}
	if _, isFloat, err := denseFloats(&pytorch.Tensor{Source: &pytorch.LongStorage{Data: []int64{3}}}); isFloat || err != nil {
		t.Errorf("a counter: float %v, %v", isFloat, err)
	}
}
