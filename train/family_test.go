package train_test

import (
	"context"
	"io"
	"math"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/train"
)

// TestEveryArchitectureTrainsSavesAndReloads trains every configuration of
// the family (narrow, on MNIST-sized inputs) for a few momentum steps,
// then checks that the checkpoint reloads to the same evaluation-mode
// outputs and that resuming continues from it.
func TestEveryArchitectureTrainsSavesAndReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for seconds; skipped with -short")
	}
	ds := realMNIST(t)
	for _, nb := range append([]namedBackend{{"native", native.New(2)}}, extraBackends...) {
		t.Run(nb.name, func(t *testing.T) { trainEveryArchitecture(t, nb.be, ds) })
	}
}

func trainEveryArchitecture(t *testing.T, be backend.Backend, ds *data.MNIST) {
	configs := []model.Config{}
	for _, arch := range model.Archs() {
		configs = append(configs, model.Config{Arch: arch, BaseDepth: 8, Classes: 10, Input: [3]int{1, 28, 28}})
	}
	for _, s := range []string{model.ShortcutA, model.ShortcutC} {
		configs = append(configs, model.Config{Arch: "resnet18", BaseDepth: 8, Classes: 10, Input: [3]int{1, 28, 28}, Shortcut: s})
	}
	configs = append(configs, model.Config{Arch: "resnet50", BaseDepth: 8, Classes: 10, Input: [3]int{1, 28, 28}, Stem: model.StemImageNet, Shortcut: model.ShortcutA})
	for _, mc := range configs {
		name := mc.Arch + "/" + mc.Shortcut + mc.Stem
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			h := train.DefaultHyper()
			h.BatchSize, h.Steps, h.LearningRate, h.Momentum, h.L2 = 8, 3, 0.01, 0.9, 1e-4
			o := train.Options{Hyper: h, Model: mc, Prefix: "m", CheckpointDir: dir, SaveEvery: 2, Keep: 2, Out: io.Discard,
				Validation: ds.Validation.Subset(0, 16), EvalEvery: 3, Log: io.Discard}
			res, err := train.Run(context.Background(), be, ds.Train.Subset(0, 64), o)
			if err != nil {
				t.Fatal(err)
			}
			if !train.Finite(res.Loss) {
				t.Fatalf("loss %v", res.Loss)
			}
			store := &checkpoint.Store{Dir: dir, Prefix: "m"}
			ck, _, err := store.LoadLatestGood()
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := model.Build(be, mc)
			if err != nil {
				t.Fatal(err)
			}
			if err := train.LoadWeights(be, fresh, ck, false); err != nil {
				t.Fatal(err)
			}
			x := be.New(4, 1, 28, 28)
			be.Upload(x, ds.Test.Images[:4*28*28])
			trained := res.Trainer.Model
			trained.SetTraining(false)
			fresh.SetTraining(false)
			want, got := host(be, trained.Forward(x)), host(be, fresh.Forward(x))
			if !equalBits(want, got) {
				t.Fatalf("reloaded model's logits %v differ from the trained one's %v", got, want)
			}
			// Resume for one more step from the checkpoint.
			o.Hyper.Steps = 4
			res2, err := train.Run(context.Background(), be, ds.Train.Subset(0, 64), o)
			if err != nil || res2.Step != 4 {
				t.Fatalf("resume: step %d, %v", res2.Step, err)
			}
		})
	}
}

func host(be backend.Backend, t backend.Tensor) []float32 {
	v := make([]float32, backend.Len(t.Shape()))
	be.Download(t, v)
	return v
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
