package quantize

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/nn"
)

// randomModel builds arch (base depth 8) with random weights and, for
// batch norms, random scales, shifts and running statistics, so folding
// has something to fold; in evaluation mode.
func randomModel(t *testing.T, be backend.Backend, arch string, input [3]int) *model.Model {
	t.Helper()
	m, err := model.Build(be, model.Config{Arch: arch, BaseDepth: 8, Classes: 10, Input: input})
	if err != nil {
		t.Fatal(err)
	}
	m.Init(7)
	r := rand.New(rand.NewPCG(8, 9))
	for _, p := range m.State() {
		if len(p.Shape) != 1 || !strings.Contains(p.Name, "bn") && !strings.Contains(p.Name, "downsample") {
			continue
		}
		v := make([]float32, p.Shape[0])
		for i := range v {
			switch {
			case strings.HasSuffix(p.Name, "running_var"), strings.HasSuffix(p.Name, ".weight"):
				v[i] = float32(0.5 + r.Float64())
			default:
				v[i] = float32(0.3 * r.NormFloat64())
			}
		}
		be.Upload(p.Value, v)
	}
	m.SetTraining(false)
	return m
}

func randomImages(be backend.Backend, n int, input [3]int, seed uint64) backend.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n*input[0]*input[1]*input[2])
	for i := range v {
		v[i] = r.Float32()
	}
	x := be.New(n, input[0], input[1], input[2])
	be.Upload(x, v)
	return x
}

func logits(be backend.Backend, m *model.Model, x backend.Tensor) []float32 {
	y := m.Forward(x)
	v := make([]float32, backend.Len(y.Shape()))
	be.Download(y, v)
	return v
}

// maxRelDiff is max |a-b| over max |b|.
func maxRelDiff(a, b []float32) float64 {
	var d, scale float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
		scale = max(scale, math.Abs(float64(b[i])))
	}
	return d / scale
}

// TestFoldBatchNorm: a ResNet-18 with its batch norms folded into the
// convolutions gives the unfolded network's logits (to float32
// rounding), and has no batch norms left.
func TestFoldBatchNorm(t *testing.T) {
	be := native.New(2)
	input := [3]int{3, 32, 32}
	m := randomModel(t, be, "resnet18", input)
	x := randomImages(be, 4, input, 1)
	want := logits(be, m, x)
	if n := nn.FoldBatchNorm(m.Net); n != 20 {
		t.Fatalf("folded %d batch norms, ResNet-18 has 20", n)
	}
	if len(nn.Stats(m.Net)) != 0 {
		t.Fatal("batch norms left after folding")
	}
	got := logits(be, m, x)
	if d := maxRelDiff(got, want); d > 1e-5 {
		t.Fatalf("folded logits differ by %.3g of the largest", d)
	}
}

// TestCalibrateAndApply: calibrated on 16 images, the int8 model's
// logits on 16 others stay within 3% (of the largest) of float32's, for
// the tutorial's network (signed residual sums) and a ResNet-18 with batch
// norms (folded), with every convolution on bytes and with the small ones
// left to float32; and int8 is really computed (the logits differ).
func TestCalibrateAndApply(t *testing.T) {
	for _, c := range []struct {
		arch       string
		input      [3]int
		everywhere bool
	}{
		{"seed-resnet34", [3]int{1, 28, 28}, false}, {"seed-resnet34", [3]int{1, 28, 28}, true},
		{"resnet18", [3]int{3, 32, 32}, false}, {"resnet18", [3]int{3, 32, 32}, true},
	} {
		t.Run(fmt.Sprintf("%s/int8-everywhere=%v", c.arch, c.everywhere), func(t *testing.T) {
			be, err := native.NewWith(native.Options{Threads: 2, Int8Everywhere: c.everywhere})
			if err != nil {
				t.Fatal(err)
			}
			m := randomModel(t, be, c.arch, c.input)
			calib, x := randomImages(be, 16, c.input, 2), randomImages(be, 16, c.input, 3)
			want := logits(be, m, x)
			stats, err := Calibrate(be, m.Net, func() error { m.Forward(calib); return nil })
			if err != nil {
				t.Fatal(err)
			}
			convs := nn.Convs(m.Net)
			if len(stats) != len(convs) {
				t.Fatalf("%d input maps for %d convolutions", len(stats), len(convs))
			}
			signed := 0
			maps := map[string]backend.InputQuant{}
			for _, s := range stats {
				if s.Quant.Zero > 0 {
					signed++
				}
				if s.Lo < min(s.Min, 0)-1e-6 || s.Hi > max(s.Max, 0)+1e-6 || s.Lo > 0 || s.Hi < 0 || !(s.SQNR > 20) {
					t.Errorf("%s: seen [%v, %v], clipped to [%v, %v], SQNR %v", s.Conv, s.Min, s.Max, s.Lo, s.Hi, s.SQNR)
				}
				maps[s.Conv] = s.Quant
			}
			if c.arch == "seed-resnet34" && signed == 0 {
				t.Error("no input took a zero point, but the residual sums are signed")
			}
			if convs[0].Observe != nil {
				t.Error("Calibrate left its observers on")
			}
			if err := Apply(be, m.Net, maps); err != nil {
				t.Fatal(err)
			}
			got := logits(be, m, x)
			d := maxRelDiff(got, want)
			if !c.everywhere && !be.U8S8Native() {
				// No VNNI: the backend keeps every convolution in float32;
				// only the folding of batch norms changes the rounding.
				if d > 1e-5 {
					t.Fatalf("without AVX512-VNNI the logits differ from float32's by %.3g", d)
				}
				t.Skip("SKIP: this CPU has no AVX512-VNNI: the default backend computes int8 models in float32 (checked within 1e-5)")
			}
			if d > 0.03 || d == 0 {
				t.Fatalf("int8 logits differ from float32's by %.3g of the largest (want (0, 0.03])", d)
			}
			t.Logf("int8 logits within %.3g of float32's", d)
		})
	}
}

// TestSectionRoundTrip: an int8 section saved in a checkpoint file reads
// back as written and applies; a mismatched or damaged one is refused
// with a message naming the problem.
func TestSectionRoundTrip(t *testing.T) {
	be := native.New(2)
	input := [3]int{1, 28, 28}
	m := randomModel(t, be, "seed-resnet34", input)
	stats, err := Calibrate(be, m.Net, func() error { m.Forward(randomImages(be, 4, input, 4)); return nil })
	if err != nil {
		t.Fatal(err)
	}
	info := Info{Method: Method, Bins: Bins, Images: 4, Weights: "moving-average", From: "x.safetensors"}
	tensors, meta, err := Section(stats, info)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.int8.safetensors")
	if err := checkpoint.SaveFile(path, 3, tensors, meta); err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	maps, got, err := Read(ck)
	if err != nil || got != info || len(maps) != len(stats) {
		t.Fatalf("read back %d maps, %+v, %v", len(maps), got, err)
	}
	for _, s := range stats {
		if maps[s.Conv] != s.Quant {
			t.Fatalf("%s: read %+v, wrote %+v", s.Conv, maps[s.Conv], s.Quant)
		}
	}
	refuse := func(what string, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", what, err, want)
		}
	}
	refuse("raw weights", FromCheckpoint(be, m.Net, ck, true), "calibrated for its moving-average weights")
	name := stats[0].Conv
	missing := map[string]backend.InputQuant{}
	for k, v := range maps {
		if k != name {
			missing[k] = v
		}
	}
	refuse("a missing map", Apply(be, m.Net, missing), "no int8 input map for "+name)
	maps["nowhere/Conv"] = backend.InputQuant{Step: 1}
	refuse("an extra map", Apply(be, m.Net, maps), "nowhere/Conv")
	refuse("a backend without int8", Apply(struct{ backend.Backend }{be}, m.Net, maps), "no int8 convolutions")
	for _, bad := range [][]float32{{0.1, 300}, {-1, 0}, {0.1, 2.5}, {0.1}} {
		ck.Tensors[tensorPrefix+name+tensorSuffix] = checkpoint.Tensor{Shape: []int{len(bad)}, Data: bad}
		_, _, err := Read(ck)
		refuse("a bad map", err, name)
	}
	delete(ck.Meta, MetaKey)
	_, _, err = Read(ck)
	refuse("no section", err, "resgo quantize")
	if err := FromCheckpoint(be, m.Net, &checkpoint.Checkpoint{Path: "p", Meta: meta, Tensors: tensors}, false); err != nil {
		t.Fatal(err)
	}
}
