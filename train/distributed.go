package train

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/dist"
	"github.com/resgo/resgo/nn"
)

// SetTransport makes the trainer one rank of a data-parallel job: each
// step is given this rank's share of the global batch (the same number of
// examples on every rank), and the gradients (in buckets, during backward:
// see buckets.go), the batch norms' running statistics, the loss and the
// count of correct answers are averaged (summed) over the ranks before the
// update,
// so that every rank, starting from the same weights, applies the update
// a single process would for the global batch. Batch norm uses each
// rank's own batch statistics, as PyTorch's DDP does by default.
// TrainStep panics if the transport fails: the job cannot go on.
func (t *Trainer) SetTransport(tr dist.Transport) {
	if t.red != nil {
		t.red.close()
		t.red = nil
	}
	if tr != nil && tr.Size() > 1 {
		t.dist = tr
	} else {
		t.dist = nil
	}
	t.tuner = newOverlapTuner(t.overlap)
}

// SetOverlap sets when the gradients' all-reduces start (see Overlap;
// the default is OverlapAuto). Every rank must be given the same.
func (t *Trainer) SetOverlap(o Overlap) {
	if o < OverlapAuto || o > OverlapOff {
		panic(fmt.Sprintf("train: SetOverlap(%v): not an overlap mode", o))
	}
	t.overlap = o
	t.tuner = newOverlapTuner(o)
}

// decideOverlap ends OverlapAuto's trials: every rank takes rank 0's
// choice (one all-reduce, which every rank reaches at the same step).
func (t *Trainer) decideOverlap() {
	vote := []float32{0}
	if t.dist.Rank() == 0 && t.tuner.vote() {
		vote[0] = 1
	}
	if err := t.dist.AllReduceSum(vote); err != nil {
		panic(fmt.Sprintf("train: rank %d: choosing when to all-reduce at step %d: %v", t.dist.Rank(), t.Step+1, err))
	}
	t.tuner.fix(vote[0] > 0)
}

// OverlapDecision describes OverlapAuto's choice and the timings behind
// it once the trials are over; empty before, and with a fixed mode.
func (t *Trainer) OverlapDecision() string {
	if t.tuner == nil {
		return ""
	}
	return t.tuner.decision
}

// reducerFor returns the bucketed all-reduce of params (the updated
// ones), made again when they change (Freeze).
func (t *Trainer) reducerFor(params []*nn.Param) *reducer {
	if t.red != nil && slices.Equal(t.red.params, params) {
		return t.red
	}
	if t.red != nil {
		t.red.close()
	}
	t.red = newReducer(t.dist, t.Be, t.Model.Net.Layers, params, t.Model.Stats)
	return t.red
}

// share returns the rows [lo, hi) of a global batch of rows that this
// rank trains on: contiguous, the same count on every rank.
func share(tr dist.Transport, rows int) (lo, hi int) {
	per := rows / tr.Size()
	return tr.Rank() * per, (tr.Rank() + 1) * per
}

// shareState makes every rank's trainer state rank 0's (weights, moving
// averages, momentum, step), so that a job started or resumed on rank 0
// alone needs no file system shared between hosts: rank 0 encodes its
// snapshot as a safetensors file in memory and broadcasts the bytes.
func shareState(t *Trainer, tr dist.Transport) error {
	var blob []byte
	if tr.Rank() == 0 {
		tensors, meta := t.Snapshot()
		meta["step"] = strconv.FormatInt(t.Step, 10)
		var b bytes.Buffer
		if err := checkpoint.Encode(&b, tensors, meta); err != nil {
			return err
		}
		blob = b.Bytes()
	}
	size := make([]byte, 8)
	binary.LittleEndian.PutUint64(size, uint64(len(blob)))
	if err := tr.BroadcastBytes(size, 0); err != nil {
		return fmt.Errorf("sending the training state from rank 0: %w", err)
	}
	if tr.Rank() != 0 {
		blob = make([]byte, binary.LittleEndian.Uint64(size))
	}
	if err := tr.BroadcastBytes(blob, 0); err != nil {
		return fmt.Errorf("sending the training state from rank 0: %w", err)
	}
	if tr.Rank() == 0 {
		return nil
	}
	tensors, meta, err := checkpoint.Decode(blob, "rank 0's state")
	if err != nil {
		return err
	}
	step, err := strconv.ParseInt(meta["step"], 10, 64)
	if err != nil {
		return fmt.Errorf("rank 0's state: step %q", meta["step"])
	}
	return t.Restore(&checkpoint.Checkpoint{Path: "rank 0's state", Step: step, Tensors: tensors, Meta: meta})
}

// anyStops reports, on every rank, whether any rank asked to stop (an
// interrupt reaches the ranks at different steps; all must stop after the
// same one).
func anyStops(tr dist.Transport, stop bool) (bool, error) {
	flag := []float32{0}
	if stop {
		flag[0] = 1
	}
	if err := tr.AllReduceSum(flag); err != nil {
		return false, err
	}
	return flag[0] > 0, nil
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
