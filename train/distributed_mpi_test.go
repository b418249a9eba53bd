//go:build mpi

package train

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/dist"
	"github.com/resgo/resgo/dist/disttest"
	"github.com/resgo/resgo/model"
)

// TestDataParallelMatchesOneProcess: two ranks under mpirun (one thread
// each, direct convolutions), each training seed-resnet34 (narrow) on its
// half of every global batch of 8 and averaging gradients, give the losses
// of one process training on the whole batches, step for step, within
// 1e-5 relative, and weights within 1e-5 of their scale after 50 steps
// (only the order of the sums differs), and the same losses bit for bit
// whether the buckets go during backward, after it, or as OverlapAuto
// tries both. Rank 0 runs the single process too, after the job's steps.
func TestDataParallelMatchesOneProcess(t *testing.T) {
	if !disttest.Launched() {
		out, err := disttest.Run(t, 2, "TestDataParallelMatchesOneProcess", 5*time.Minute)
		if err != nil || !strings.Contains(out, "data-parallel ok") {
			t.Fatalf("mpirun: %v\n%s", err, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "relative") {
				t.Log(strings.TrimSpace(line))
			}
		}
		return
	}
	tr, err := dist.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	const global, steps = 8, 50
	c := model.Config{Arch: "seed-resnet34", BaseDepth: 8, Classes: 10, Input: [3]int{1, 28, 28}}
	h := DefaultHyper()
	h.BatchSize, h.Steps, h.Momentum = global, steps, 0.9
	per := 28 * 28
	r := rand.New(rand.NewPCG(11, 12))
	images := make([]float32, steps*global*per)
	labels := make([]int32, steps*global)
	for i := range images {
		images[i] = r.Float32()
	}
	for i := range labels {
		labels[i] = int32(r.IntN(10))
	}
	run := func(tr dist.Transport, overlap Overlap) ([]float64, *Trainer) {
		be := native.NewDirect(1)
		m, err := model.Build(be, c)
		if err != nil {
			t.Fatal(err)
		}
		m.Init(h.Seed)
		tn := NewTrainer(be, m, h, 1000)
		tn.SetOverlap(overlap)
		tn.SetTransport(tr)
		share, lo := global, 0
		if tr != nil {
			share = global / tr.Size()
			lo = tr.Rank() * share
		}
		var losses []float64
		for s := range steps {
			b := s * global
			losses = append(losses, tn.TrainStep(images[(b+lo)*per:(b+lo+share)*per], labels[b+lo:b+lo+share]))
		}
		return losses, tn
	}
	dp, dpt := run(tr, OverlapAuto)
	// Sending the buckets during backward or after it changes nothing.
	for _, o := range []Overlap{OverlapOn, OverlapOff} {
		if again, _ := run(tr, o); !slices.Equal(again, dp) {
			t.Errorf("rank %d: the losses with --overlap %v differ from auto's", tr.Rank(), o)
		}
	}
	if tr.Rank() != 0 {
		return
	}
	one, onet := run(nil, OverlapAuto)
	worst := 0.0
	for s := range steps {
		rel := math.Abs(dp[s]-one[s]) / math.Abs(one[s])
		worst = math.Max(worst, rel)
		if rel > 1e-5 {
			t.Errorf("step %d: loss %.9g in the job, %.9g alone (%.2g relative)", s+1, dp[s], one[s], rel)
		}
	}
	var wdiff, wscale float64
	for i, p := range dpt.Model.Params {
		a, b := make([]float32, backend.Len(p.Shape)), make([]float32, backend.Len(p.Shape))
		dpt.Be.Download(p.Value, a)
		onet.Be.Download(onet.Model.Params[i].Value, b)
		for j := range a {
			wdiff = math.Max(wdiff, math.Abs(float64(a[j]-b[j])))
			wscale = math.Max(wscale, math.Abs(float64(b[j])))
		}
	}
	fmt.Printf("losses of %d steps: at most %.2g relative apart; weights %.2g apart, %.2g of their scale (relative)\n", steps, worst, wdiff, wdiff/wscale)
	if wdiff > 1e-5*wscale {
		t.Errorf("weights after %d steps differ by %.3g (scale %.3g)", steps, wdiff, wscale)
	}
	if !t.Failed() {
		fmt.Println("data-parallel ok")
	}
}

// TestRunUnderMPIResumes: train.Run as two ranks (batch 8, 4 images
// each) for 6 steps, saving every 3, then again to step 10, resuming from
// what rank 0 saved (rank 0 reads it and sends it to rank 1): the 10
// losses rank 0 prints match one process's 10 steps within 1e-5
// relative, and only rank 0 wrote checkpoints.
func TestRunUnderMPIResumes(t *testing.T) {
	if !disttest.Launched() {
		dir := t.TempDir()
		t.Setenv("RESGO_TEST_DIR", dir)
		out, err := disttest.Run(t, 2, "TestRunUnderMPIResumes", 5*time.Minute)
		if err != nil || !strings.Contains(out, "resume ok") {
			t.Fatalf("mpirun: %v\n%s", err, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "relative") {
				t.Log(strings.TrimSpace(line))
			}
		}
		return
	}
	tr, err := dist.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// A rank that fails ends the job: the other would wait for it.
	defer func() {
		if t.Failed() {
			tr.Abort(1)
		}
	}()
	dir := os.Getenv("RESGO_TEST_DIR")
	r := rand.New(rand.NewPCG(21, 22))
	set := &data.Set{N: 160, Rows: 28, Cols: 28, Images: make([]float32, 160*28*28), Labels: make([]int32, 160)}
	for i := range set.Images {
		set.Images[i] = r.Float32()
	}
	for i := range set.Labels {
		set.Labels[i] = int32(r.IntN(10))
	}
	// Progress sees the exact losses (rank 0 only).
	var job, one []float64
	options := func(sub string, steps int64, tr dist.Transport, out *bytes.Buffer, losses *[]float64) Options {
		h := DefaultHyper()
		h.BatchSize, h.Steps, h.Momentum = 8, steps, 0.9
		return Options{Hyper: h, Model: model.Config{Arch: "seed-resnet34", BaseDepth: 8, Classes: 10, Input: [3]int{1, 28, 28}},
			Prefix: "m", CheckpointDir: filepath.Join(dir, sub), SaveEvery: 3, Keep: 5, Out: out, Transport: tr,
			Progress: func(_ int64, loss float64) { *losses = append(*losses, loss) }}
	}
	var first, second bytes.Buffer
	if _, err := Run(context.Background(), native.NewDirect(1), set, options("job", 6, tr, &first, &job)); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), native.NewDirect(1), set, options("job", 10, tr, &second, &job)); err != nil {
		t.Fatal(err)
	}
	if tr.Rank() != 0 {
		if first.Len()+second.Len() != 0 {
			t.Errorf("rank %d printed:\n%s%s", tr.Rank(), first.String(), second.String())
		}
		return
	}
	var alone bytes.Buffer
	if _, err := Run(context.Background(), native.NewDirect(1), set, options("alone", 10, nil, &alone, &one)); err != nil {
		t.Fatal(err)
	}
	if len(job) != 10 || len(one) != 10 || !strings.HasPrefix(second.String(), "After 7 ") {
		t.Fatalf("job printed %d losses (resumed run from %q), alone %d", len(job), strings.SplitN(second.String(), "\n", 2)[0], len(one))
	}
	worst := 0.0
	for s := range job {
		rel := math.Abs(job[s]-one[s]) / math.Abs(one[s])
		worst = math.Max(worst, rel)
		if rel > 1e-5 {
			t.Errorf("step %d: loss %.9g in the job, %.9g alone", s+1, job[s], one[s])
		}
	}
	saved, err := filepath.Glob(filepath.Join(dir, "job", "m-*.safetensors"))
	if err != nil || len(saved) != 4 { // steps 3, 6, 9, 10
		t.Errorf("job's checkpoints: %v (%v)", saved, err)
	}
	fmt.Printf("resumed job vs one process, 10 steps: losses at most %.2g relative apart\n", worst)
	if !t.Failed() {
		fmt.Println("resume ok")
	}
}
