package train_test

import (
	"math/rand/v2"
	"testing"

	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/train"
)

// BenchmarkTrainStep times one SGD step of the seed ResNet-34 at batch 100
// on random images, reporting images/s.
func BenchmarkTrainStep(b *testing.B) {
	be := native.New(0)
	m, err := model.Build(be, model.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	m.Init(1)
	tr := train.NewTrainer(be, m, train.DefaultHyper(), 55000)
	r := rand.New(rand.NewPCG(1, 1))
	images := make([]float32, 100*28*28)
	labels := make([]int32, 100)
	for i := range images {
		images[i] = r.Float32()
	}
	for i := range labels {
		labels[i] = int32(r.IntN(10))
	}
	tr.TrainStep(images, labels)
	b.ResetTimer()
	for b.Loop() {
		tr.TrainStep(images, labels)
	}
	b.ReportMetric(100*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
