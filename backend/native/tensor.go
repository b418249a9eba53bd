package native

import (
	"fmt"

	"github.com/resgo/resgo/backend"
)

// Tensor is the native backend's tensor: a dense row-major float32 array.
type Tensor struct {
	shape []int
	Data  []float32
}

// NewTensor returns a zero-filled tensor.
func NewTensor(shape ...int) *Tensor {
	return &Tensor{shape: append([]int(nil), shape...), Data: make([]float32, backend.Len(shape))}
}

// Wrap makes a tensor that uses data as its storage.
func Wrap(data []float32, shape ...int) *Tensor {
	if len(data) != backend.Len(shape) {
		panic(fmt.Sprintf("native: %d values for shape %v", len(data), shape))
	}
	return &Tensor{shape: append([]int(nil), shape...), Data: data}
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
