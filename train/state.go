package train

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/optim"
)

// Metadata keys of a resgo checkpoint.
const (
	metaModel = "model"
	metaHyper = "hyper"
)

// Snapshot gathers the trainer's state as checkpoint tensors and metadata.
func (t *Trainer) Snapshot() (map[string]checkpoint.Tensor, map[string]string) {
	tensors := map[string]checkpoint.Tensor{}
	for i, p := range t.Model.State() {
		tensors[p.Name] = hostTensor(t.Be, p.Value, p.Shape)
		tensors[optim.ShadowName(p.Name)] = hostTensor(t.Be, t.EMA.Shadows[i], p.Shape)
	}
	for i, v := range t.Velocities {
		p := t.Model.Params[i]
		tensors[optim.VelocityName(p.Name)] = hostTensor(t.Be, v, p.Shape)
	}
	mc, _ := json.Marshal(t.Model.Config)
	hc, _ := json.Marshal(t.Hyper)
	return tensors, map[string]string{metaModel: string(mc), metaHyper: string(hc)}
}

func hostTensor(be backend.Backend, t backend.Tensor, shape []int) checkpoint.Tensor {
	v := make([]float32, backend.Len(shape))
	be.Download(t, v)
	return checkpoint.Tensor{Shape: append([]int(nil), shape...), Data: v}
}

// ModelConfig reads the model configuration a checkpoint was written for.
func ModelConfig(ck *checkpoint.Checkpoint) (model.Config, error) {
	var c model.Config
	s, ok := ck.Meta[metaModel]
	if !ok {
		return c, fmt.Errorf("%s: not a resgo training checkpoint (no model configuration)", ck.Path)
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("%s: unreadable model configuration: %v", ck.Path, err)
	}
	if err := c.Normalize(); err != nil {
		return c, fmt.Errorf("%s: %v", ck.Path, err)
	}
	return c, nil
}

// Readable checks that a checkpoint's model and training configurations
// can be read: given to Store.LoadLatestValid, it makes a checkpoint with
// damaged metadata be skipped as a damaged file is.
func Readable(ck *checkpoint.Checkpoint) error {
	if _, err := ModelConfig(ck); err != nil {
		return err
	}
	_, err := HyperOf(ck)
	return err
}

// HyperOf reads the hyperparameters a checkpoint was trained with.
func HyperOf(ck *checkpoint.Checkpoint) (Hyper, error) {
	var h Hyper
	if err := json.Unmarshal([]byte(ck.Meta[metaHyper]), &h); err != nil {
		return h, fmt.Errorf("%s: unreadable training configuration: %v", ck.Path, err)
	}
	return h, nil
}

// LoadWeights copies a checkpoint's weights and running statistics into a
// model: the raw ones, or the moving averages when shadow is true. The
// checkpoint must have been written for the same configuration.
func LoadWeights(be backend.Backend, m *model.Model, ck *checkpoint.Checkpoint, shadow bool) error {
	c, err := ModelConfig(ck)
	if err != nil {
		return err
	}
	if c != m.Config {
		return fmt.Errorf("%s: checkpoint of another model (%s), this run builds %s", ck.Path, describe(c), describe(m.Config))
	}
	for _, p := range m.State() {
		name := p.Name
		if shadow {
			name = optim.ShadowName(name)
		}
		if err := loadTensor(be, ck, name, p.Value, p.Shape); err != nil {
			return err
		}
	}
	return nil
}

func loadTensor(be backend.Backend, ck *checkpoint.Checkpoint, name string, dst backend.Tensor, shape []int) error {
	t, ok := ck.Tensors[name]
	if !ok {
		return fmt.Errorf("%s: checkpoint lacks tensor %q", ck.Path, name)
	}
	// The exact shape, not only the element count: a kernel stored in
	// another layout ([kh, kw, in, out], TensorFlow's) has the same count
	// and would load as noise.
	if !slices.Equal(t.Shape, shape) {
		return fmt.Errorf("%s: tensor %q has shape %v, the model needs %v", ck.Path, name, t.Shape, shape)
	}
	be.Upload(dst, t.Data)
	return nil
}

// Restore sets the trainer's weights, averages and step from a checkpoint.
func (t *Trainer) Restore(ck *checkpoint.Checkpoint) error {
	if err := LoadWeights(t.Be, t.Model, ck, false); err != nil {
		return err
	}
	for i, p := range t.Model.State() {
		if err := loadTensor(t.Be, ck, optim.ShadowName(p.Name), t.EMA.Shadows[i], p.Shape); err != nil {
			return err
		}
	}
	for i, v := range t.Velocities {
		p := t.Model.Params[i]
		if err := loadTensor(t.Be, ck, optim.VelocityName(p.Name), v, p.Shape); err != nil {
			return fmt.Errorf("%w (trained without momentum?)", err)
		}
	}
	t.Step = ck.Step
	return nil
}

func describe(c model.Config) string {
	s := fmt.Sprintf("%s, base depth %d, %d classes, input %dx%dx%d", c.Arch, c.BaseDepth, c.Classes, c.Input[0], c.Input[1], c.Input[2])
	if c.Shortcut != "" {
		s += ", shortcut " + c.Shortcut
	}
	if c.Stem != "" {
		s += ", stem " + c.Stem
	}
	return s
}

// FormatLoss prints a loss as the tutorial's Python "%g" does: six
// significant digits, trailing zeros dropped.
func FormatLoss(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
