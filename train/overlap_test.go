package train

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/model"
)

func TestParseOverlap(t *testing.T) {
	for _, o := range []Overlap{OverlapAuto, OverlapOn, OverlapOff} {
		got, err := ParseOverlap(o.String())
		if err != nil || got != o {
			t.Errorf("ParseOverlap(%q) = %v, %v", o.String(), got, err)
		}
	}
	if _, err := ParseOverlap("yes"); err == nil || !strings.Contains(err.Error(), "auto, on or off") {
		t.Errorf("ParseOverlap(yes): %v", err)
	}
}

// TestOverlapTrials: after an untimed first step, OverlapAuto alternates
// the two ways, timing each, until it has overlapTrials of both; the
// lower median wins, and then every step runs that way untimed. A fixed
// mode never times.
func TestOverlapTrials(t *testing.T) {
	for _, c := range []struct {
		on, off time.Duration
		want    bool
	}{{100 * time.Millisecond, 80 * time.Millisecond, false}, {70 * time.Millisecond, 80 * time.Millisecond, true}} {
		u := newOverlapTuner(OverlapAuto)
		if timed, _ := u.trial(); timed {
			t.Fatal("the first step is timed")
		}
		u.steps++
		ways := map[bool]int{}
		for !u.trialsDone() {
			timed, overlap := u.trial()
			if !timed {
				t.Fatalf("step %d of the trials is not timed", u.steps)
			}
			if u.steps > 1 && ways[overlap] > ways[!overlap] {
				t.Fatalf("step %d: %v again before the other way", u.steps, overlap)
			}
			ways[overlap]++
			d := c.off
			if overlap {
				d = c.on
			}
			// One outlier each way: the median ignores it.
			if ways[overlap] == 2 {
				d *= 10
			}
			u.record(overlap, d)
			u.steps++
		}
		if ways[true] != overlapTrials || ways[false] != overlapTrials {
			t.Fatalf("trials: %v, want %d each way", ways, overlapTrials)
		}
		if u.vote() != c.want {
			t.Fatalf("on %v, off %v: voted %v", c.on, c.off, u.vote())
		}
		u.fix(u.vote())
		if timed, overlap := u.trial(); timed || overlap != c.want {
			t.Fatalf("after the choice: timed %v, overlap %v", timed, overlap)
		}
		if !strings.Contains(u.decision, "median step") {
			t.Fatalf("decision: %q", u.decision)
		}
	}
	for _, mode := range []Overlap{OverlapOn, OverlapOff} {
		u := newOverlapTuner(mode)
		for range 20 {
			if timed, overlap := u.trial(); timed || overlap != (mode == OverlapOn) {
				t.Fatalf("%v: timed %v, overlap %v", mode, timed, overlap)
			}
			u.steps++
		}
		if u.decision != "" {
			t.Fatalf("%v: decision %q", mode, u.decision)
		}
	}
}

// TestOverlapKeepsResults: a trainer in a job (of ranks that all compute
// the same) gives the same losses and weights, bit for bit, whether its
// buckets go during backward, after it, or as OverlapAuto's trials
// alternate them, and OverlapAuto reports its choice once the trials are
// done.
func TestOverlapKeepsResults(t *testing.T) {
	c := model.Config{Arch: "resnet18", Stem: "small", BaseDepth: 4, Classes: 10, Input: [3]int{1, 12, 12}}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	const batch, steps = 4, 2*overlapTrials + 3
	r := rand.New(rand.NewPCG(3, 4))
	images := make([]float32, steps*batch*12*12)
	labels := make([]int32, steps*batch)
	for i := range images {
		images[i] = r.Float32()
	}
	for i := range labels {
		labels[i] = int32(r.IntN(10))
	}
	run := func(mode Overlap) ([]float64, []float32, string) {
		be := native.New(1)
		m, err := model.Build(be, c)
		if err != nil {
			t.Fatal(err)
		}
		m.Init(5)
		h := DefaultHyper()
		h.BatchSize, h.Momentum = batch, 0.9
		tn := NewTrainer(be, m, h, 100)
		tn.SetOverlap(mode)
		tn.SetTransport(&echoTransport{size: 2})
		var losses []float64
		for s := range steps {
			losses = append(losses, tn.TrainStep(images[s*batch*144:(s+1)*batch*144], labels[s*batch:(s+1)*batch]))
			if d := tn.OverlapDecision(); (d != "") != (mode == OverlapAuto && s+1 > 2*overlapTrials+1) {
				t.Fatalf("%v, after step %d: decision %q", mode, s+1, d)
			}
		}
		var weights []float32
		for _, p := range m.Params {
			v := make([]float32, backend.Len(p.Shape))
			be.Download(p.Value, v)
			weights = append(weights, v...)
		}
		return losses, weights, tn.OverlapDecision()
	}
	on, onW, _ := run(OverlapOn)
	off, offW, _ := run(OverlapOff)
	auto, autoW, decision := run(OverlapAuto)
	for s := range steps {
		if on[s] != off[s] || on[s] != auto[s] {
			t.Fatalf("step %d: loss %v overlapping, %v after backward, %v choosing", s+1, on[s], off[s], auto[s])
		}
	}
	if !slices.Equal(onW, offW) || !slices.Equal(onW, autoW) {
		t.Fatal("the weights differ between the ways of overlapping")
	}
	t.Log(decision)
}

// TestOverlapModesAreValidated: Run refuses a mode that is none of the
// three, and SetOverlap panics on one.
func TestOverlapModesAreValidated(t *testing.T) {
	o := Options{Hyper: DefaultHyper(), SaveEvery: 1, Overlap: Overlap(7),
		Model: model.Config{Arch: "seed-resnet34", BaseDepth: 8, Classes: 10, Input: [3]int{1, 28, 28}}}
	if err := o.validate(&data.Set{N: 1000, Rows: 28, Cols: 28}); err == nil || !strings.Contains(err.Error(), "not an overlap mode") {
		t.Errorf("Overlap(7): %v", err)
	}
	o.Overlap = OverlapOff
	if err := o.validate(&data.Set{N: 1000, Rows: 28, Cols: 28}); err != nil {
		t.Errorf("OverlapOff: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("SetOverlap(-1) did not panic")
		}
	}()
	(&Trainer{}).SetOverlap(-1)
}
