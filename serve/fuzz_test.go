package serve

import (
	"errors"
	"math"
	"testing"
)

// FuzzInferJSON feeds arbitrary bodies to the v2 JSON request parser:
// a 400 that says why, or prepared inputs of whole images of finite,
// bounded values, or image files; never a panic.
func FuzzInferJSON(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,1,2,2],"data":[0,0.5,1,0.25]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[2,1,2,2],"data":[[[[0,1],[1,0]]],[[[1,1],[0,0]]]]}]}`))
	f.Add([]byte(`{"id":"x","inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["iVBORw0KGgo="]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[256,1,2,2],"data":[1e5]}]}`))
	f.Add([]byte(`{"inputs":[`))
	input := [3]int{1, 2, 2}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, inputs, files, err := parseInferJSON(body, input)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.code != 400 || he.msg == "" {
				t.Fatalf("not a 400: %v", err)
			}
			return
		}
		if files != nil {
			if len(files) == 0 || inputs != nil {
				t.Fatalf("%d files and %d inputs", len(files), len(inputs))
			}
			return
		}
		if len(inputs) == 0 || len(inputs)%4 != 0 {
			t.Fatalf("%d values are not whole images", len(inputs))
		}
		for _, v := range inputs {
			if math.IsNaN(float64(v)) || math.Abs(float64(v)) > maxInputValue {
				t.Fatalf("value %v", v)
			}
		}
	})
}
