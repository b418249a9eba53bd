package train

import (
	"context"
	"fmt"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/model"
)

// Evaluation is a model's accuracy on a data set.
type Evaluation struct {
	Correct, Total int
	// Confusion[true][predicted] counts examples.
	Confusion [][]int
}

// Accuracy is the fraction classified correctly.
func (e Evaluation) Accuracy() float64 {
	if e.Total == 0 {
		return 0
	}
	return float64(e.Correct) / float64(e.Total)
}

// Evaluate classifies every example of set in batches, with the model in
// evaluation mode (batch norm uses its running statistics); the model is
// left in training mode. It is for sets held in memory, which cannot fail
// to read; a streamed set's read error panics (use EvaluateContext).
func Evaluate(be backend.Backend, m *model.Model, set *data.Set, batch int) Evaluation {
	return EvaluateWithProgress(be, m, set, batch, nil)
}

// EvaluateWithProgress is Evaluate, calling progress (when not nil) with
// the number of examples classified after each batch.
func EvaluateWithProgress(be backend.Backend, m *model.Model, set *data.Set, batch int, progress func(done int)) Evaluation {
	ev, err := EvaluateContext(context.Background(), be, m, set, batch, progress)
	if err != nil {
		panic(fmt.Sprintf("train: Evaluate: %v", err)) // not a partial result that looks whole
	}
	return ev
}

// EvaluateContext is EvaluateWithProgress that stops between batches when
// ctx is cancelled, returning ctx's error and the examples done so far.
func EvaluateContext(ctx context.Context, be backend.Backend, m *model.Model, set *data.Set, batch int, progress func(done int)) (Evaluation, error) {
	if batch <= 0 {
		return Evaluation{}, fmt.Errorf("train: evaluation batch size %d: must be positive", batch)
	}
	if shape := [3]int{max(1, set.Channels), set.Rows, set.Cols}; shape != m.Config.Input {
		return Evaluation{}, fmt.Errorf("train: the model takes %v images, the data set holds %v", m.Config.Input, shape)
	}
	for _, l := range set.Labels {
		if l < 0 || int(l) >= m.Config.Classes {
			return Evaluation{}, fmt.Errorf("train: label %d, but the model has %d classes", l, m.Config.Classes)
		}
	}
	m.SetTraining(false)
	defer m.SetTraining(true)
	k := m.Config.Classes
	ev := Evaluation{Confusion: make([][]int, k)}
	for i := range ev.Confusion {
		ev.Confusion[i] = make([]int, k)
	}
	per := set.Pixels()
	logits := make([]float32, batch*k)
	var x backend.Tensor
	var images []float32 // a streamed set's batch, read from its files
	var idx []int
	if set.Streamed() {
		images, idx = make([]float32, batch*per), make([]int, batch)
	}
	for lo := 0; lo < set.N; lo += batch {
		if err := ctx.Err(); err != nil {
			return ev, err
		}
		n := min(batch, set.N-lo)
		if x == nil || x.Shape()[0] != n {
			x = be.New(n, max(1, set.Channels), set.Rows, set.Cols)
		}
		if set.Streamed() {
			if err := set.ReadImages(seq(lo, n, idx), images[:n*per]); err != nil {
				return ev, err
			}
			be.Upload(x, images[:n*per])
		} else {
			be.Upload(x, set.Images[lo*per:(lo+n)*per])
		}
		out := m.Forward(x)
		be.Download(out, logits[:n*k])
		for i := 0; i < n; i++ {
			best := argmax(logits[i*k : (i+1)*k])
			truth := int(set.Labels[lo+i])
			ev.Confusion[truth][best]++
			if best == truth {
				ev.Correct++
			}
			ev.Total++
		}
		if progress != nil {
			progress(lo + n)
		}
	}
	return ev, nil
}

// seq fills idx with lo, lo+1, ..., lo+n-1.
func seq(lo, n int, idx []int) []int {
	idx = idx[:n]
	for i := range idx {
		idx[i] = lo + i
	}
	return idx
}
