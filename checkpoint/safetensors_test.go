package checkpoint

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func sampleTensors() map[string]Tensor {
	conv := Tensor{Shape: []int{2, 3, 2, 2}, Data: make([]float32, 24)}
	for i := range conv.Data {
		conv.Data[i] = float32(i)*0.5 - 3
	}
	return map[string]Tensor{
		"conv1/weights":         conv,
		"conv1/biases":          {Shape: []int{3}, Data: []float32{1, -2, float32(math.Inf(1))}},
		"global_step_scalar":    {Shape: []int{}, Data: []float32{42}},
		"ema/conv1/weights":     {Shape: []int{4, 6}, Data: conv.Data},
		"empty":                 {Shape: []int{0, 5}, Data: nil},
		"fc/w<&>\u00e9\"quoted": {Shape: []int{1, 1}, Data: []float32{math.SmallestNonzeroFloat32}},
	}
}

func encode(t *testing.T, tensors map[string]Tensor, meta map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, tensors, meta); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	in := sampleTensors()
	meta := map[string]string{"lr": "0.1", "note": "a \"quoted\" <value>\n", "": "empty key"}
	data := encode(t, in, meta)

	hlen := binary.LittleEndian.Uint64(data)
	if (8+hlen)%8 != 0 {
		t.Errorf("buffer starts at %d, not a multiple of 8", 8+hlen)
	}
	out, gotMeta, err := Decode(data, "rt.safetensors")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d tensors, want %d", len(out), len(in))
	}
	for name, want := range in {
		got, ok := out[name]
		if !ok {
			t.Errorf("missing tensor %q", name)
			continue
		}
		if !slices.Equal(got.Shape, want.Shape) || !slices.Equal(got.Data, want.Data) {
			t.Errorf("tensor %q: got %v %v, want %v %v", name, got.Shape, got.Data, want.Shape, want.Data)
		}
	}
	if len(gotMeta) != len(meta) {
		t.Errorf("metadata: got %v, want %v", gotMeta, meta)
	}
	for k, v := range meta {
		if gotMeta[k] != v {
			t.Errorf("metadata %q: got %q, want %q", k, gotMeta[k], v)
		}
	}
	// Stable output: encoding again gives the same bytes.
	if again := encode(t, in, meta); !bytes.Equal(again, data) {
		t.Error("encoding is not deterministic")
	}
}

func TestExactBytes(t *testing.T) {
	// 54 bytes of JSON + 2 spaces = 56, so the buffer starts at 8+56 = 64.
	header := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}` + "  "
	want := []byte("\x38\x00\x00\x00\x00\x00\x00\x00" + header +
		"\x00\x00\x80\x3f" + // 1.0f
		"\x00\x00\x00\x40") // 2.0f
	got := encode(t, map[string]Tensor{"a": {Shape: []int{2}, Data: []float32{1, 2}}}, nil)
	if !bytes.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestEncodeRejects(t *testing.T) {
	for name, tensors := range map[string]map[string]Tensor{
		"shape mismatch": {"a": {Shape: []int{2, 2}, Data: []float32{1, 2, 3}}},
		"negative dim":   {"a": {Shape: []int{-1}, Data: nil}},
		"empty name":     {"": {Shape: []int{1}, Data: []float32{1}}},
		"reserved name":  {"__metadata__": {Shape: []int{1}, Data: []float32{1}}},
		"bad utf8 name":  {"\xff": {Shape: []int{1}, Data: []float32{1}}},
	} {
		var b bytes.Buffer
		if err := Encode(&b, tensors, nil); err == nil {
			t.Errorf("%s: Encode succeeded", name)
		} else if b.Len() != 0 {
			t.Errorf("%s: Encode wrote %d bytes before failing", name, b.Len())
		}
	}
}

// rawFile builds a file from a literal header and a buffer of n zero bytes.
func rawFile(header string, n int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, n)...)
}

func TestDecodeTruncated(t *testing.T) {
	data := encode(t, sampleTensors(), map[string]string{"k": "v"})
	dataStart := 8 + int(binary.LittleEndian.Uint64(data))
	for _, cut := range []int{0, 3, 7, 8, 20, dataStart - 1, dataStart, dataStart + 5, len(data) - 1} {
		const name = "MNIST_model/mnist_model-300.safetensors"
		_, _, err := Decode(data[:cut], name)
		if err == nil {
			t.Errorf("cut at %d: no error", cut)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, name) || !strings.Contains(msg, "truncated") || strings.Contains(msg, "\n") {
			t.Errorf("cut at %d: bad message %q", cut, msg)
		}
	}
	// The message format promised in the docs.
	_, _, err := Decode(rawFile(`{"conv1/weights":{"dtype":"F32","shape":[3136],"data_offsets":[0,12544]}}`, 1000), "m.safetensors")
	want := `checkpoint: m.safetensors: truncated: tensor "conv1/weights" needs bytes 0..12544 but the data is 1000 bytes`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	t32 := func(name string, shape string, b, e int) string {
		return `"` + name + `":{"dtype":"F32","shape":` + shape + `,"data_offsets":[` + strconv.Itoa(b) + `,` + strconv.Itoa(e) + `]}`
	}
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	huge = append(huge, "{}"...)
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"huge header length", "header length", huge},
		{"header longer than file", "truncated", rawFile("{}", 0)[:9]},
		{"bad json", "bad header", rawFile(`{"a":`, 0)},
		{"not an object", "not a JSON object", rawFile(`[1]`, 0)},
		{"trailing json", "bad header", rawFile(`{}{}`, 0)},
		{"invalid utf8", "UTF-8", rawFile("{\"\xff\":1}", 0)},
		{"unsupported dtype", `unsupported dtype "F16"`, rawFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, 4)},
		{"missing dtype", "unsupported dtype", rawFile(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, 8)},
		{"missing shape", "missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, 4)},
		{"unknown field", "unknown field", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, 4)},
		{"shape/offset mismatch", "needs 12 bytes", rawFile("{"+t32("a", "[3]", 0, 8)+"}", 8)},
		{"negative dim", "negative dimension", rawFile("{"+t32("a", "[-1,-2]", 0, 8)+"}", 8)},
		{"shape overflow", "too large", rawFile("{"+t32("a", "[4294967296,4294967296,4294967296]", 0, 8)+"}", 8)},
		{"negative offset", "invalid data_offsets", rawFile("{"+t32("a", "[0]", -4, -4)+"}", 0)},
		{"reversed offsets", "invalid data_offsets", rawFile("{"+t32("a", "[0]", 8, 4)+"}", 8)},
		{"three offsets", "2 entries", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 8)},
		{"overlap", "overlap", rawFile("{"+t32("a", "[2]", 0, 8)+","+t32("b", "[2]", 4, 12)+"}", 12)},
		{"gap", "gap", rawFile("{"+t32("a", "[1]", 0, 4)+","+t32("b", "[1]", 8, 12)+"}", 12)},
		{"trailing bytes", "trailing bytes", rawFile("{"+t32("a", "[1]", 0, 4)+"}", 8)},
		{"duplicate name", "duplicate", rawFile("{"+t32("a", "[1]", 0, 4)+","+t32("a", "[1]", 0, 4)+"}", 4)},
		{"metadata not strings", "__metadata__", rawFile(`{"__metadata__":{"a":1}}`, 0)},
		{"empty name", "empty tensor name", rawFile("{"+t32("", "[1]", 0, 4)+"}", 4)},
	}
	for _, c := range cases {
		const file = "dir/bad-7.safetensors"
		_, _, err := Decode(c.data, file)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "checkpoint: "+file+": ") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: message %q should start with the file name and contain %q", c.name, msg, c.want)
		}
	}
}

func TestDecodeAcceptsUnpaddedAndEmpty(t *testing.T) {
	// Other writers need not pad the header; an empty file is valid too.
	for _, d := range [][]byte{
		rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, 4),
		rawFile(`{}`, 0),
		rawFile(`{"__metadata__":{}}`, 0),
	} {
		if _, _, err := Decode(d, "ok"); err != nil {
			t.Errorf("Decode: %v", err)
		}
	}
}

// TestDecodeForeign: other tools' dtypes are converted (F16 and BF16
// exactly, F64 rounded) or, for integers, validated and skipped; resgo's
// own Decode still refuses them.
func TestDecodeForeign(t *testing.T) {
	var buf []byte
	le := binary.LittleEndian
	f16 := []uint16{0x3c00, 0xc000, 0x0001, 0x7bff, 0x0000, 0xfc00} // 1, -2, 2^-24, 65504, 0, -inf
	for _, h := range f16 {
		buf = le.AppendUint16(buf, h)
	}
	bf := []uint16{0x3f80, 0xc0a0} // 1, -5
	for _, h := range bf {
		buf = le.AppendUint16(buf, h)
	}
	buf = le.AppendUint64(buf, math.Float64bits(0.1))
	buf = le.AppendUint64(buf, 42) // I64 counter
	header := `{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},` +
		`"c":{"dtype":"F64","shape":[],"data_offsets":[16,24]},"n":{"dtype":"I64","shape":[],"data_offsets":[24,32]}}`
	file := le.AppendUint64(nil, uint64(len(header)))
	file = append(append(file, header...), buf...)
	tensors, skipped, _, err := DecodeForeign(file, "x.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, -2, float32(math.Ldexp(1, -24)), 65504, 0, float32(math.Inf(-1))}
	if !slices.Equal(tensors["a"].Data, want) || !slices.Equal(tensors["a"].Shape, []int{2, 3}) {
		t.Errorf("F16: %v", tensors["a"])
	}
	if !slices.Equal(tensors["b"].Data, []float32{1, -5}) || tensors["c"].Data[0] != float32(0.1) {
		t.Errorf("BF16 %v, F64 %v", tensors["b"], tensors["c"])
	}
	if _, ok := tensors["n"]; ok || !slices.Equal(skipped, []string{"n"}) {
		t.Errorf("skipped %v", skipped)
	}
	if _, _, err := Decode(file, "x.safetensors"); err == nil || !strings.Contains(err.Error(), "only F32") {
		t.Errorf("Decode accepted F16: %v", err)
	}
	// A wrong size for the dtype is still caught.
	bad := strings.Replace(string(file), `"shape":[2,3]`, `"shape":[2,2]`, 1)
	if _, _, _, err := DecodeForeign([]byte(bad), "x.safetensors"); err == nil {
		t.Error("a shape that does not fill its bytes was accepted")
	}
}
