package quantize

import (
	"math"
	"testing"

	"github.com/resgo/resgo/checkpoint"
)

// FuzzRead: whatever an int8 section's tensors and description hold, Read
// either refuses them with an error or returns only maps a backend
// accepts (a valid step, a whole zero point in [0, 255]) for the
// convolutions named.
func FuzzRead(f *testing.F) {
	f.Add(float32(0.02), float32(0), 2, `{"method":"mse-histogram","weights":"raw"}`)
	f.Add(float32(-1), float32(300), 1, `{}`)
	f.Add(float32(math.NaN()), float32(2.5), 3, `not json`)
	f.Fuzz(func(t *testing.T, step, zero float32, n int, meta string) {
		data := []float32{step, zero, step}[:max(0, min(n, 3))]
		ck := &checkpoint.Checkpoint{Path: "fuzz.int8.safetensors",
			Tensors: map[string]checkpoint.Tensor{tensorPrefix + "a/Conv" + tensorSuffix: {Shape: []int{len(data)}, Data: data}},
			Meta:    map[string]string{MetaKey: meta}}
		maps, _, err := Read(ck)
		if err != nil {
			return
		}
		q, ok := maps["a/Conv"]
		if len(maps) != 1 || !ok || q.Validate() != nil || float32(q.Zero) != zero || q.Step != step {
			t.Fatalf("Read accepted step %v, zero %v (%d values) as %+v", step, zero, len(data), maps)
		}
	})
}
