package nn_test

import (
	"math"
	"testing"

	"github.com/resgo/resgo/backend/reference"
	"github.com/resgo/resgo/nn"
)

// TestBatchNormRunningStatistics follows PyTorch: the running mean and the
// unbiased running variance move by the momentum, and evaluation uses them.
func TestBatchNormRunningStatistics(t *testing.T) {
	be := reference.New()
	bn := nn.NewBatchNorm(be, "bn", 1, false)
	x := be.New(2, 1, 1, 2)
	be.Upload(x, []float32{1, 2, 3, 6}) // mean 3, biased variance 3.5, unbiased 14/3
	bn.Forward(x)
	got := make([]float32, 1)
	be.Download(bn.RunningMean.Value, got)
	if want := float32(0.9*0 + 0.1*3); math.Abs(float64(got[0]-want)) > 1e-6 {
		t.Fatalf("running mean %v, want %v", got[0], want)
	}
	be.Download(bn.RunningVar.Value, got)
	if want := float32(0.9*1 + 0.1*14.0/3); math.Abs(float64(got[0]-want)) > 1e-6 {
		t.Fatalf("running variance %v, want %v", got[0], want)
	}
	if len(nn.Stats(&nn.Sequential{Layers: []nn.Layer{bn}})) != 2 {
		t.Fatal("Stats does not find the batch norm's statistics")
	}

	nn.SetTraining(&nn.Sequential{Layers: []nn.Layer{bn}}, false)
	be.Upload(bn.RunningMean.Value, []float32{2})
	be.Upload(bn.RunningVar.Value, []float32{4})
	y := bn.Forward(x)
	out := make([]float32, 4)
	be.Download(y, out)
	for i, v := range []float32{1, 2, 3, 6} {
		want := (v - 2) / float32(math.Sqrt(4+1e-5))
		if math.Abs(float64(out[i]-want)) > 1e-6 {
			t.Fatalf("evaluation output %d = %v, want %v", i, out[i], want)
		}
	}
	be.Download(bn.RunningMean.Value, got)
	if got[0] != 2 {
		t.Fatalf("evaluation changed the running mean to %v", got[0])
	}
}
