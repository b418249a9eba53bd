package model

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
)

// TestSeedResNet34Size pins the tutorial model's size to SPEC.md's figures.
func TestSeedResNet34Size(t *testing.T) {
	m, err := Build(native.New(1), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	params, macs := m.Summary(&buf)
	if params != 20371178 || m.NumParams() != 20371178 {
		t.Errorf("parameters: summary %d, model %d; want 20,371,178", params, m.NumParams())
	}
	if macs != 254275584 {
		t.Errorf("multiply-adds %d, want 254,275,584", macs)
	}
	out := buf.String()
	for _, want := range []string{"resnet_layer/layer28-33-conv/Conv_6", "14x14", "2x2", "20,371,178", "254,275,584"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// Output shapes of the stages: 64x14x14 -> 32x7x7 -> 128x7x7 ... -> 10.
	if p := m.Param("resnet_layer/layer10-15-conv/Conv/weights"); p == nil || p.Shape[0] != 32 || p.Shape[1] != 64 {
		t.Errorf("down-sampling before stage 2: %+v", p)
	}
	if p := m.Param("layer34-fc/weight"); p == nil || p.Shape[0] != 10 || p.Shape[1] != 512 || !p.Decay {
		t.Errorf("fc weight: %+v", p)
	}
}

func TestInitMatchesTFSlim(t *testing.T) {
	be := native.New(1)
	m, err := Build(be, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	get := func(name string) []float32 {
		p := m.Param(name)
		v := make([]float32, backend.Len(p.Shape))
		be.Download(p.Value, v)
		return v
	}
	w := get("resnet_layer/layer28-33-conv/Conv_6/weights")
	limit := math.Sqrt(6.0 / (9 * (512 + 512)))
	var sumSq float64
	for _, v := range w {
		if math.Abs(float64(v)) > limit {
			t.Fatalf("conv weight %v beyond the Glorot limit %v", v, limit)
		}
		sumSq += float64(v) * float64(v)
	}
	if std := math.Sqrt(sumSq / float64(len(w))); math.Abs(std-limit/math.Sqrt(3)) > 0.01*limit {
		t.Errorf("conv weight std %v, want %v", std, limit/math.Sqrt(3))
	}
	for _, v := range get("resnet_layer/layer28-33-conv/Conv_6/biases") {
		if v != 0 {
			t.Fatal("conv biases must start at zero")
		}
	}
	for _, v := range get("layer34-fc/weight") {
		if math.Abs(float64(v)) > 0.2 {
			t.Fatalf("fc weight %v beyond two standard deviations", v)
		}
	}
	for _, v := range get("layer34-fc/bias") {
		if v != 0.1 {
			t.Fatal("fc bias must start at 0.1")
		}
	}
}

func TestBuildErrors(t *testing.T) {
	for _, c := range []Config{
		{Arch: "nope", BaseDepth: 64, Classes: 10, Input: [3]int{1, 28, 28}},
		{Arch: "seed-resnet34", BaseDepth: 6, Classes: 10, Input: [3]int{1, 28, 28}},
		{Arch: "seed-resnet34", BaseDepth: 64, Classes: 1, Input: [3]int{1, 28, 28}},
	} {
		if _, err := Build(native.New(1), c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
