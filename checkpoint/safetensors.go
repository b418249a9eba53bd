package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Tensor is a dense float32 tensor in row-major order. A scalar has an
// empty Shape and one element.
type Tensor struct {
	Shape []int
	Data  []float32
}

const (
	metadataKey = "__metadata__"
	dtypeF32    = "F32"
	// maxHeaderLen bounds the JSON header, as the reference safetensors
	// implementation does, so a corrupt length cannot make us allocate or
	// scan gigabytes before noticing.
	maxHeaderLen = 100 << 20
)

// numElements returns the product of shape, or an error if a dimension is
// negative or the product overflows.
func numElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

// jsonString encodes s as a JSON string without HTML escaping, so names
// like "a<b" stay readable in the header.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // cannot fail for a string
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// checkEncodable validates everything Encode needs and returns the
// tensor names and metadata keys in the order they are written.
func checkEncodable(tensors map[string]Tensor, metadata map[string]string) (names, metaKeys []string, err error) {
	names = make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	sort.Strings(names)

	for _, name := range names {
		// json would silently replace invalid UTF-8 with U+FFFD and the
		// name would not round-trip.
		if name == "" || name == metadataKey || !utf8.ValidString(name) {
			return nil, nil, fmt.Errorf("checkpoint: encode: invalid tensor name %q", name)
		}
		t := tensors[name]
		n, err := numElements(t.Shape)
		if err != nil {
			return nil, nil, fmt.Errorf("checkpoint: encode: tensor %q: %v", name, err)
		}
		if n != len(t.Data) {
			return nil, nil, fmt.Errorf("checkpoint: encode: tensor %q: shape %v has %d elements but data has %d",
				name, t.Shape, n, len(t.Data))
		}
	}
	metaKeys = make([]string, 0, len(metadata))
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("checkpoint: encode: metadata %q=%q is not valid UTF-8", k, v)
		}
		metaKeys = append(metaKeys, k)
	}
	sort.Strings(metaKeys)
	return names, metaKeys, nil
}

// Encode writes tensors and metadata to w in safetensors format. Tensors
// are laid out sorted by name so the same input always gives the same
// bytes. Metadata may be nil. Everything is validated before the first
// byte is written, so a bad tensor never produces a partial file.
func Encode(w io.Writer, tensors map[string]Tensor, metadata map[string]string) error {
	names, metaKeys, err := checkEncodable(tensors, metadata)
	if err != nil {
		return err
	}

	// The header is built by hand to fix the key order: metadata first,
	// then tensors by name, fields in the conventional order.
	var h bytes.Buffer
	h.WriteByte('{')
	if len(metaKeys) > 0 {
		h.Write(jsonString(metadataKey))
		h.WriteString(":{")
		for i, k := range metaKeys {
			if i > 0 {
				h.WriteByte(',')
			}
			h.Write(jsonString(k))
			h.WriteByte(':')
			h.Write(jsonString(metadata[k]))
		}
		h.WriteByte('}')
	}
	var offset int64
	for i, name := range names {
		if i > 0 || len(metaKeys) > 0 {
			h.WriteByte(',')
		}
		t := tensors[name]
		size := int64(len(t.Data)) * 4
		h.Write(jsonString(name))
		h.WriteString(`:{"dtype":"F32","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, offset, offset+size)
		offset += size
	}
	h.WriteByte('}')
	// Pad with spaces (valid JSON whitespace) so the buffer starts 8-byte
	// aligned, which lets readers map the data directly.
	for (8+h.Len())%8 != 0 {
		h.WriteByte(' ')
	}

	out := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+h.Len()), uint64(h.Len()))
	out = append(out, h.Bytes()...)
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("checkpoint: encode: %w", err)
	}
	// Convert in bounded chunks: one Write per float would be slow for
	// large models, one buffer for everything would double peak memory.
	const chunk = 1 << 16
	buf := make([]byte, 0, 4*chunk)
	for _, name := range names {
		data := tensors[name].Data
		for len(data) > 0 {
			n := min(len(data), chunk)
			buf = buf[:0]
			for _, v := range data[:n] {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("checkpoint: encode: %w", err)
			}
			data = data[n:]
		}
	}
	return nil
}

// tensorInfo is one header entry as it appears in the JSON.
type tensorInfo struct {
	DType       string  `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// decodeError builds the one-line error every Decode failure returns:
// "checkpoint: <file>: <problem>".
func decodeError(name, format string, args ...any) error {
	return fmt.Errorf("checkpoint: %s: "+format, append([]any{name}, args...)...)
}

// Decode parses and fully validates a safetensors file held in data. name
// is used only in error messages (normally the file path). It returns the
// tensors and the metadata (empty, not nil, if the file has none). Every
// tensor must be F32, as resgo writes them.
func Decode(data []byte, name string) (map[string]Tensor, map[string]string, error) {
	tensors, _, meta, err := decode(data, name, false)
	return tensors, meta, err
}

// DecodeForeign is Decode for safetensors files written by other tools
// (PyTorch's weights, say): F16, BF16 and F64 tensors are converted to
// float32, and integer and boolean ones (batch norm's step counters) are
// validated and left out; skipped names them, sorted.
func DecodeForeign(data []byte, name string) (tensors map[string]Tensor, skipped []string, meta map[string]string, err error) {
	return decode(data, name, true)
}

// dtypeSizes are the bytes per element of the dtypes DecodeForeign knows;
// floats are converted, the others skipped.
var dtypeSizes = map[string]int{
	"F64": 8, dtypeF32: 4, "F16": 2, "BF16": 2,
	"I64": 8, "U64": 8, "I32": 4, "U32": 4, "I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}

func isFloatDType(d string) bool { return d == "F64" || d == dtypeF32 || d == "F16" || d == "BF16" }

// decode reads and validates a safetensors file: only F32 tensors, or
// (foreign) any dtype of dtypeSizes.
func decode(data []byte, name string, foreign bool) (map[string]Tensor, []string, map[string]string, error) {
	if len(data) < 8 {
		return nil, nil, nil, decodeError(name, "truncated: need 8 bytes of header length but the file is %d bytes", len(data))
	}
	hlen := binary.LittleEndian.Uint64(data[:8])
	if hlen > maxHeaderLen {
		return nil, nil, nil, decodeError(name, "header length %d exceeds the %d-byte limit (corrupt file?)", hlen, maxHeaderLen)
	}
	if hlen > uint64(len(data)-8) {
		return nil, nil, nil, decodeError(name, "truncated: header needs bytes 8..%d but the file is %d bytes", 8+hlen, len(data))
	}
	header := data[8 : 8+hlen]
	buf := data[8+hlen:]
	if !utf8.Valid(header) {
		return nil, nil, nil, decodeError(name, "header is not valid UTF-8")
	}

	infos, meta, err := parseHeader(header)
	if err != nil {
		return nil, nil, nil, decodeError(name, "bad header: %v", err)
	}

	type span struct {
		name       string
		begin, end int64
	}
	spans := make([]span, 0, len(infos))
	tnames := make([]string, 0, len(infos))
	for tn := range infos {
		tnames = append(tnames, tn)
	}
	sort.Strings(tnames) // deterministic choice of which error to report
	for _, tn := range tnames {
		info := infos[tn]
		size, known := dtypeSizes[info.DType]
		switch {
		case !foreign && info.DType != dtypeF32:
			return nil, nil, nil, decodeError(name, "tensor %q: unsupported dtype %q (only F32 is supported)", tn, info.DType)
		case !known:
			return nil, nil, nil, decodeError(name, "tensor %q: unsupported dtype %q", tn, info.DType)
		}
		if info.Shape == nil {
			return nil, nil, nil, decodeError(name, "tensor %q: missing shape", tn)
		}
		if len(info.DataOffsets) != 2 {
			return nil, nil, nil, decodeError(name, "tensor %q: data_offsets must have 2 entries, got %d", tn, len(info.DataOffsets))
		}
		begin, end := info.DataOffsets[0], info.DataOffsets[1]
		if begin < 0 || end < begin {
			return nil, nil, nil, decodeError(name, "tensor %q: invalid data_offsets [%d,%d]", tn, begin, end)
		}
		n, err := numElements(info.Shape)
		if err != nil {
			return nil, nil, nil, decodeError(name, "tensor %q: %v", tn, err)
		}
		if int64(n) > (end-begin)/int64(size) || int64(n)*int64(size) != end-begin {
			return nil, nil, nil, decodeError(name, "tensor %q: shape %v needs %d bytes but data_offsets [%d,%d] span %d",
				tn, info.Shape, uint64(n)*uint64(size), begin, end, end-begin)
		}
		spans = append(spans, span{tn, begin, end})
	}

	// Check the layout in file order: within the buffer, no overlaps, no
	// gaps, and nothing left over.
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	for _, s := range spans {
		if s.end > int64(len(buf)) {
			return nil, nil, nil, decodeError(name, "truncated: tensor %q needs bytes %d..%d but the data is %d bytes",
				s.name, s.begin, s.end, len(buf))
		}
	}
	var pos int64
	prev := ""
	for _, s := range spans {
		if s.begin < pos {
			return nil, nil, nil, decodeError(name, "tensor %q bytes %d..%d overlap tensor %q ending at %d",
				s.name, s.begin, s.end, prev, pos)
		}
		if s.begin > pos {
			return nil, nil, nil, decodeError(name, "gap: bytes %d..%d belong to no tensor", pos, s.begin)
		}
		pos, prev = s.end, s.name
	}
	if pos != int64(len(buf)) {
		return nil, nil, nil, decodeError(name, "%d trailing bytes after the last tensor", int64(len(buf))-pos)
	}

	tensors := make(map[string]Tensor, len(spans))
	var skipped []string
	for _, s := range spans {
		dtype := infos[s.name].DType
		if !isFloatDType(dtype) {
			skipped = append(skipped, s.name)
			continue
		}
		tensors[s.name] = Tensor{Shape: slices.Clone(infos[s.name].Shape), Data: floatsOf(buf[s.begin:s.end], dtype)}
	}
	sort.Strings(skipped)
	return tensors, skipped, meta, nil
}

// floatsOf converts little-endian values of a float dtype to float32
// (F64 rounds to nearest; F16 and BF16 convert exactly).
func floatsOf(raw []byte, dtype string) []float32 {
	size := dtypeSizes[dtype]
	vals := make([]float32, len(raw)/size)
	for i := range vals {
		b := raw[size*i:]
		switch dtype {
		case dtypeF32:
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(b))
		case "F64":
			vals[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b)))
		case "BF16":
			vals[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)
		case "F16":
			vals[i] = halfToFloat(binary.LittleEndian.Uint16(b))
		}
	}
	return vals
}

// halfToFloat converts an IEEE 754 half-precision value exactly.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: frac x 2^-24
		v := float32(frac) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// parseHeader reads the header object with a token decoder rather than
// into a map, so duplicate keys (which a map would silently collapse) are
// rejected.
func parseHeader(header []byte) (map[string]tensorInfo, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("not a JSON object")
	}
	infos := make(map[string]tensorInfo)
	meta := make(map[string]string)
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key := tok.(string) // object keys are always strings
		if seen[key] {
			return nil, nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		if key == metadataKey {
			var m map[string]string
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, nil, fmt.Errorf("__metadata__ must map strings to strings: %v", err)
			}
			for k, v := range m {
				meta[k] = v
			}
			continue
		}
		if key == "" {
			return nil, nil, errors.New("empty tensor name")
		}
		info, err := parseTensorInfo(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %v", key, err)
		}
		infos[key] = info
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("trailing data after the JSON object")
		}
		return nil, nil, err
	}
	return infos, meta, nil
}

// parseTensorInfo reads one tensor's entry. Field names must match
// exactly: encoding/json alone would accept "Dtype" for "dtype", and a
// flipped bit would pass unnoticed.
func parseTensorInfo(raw json.RawMessage) (tensorInfo, error) {
	var info tensorInfo
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return info, err
	}
	for k := range fields {
		if k != "dtype" && k != "shape" && k != "data_offsets" {
			return info, fmt.Errorf("unknown field %q", k)
		}
	}
	td := json.NewDecoder(bytes.NewReader(raw))
	td.DisallowUnknownFields()
	err := td.Decode(&info)
	return info, err
}
