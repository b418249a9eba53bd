package quantize

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/nn"
)

// MetaKey is the checkpoint metadata key of the int8 section's Info.
const MetaKey = "int8"

// tensorPrefix and tensorSuffix wrap a convolution's name into the name
// of its input map's tensor: [step, zero point].
const tensorPrefix, tensorSuffix = "int8/", "/input"

// Info says how a checkpoint's int8 section was made.
type Info struct {
	Method string `json:"method"`
	Bins   int    `json:"bins"`
	// Images is how many calibration images passed through the model.
	Images int `json:"images"`
	// Weights is the weights calibrated: "moving-average" or "raw"; the
	// int8 model must run with the same.
	Weights string `json:"weights"`
	// From is the checkpoint file the section was made from.
	From string `json:"from"`
}

// Section returns the tensors and metadata of an int8 section for
// stats: add them to a checkpoint's own.
func Section(stats []InputStats, info Info) (map[string]checkpoint.Tensor, map[string]string, error) {
	if info.Weights != "moving-average" && info.Weights != "raw" {
		return nil, nil, fmt.Errorf("quantize: weights %q: want moving-average or raw", info.Weights)
	}
	tensors := map[string]checkpoint.Tensor{}
	for _, s := range stats {
		if err := s.Quant.Validate(); err != nil {
			return nil, nil, fmt.Errorf("quantize: %s: %w", s.Conv, err)
		}
		tensors[tensorPrefix+s.Conv+tensorSuffix] = checkpoint.Tensor{Shape: []int{2}, Data: []float32{s.Quant.Step, float32(s.Quant.Zero)}}
	}
	meta, err := json.Marshal(info)
	if err != nil {
		return nil, nil, err
	}
	return tensors, map[string]string{MetaKey: string(meta)}, nil
}

// Read returns a checkpoint's int8 section: the input map of each
// convolution by name, and how they were made. A checkpoint without one
// is an error that says how to make it.
func Read(ck *checkpoint.Checkpoint) (map[string]backend.InputQuant, Info, error) {
	var info Info
	raw, ok := ck.Meta[MetaKey]
	if !ok {
		return nil, info, fmt.Errorf("%s: no int8 calibration in this checkpoint (make one with resgo quantize)", ck.Path)
	}
	if err := json.Unmarshal([]byte(raw), &info); err != nil {
		return nil, info, fmt.Errorf("%s: unreadable int8 section description: %v", ck.Path, err)
	}
	maps := map[string]backend.InputQuant{}
	for name, t := range ck.Tensors {
		conv, ok := strings.CutPrefix(name, tensorPrefix)
		if !ok {
			continue
		}
		conv, ok = strings.CutSuffix(conv, tensorSuffix)
		zero := float64(0)
		if len(t.Data) == 2 {
			zero = float64(t.Data[1])
		}
		if !ok || len(t.Shape) != 1 || len(t.Data) != 2 || zero != math.Round(zero) || zero < 0 || zero > 255 {
			return nil, info, fmt.Errorf("%s: int8 tensor %q is not a [step, zero point] pair", ck.Path, name)
		}
		q := backend.InputQuant{Step: t.Data[0], Zero: uint8(zero)}
		if err := q.Validate(); err != nil {
			return nil, info, fmt.Errorf("%s: int8 tensor %q: %w", ck.Path, name, err)
		}
		maps[conv] = q
	}
	if len(maps) == 0 {
		return nil, info, fmt.Errorf("%s: its int8 section holds no input maps", ck.Path)
	}
	return maps, info, nil
}

// Apply makes net compute its convolutions on int8 values with maps (by
// convolution name): it folds the batch norms (nn.FoldBatchNorm: build
// net for inference, not for training) and sets every convolution's
// input map. Every convolution needs one and every map its convolution;
// be must have int8 convolutions.
func Apply(be backend.Backend, net nn.Layer, maps map[string]backend.InputQuant) error {
	if _, ok := be.(backend.QuantizedConv); !ok {
		return fmt.Errorf("quantize: backend %s has no int8 convolutions", be.Name())
	}
	convs := nn.Convs(net)
	used := map[string]bool{}
	for _, c := range convs {
		q, ok := maps[c.Name]
		if !ok {
			return fmt.Errorf("quantize: no int8 input map for %s (calibrated for another model?)", c.Name)
		}
		if err := q.Validate(); err != nil {
			return fmt.Errorf("quantize: %s: %w", c.Name, err)
		}
		used[c.Name] = true
	}
	var extra []string
	for name := range maps {
		if !used[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("quantize: int8 input maps for convolutions the model lacks: %s (calibrated for another model?)", strings.Join(extra, ", "))
	}
	nn.FoldBatchNorm(net)
	for _, c := range convs {
		q := maps[c.Name]
		c.InQuant = &q
	}
	return nil
}

// WeightsName is how Info names the weights: "raw" or "moving-average".
func WeightsName(raw bool) string {
	if raw {
		return "raw"
	}
	return "moving-average"
}

// FromCheckpoint applies ck's int8 section (Read, Apply) to net, built
// from ck and loaded with its raw weights or (raw false) their moving
// averages: the ones the section was calibrated on, or an error says so.
func FromCheckpoint(be backend.Backend, net nn.Layer, ck *checkpoint.Checkpoint, raw bool) error {
	maps, info, err := Read(ck)
	if err != nil {
		return err
	}
	if info.Weights != WeightsName(raw) {
		return fmt.Errorf("%s was calibrated for its %s weights, not its %s ones: run it with the same (--raw %v)", ck.Path, info.Weights, WeightsName(raw), info.Weights == "raw")
	}
	if err := Apply(be, net, maps); err != nil {
		return fmt.Errorf("%s: %w", ck.Path, err)
	}
	return nil
}
