package native

import (
	"fmt"

	"github.com/resgo/resgo/backend"
)

// Tensor is the native backend's tensor: a dense row-major float32 array.
// Code that writes Data directly, rather than through the backend's
// methods, must call Touch afterwards.
type Tensor struct {
	shape []int
	Data  []float32
	// version counts writes through the backend, shared by the views of
	// one storage (Reshape), so that work derived from the values (packed
	// convolution weights) can be reused while they stay the same.
	version *uint64
}

// NewTensor returns a zero-filled tensor.
func NewTensor(shape ...int) *Tensor {
	return Wrap(make([]float32, backend.Len(shape)), shape...)
}

// Wrap makes a tensor that uses data as its storage.
func Wrap(data []float32, shape ...int) *Tensor {
	if len(data) != backend.Len(shape) {
		panic(fmt.Sprintf("native: %d values for shape %v", len(data), shape))
	}
	return &Tensor{shape: append([]int(nil), shape...), Data: data, version: new(uint64)}
}

// Touch records that the tensor's values changed.
func (t *Tensor) Touch() { *t.counter()++ }

// counter returns the tensor's version counter, made on first use for a
// Tensor not built by NewTensor or Wrap.
func (t *Tensor) counter() *uint64 {
	if t.version == nil {
		t.version = new(uint64)
	}
	return t.version
}

// written marks the backend's output tensors as changed (nil ones are
// skipped).
func written(ts ...backend.Tensor) {
	for _, t := range ts {
		if nt, ok := t.(*Tensor); ok && nt != nil {
			nt.Touch()
		}
	}
}

// Shape returns the tensor's logical shape.
func (t *Tensor) Shape() []int { return t.shape }

// data extracts the storage of a native tensor, or nil for a nil handle.
func data(t backend.Tensor) []float32 {
	if t == nil {
		return nil
	}
	nt, ok := t.(*Tensor)
	if !ok {
		panic(fmt.Sprintf("native: tensor of type %T belongs to another backend", t))
	}
	if nt == nil {
		return nil
	}
	return nt.Data
}

// dims4 returns the four dimensions of an NCHW tensor.
func dims4(t backend.Tensor) (n, c, h, w int) {
	s := t.Shape()
	if len(s) != 4 {
		panic(fmt.Sprintf("native: want a 4-d NCHW tensor, got shape %v", s))
	}
	return s[0], s[1], s[2], s[3]
}
