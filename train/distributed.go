package train

import (
	"fmt"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/dist"
	"github.com/resgo/resgo/nn"
)

// SetTransport makes the trainer one rank of a data-parallel job: each
// step is given this rank's share of the global batch (the same number of
// examples on every rank), and the gradients, the loss and the count of
// correct answers are averaged (summed) over the ranks before the update,
// so that every rank, starting from the same weights, applies the update
// a single process would for the global batch. Batch norm uses each
// rank's own batch statistics, as PyTorch's DDP does by default.
// TrainStep panics if the transport fails: the job cannot go on.
func (t *Trainer) SetTransport(tr dist.Transport) {
	if tr != nil && tr.Size() > 1 {
		t.dist = tr
	} else {
		t.dist = nil
	}
}

// averageGradients replaces each updated parameter's gradient by its mean
// over the ranks: one all-reduce over a buffer holding them all.
func (t *Trainer) averageGradients(params []*nn.Param) {
	total := 0
	for _, p := range params {
		total += backend.Len(p.Shape)
	}
	if cap(t.gradBuf) < total {
		t.gradBuf = make([]float32, total)
	}
	buf := t.gradBuf[:total]
	off := 0
	for _, p := range params {
		n := backend.Len(p.Shape)
		t.Be.Download(p.Grad, buf[off:off+n])
		off += n
	}
	if err := t.dist.AllReduceSum(buf); err != nil {
		panic(fmt.Sprintf("train: rank %d: averaging gradients at step %d: %v", t.dist.Rank(), t.Step+1, err))
	}
	scale := 1 / float32(t.dist.Size())
	for i := range buf {
		buf[i] *= scale
	}
	off = 0
	for _, p := range params {
		n := backend.Len(p.Shape)
		t.Be.Upload(p.Grad, buf[off:off+n])
		off += n
	}
}

// averageLoss is the mean of the ranks' batch losses and the total of
// their correct answers.
func (t *Trainer) averageLoss(loss float64, correct int) (float64, int) {
	pair := []float32{float32(loss), float32(correct)}
	if err := t.dist.AllReduceSum(pair); err != nil {
		panic(fmt.Sprintf("train: rank %d: averaging the loss at step %d: %v", t.dist.Rank(), t.Step+1, err))
	}
	return float64(pair[0]) / float64(t.dist.Size()), int(pair[1] + 0.5)
}
