package checkpoint

import (
	"bytes"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
)

// The corpus under testdata/fuzz/FuzzDecode holds valid files (tensors of
// several shapes, metadata, an unpadded header, no tensors at all) and
// broken ones: truncated, a header length past the end, bad JSON,
// overlapping and gapped offsets, a shape whose size overflows.

func FuzzDecode(f *testing.F) {
	var b bytes.Buffer
	if err := Encode(&b, sampleTensors(), map[string]string{"step": "300", "note": "a \"quoted\" <value>\n"}); err != nil {
		f.Fatal(err)
	}
	valid := b.Bytes()
	f.Add(valid)
	f.Add(valid[:len(valid)-5])
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, 4))
	f.Add(rawFile(`{"__metadata__":{"k":"v"},"z":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4))
	f.Add(rawFile(`{}`, 0))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, 0))
	f.Add(rawFile(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"n":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}`, 12))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Other tools' files: converted or skipped, never a crash; what
		// resgo's own decoder accepts, this one reads the same.
		foreign, _, _, ferr := DecodeForeign(data, "fuzz")
		if ferr != nil && !strings.HasPrefix(ferr.Error(), "checkpoint: fuzz: ") {
			t.Fatalf("foreign: error %q does not name the file", ferr)
		}
		tensors, meta, err := Decode(data, "fuzz")
		if err == nil && (ferr != nil || len(foreign) != len(tensors)) {
			t.Fatalf("Decode read %d tensors, DecodeForeign %d (%v)", len(tensors), len(foreign), ferr)
		}
		if err != nil {
			if tensors != nil || meta != nil {
				t.Fatalf("both a result and an error: %v", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "checkpoint: fuzz: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error %q is not one line naming the file", msg)
			}
			return
		}
		if meta == nil {
			t.Fatal("nil metadata")
		}
		total := 0
		for name, ts := range tensors {
			n := 1
			for _, d := range ts.Shape {
				if d < 0 || (d != 0 && n > math.MaxInt/d) {
					t.Fatalf("tensor %q: shape %v", name, ts.Shape)
				}
				n *= d
			}
			if len(ts.Data) != n {
				t.Fatalf("tensor %q: shape %v but %d elements", name, ts.Shape, len(ts.Data))
			}
			total += 4 * n
		}
		if total > len(data) {
			t.Fatalf("%d bytes of tensors from a %d-byte file", total, len(data))
		}

		// What Decode accepts, Encode must write back, and the result
		// must decode to the same tensors and metadata, bit for bit.
		var b bytes.Buffer
		if err := Encode(&b, tensors, meta); err != nil {
			t.Fatalf("Encode of a decoded file: %v", err)
		}
		tensors2, meta2, err := Decode(b.Bytes(), "re-encoded")
		if err != nil {
			t.Fatalf("Decode of the re-encoded file: %v", err)
		}
		if !maps.Equal(meta, meta2) {
			t.Fatalf("metadata %q re-read as %q", meta, meta2)
		}
		if len(tensors) != len(tensors2) {
			t.Fatalf("%d tensors re-read as %d", len(tensors), len(tensors2))
		}
		for name, a := range tensors {
			b, ok := tensors2[name]
			if !ok {
				t.Fatalf("tensor %q lost", name)
			}
			if !slices.Equal(a.Shape, b.Shape) || len(a.Data) != len(b.Data) {
				t.Fatalf("tensor %q: shape %v re-read as %v", name, a.Shape, b.Shape)
			}
			for i := range a.Data {
				if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
					t.Fatalf("tensor %q: element %d %v re-read as %v", name, i, a.Data[i], b.Data[i])
				}
			}
		}
	})
}
