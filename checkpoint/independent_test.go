package checkpoint

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/nlpodyssey/safetensors"
)

// TestAnotherReaderReadsOurFiles: a safetensors reader that is not ours
// (github.com/nlpodyssey/safetensors, a port of the format's reference
// implementation, with its validation) reads resgo's files, a real
// checkpoint and a fresh encoding, to the same names, dtypes, shapes,
// values and metadata.
func TestAnotherReaderReadsOurFiles(t *testing.T) {
	real, err := os.ReadFile("../testdata/models/mnist_d8_model-2000.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var fresh bytes.Buffer
	if err := Encode(&fresh, sampleTensors(), map[string]string{"step": "3", "note": "a \"quoted\" <value>"}); err != nil {
		t.Fatal(err)
	}
	for _, file := range [][]byte{real, fresh.Bytes()} {
		ours, meta, err := Decode(file, "file")
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := safetensors.Deserialize(file)
		if err != nil {
			t.Fatalf("the other reader refuses our file: %v", err)
		}
		if theirs.Len() != len(ours) {
			t.Fatalf("%d tensors for the other reader, %d for ours", theirs.Len(), len(ours))
		}
		for _, nt := range theirs.Tensors() {
			mine, ok := ours[nt.Name]
			tv := nt.TensorView
			if !ok || tv.DType() != safetensors.F32 || len(tv.Shape()) != len(mine.Shape) {
				t.Fatalf("%s: %v %v, ours %v", nt.Name, tv.DType(), tv.Shape(), mine.Shape)
			}
			for i, d := range tv.Shape() {
				if int(d) != mine.Shape[i] {
					t.Fatalf("%s: shape %v, ours %v", nt.Name, tv.Shape(), mine.Shape)
				}
			}
			for i, v := range mine.Data {
				if got := math.Float32frombits(binary.LittleEndian.Uint32(tv.Data()[4*i:])); math.Float32bits(got) != math.Float32bits(v) {
					t.Fatalf("%s[%d]: %v, ours %v", nt.Name, i, got, v)
				}
			}
		}
		_, md, err := safetensors.ReadMetadata(file)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range meta {
			if md.Metadata()[k] != v {
				t.Errorf("metadata %q: %q, ours %q", k, md.Metadata()[k], v)
			}
		}
	}
}
