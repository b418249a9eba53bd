package interop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/model"
)

// StateDict is a PyTorch state_dict's floating-point tensors by name, in
// row-major order; Skipped names the integer entries left out (batch
// norm's num_batches_tracked counters, which resgo does not keep).
type StateDict struct {
	Tensors map[string]checkpoint.Tensor
	Skipped []string
}

// The first bytes that tell the formats apart.
var (
	zipMagic    = []byte("PK\x03\x04")
	legacyMagic = []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8} // pickle protocol 2, torch's magic number
)

// ReadStateDict reads a state_dict saved by torch.save (the zip format, or
// the legacy one of _use_new_zipfile_serialization=False), through
// github.com/nlpodyssey/gopickle, or a safetensors file. A dictionary
// holding the state_dict under "state_dict" or "model" (a training
// checkpoint) is unwrapped, and DataParallel's "module." prefix removed.
// Errors name the file.
func ReadStateDict(path string) (*StateDict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 16)
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	head = head[:n]
	var sd *StateDict
	switch {
	case bytes.HasPrefix(head, zipMagic), bytes.HasPrefix(head, legacyMagic):
		sd, err = readTorch(path)
	case len(head) >= 9 && head[8] == '{':
		sd, err = readSafetensors(path)
	default:
		return nil, fmt.Errorf("%s: not a PyTorch file (torch.save's zip or legacy format) nor a safetensors file", path)
	}
	if err != nil {
		return nil, err
	}
	return sd.stripPrefix("module."), nil
}

func readSafetensors(path string) (*StateDict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tensors, skipped, _, err := checkpoint.DecodeForeign(data, path)
	if err != nil {
		return nil, err
	}
	return &StateDict{Tensors: tensors, Skipped: skipped}, nil
}

// readTorch unpickles a torch.save file. gopickle panics on some damaged
// or unsupported files rather than returning an error: that is an error
// here too.
func readTorch(path string) (sd *StateDict, err error) {
	defer func() {
		if r := recover(); r != nil {
			sd, err = nil, fmt.Errorf("%s: unreadable PyTorch file (%v)", path, r)
		}
	}()
	v, err := pytorch.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	entries, err := dictEntries(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: an empty state_dict", path)
	}
	sd = &StateDict{Tensors: map[string]checkpoint.Tensor{}}
	for _, e := range entries {
		name, ok := e.key.(string)
		if !ok {
			return nil, fmt.Errorf("%s: a key %v that is not a name", path, e.key)
		}
		t, ok := e.value.(*pytorch.Tensor)
		if !ok {
			return nil, fmt.Errorf("%s: %s is a %T, not a tensor (save model.state_dict(), not the model)", path, name, e.value)
		}
		data, isFloat, err := denseFloats(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		if !isFloat {
			sd.Skipped = append(sd.Skipped, name)
			continue
		}
		sd.Tensors[name] = checkpoint.Tensor{Shape: slices.Clone(t.Size), Data: data}
	}
	sort.Strings(sd.Skipped)
	return sd, nil
}

type dictEntry struct{ key, value any }

// dictEntries lists a state_dict's entries, unwrapping a training
// checkpoint's {"state_dict": ...} or {"model": ...}.
func dictEntries(v any) ([]dictEntry, error) {
	var out []dictEntry
	switch d := v.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			entry := e.Value.(*types.OrderedDictEntry)
			out = append(out, dictEntry{entry.Key, entry.Value})
		}
	case *types.Dict:
		for _, entry := range *d {
			out = append(out, dictEntry{entry.Key, entry.Value})
		}
	default:
		return nil, fmt.Errorf("holds a %T, not a state_dict", v)
	}
	for _, e := range out {
		if k, _ := e.key.(string); k == "state_dict" || k == "model" {
			if _, isTensor := e.value.(*pytorch.Tensor); !isTensor {
				return dictEntries(e.value)
			}
		}
	}
	return out, nil
}

// denseFloats copies a tensor's elements in row-major order, following
// its strides and offset into its storage (a view need not be
// contiguous); isFloat is false for integer and boolean tensors.
func denseFloats(t *pytorch.Tensor) (data []float32, isFloat bool, err error) {
	var at func(i int) float32
	size := 0
	switch s := t.Source.(type) {
	case *pytorch.FloatStorage:
		at, size = func(i int) float32 { return s.Data[i] }, len(s.Data)
	case *pytorch.HalfStorage:
		at, size = func(i int) float32 { return s.Data[i] }, len(s.Data)
	case *pytorch.BFloat16Storage:
		at, size = func(i int) float32 { return s.Data[i] }, len(s.Data)
	case *pytorch.DoubleStorage:
		at, size = func(i int) float32 { return float32(s.Data[i]) }, len(s.Data)
	case *pytorch.LongStorage, *pytorch.IntStorage, *pytorch.ShortStorage, *pytorch.CharStorage, *pytorch.ByteStorage, *pytorch.BoolStorage:
		return nil, false, nil
	default:
		return nil, false, fmt.Errorf("unsupported storage %T", t.Source)
	}
	if len(t.Stride) != len(t.Size) {
		return nil, false, fmt.Errorf("%d strides for %d dimensions", len(t.Stride), len(t.Size))
	}
	// A state_dict's tensors do not overlap themselves: more elements
	// than the storage holds (a stride of 0, or a size that overflows)
	// is a damaged or hostile file, not a reason to allocate gigabytes.
	n := 1
	last := t.StorageOffset // the farthest element read, to check against the storage
	for k, d := range t.Size {
		if d < 0 || t.Stride[k] < 0 {
			return nil, false, fmt.Errorf("size %v, strides %v", t.Size, t.Stride)
		}
		if d == 0 {
			n = 0
			break
		}
		if n > size/d {
			return nil, false, fmt.Errorf("size %v holds more elements than its storage of %d", t.Size, size)
		}
		n *= d
		last += (d - 1) * t.Stride[k]
	}
	if n > 0 && (t.StorageOffset < 0 || t.StorageOffset > size || last >= size || last < t.StorageOffset) {
		return nil, false, fmt.Errorf("size %v, strides %v and offset %d reach past its storage of %d", t.Size, t.Stride, t.StorageOffset, size)
	}
	data = make([]float32, n)
	idx := make([]int, len(t.Size))
	for i := range data {
		off := t.StorageOffset
		for k, v := range idx {
			off += v * t.Stride[k]
		}
		data[i] = at(off)
		for k := len(idx) - 1; k >= 0; k-- {
			if idx[k]++; idx[k] < t.Size[k] {
				break
			}
			idx[k] = 0
		}
	}
	return data, true, nil
}

// stripPrefix removes prefix from every name, when every name has it.
func (sd *StateDict) stripPrefix(prefix string) *StateDict {
	for name := range sd.Tensors {
		if !strings.HasPrefix(name, prefix) {
			return sd
		}
	}
	out := &StateDict{Tensors: map[string]checkpoint.Tensor{}}
	for name, t := range sd.Tensors {
		out.Tensors[strings.TrimPrefix(name, prefix)] = t
	}
	for _, name := range sd.Skipped {
		out.Skipped = append(out.Skipped, strings.TrimPrefix(name, prefix))
	}
	return out
}

// LoadStateDict copies a state_dict into m's parameters and running
// statistics by name (torchvision's names are resgo's for the ResNet
// family). Every tensor of the model must be there with its shape, and
// every float tensor of the state_dict must have a place: otherwise one
// error lists every missing, unexpected and wrongly shaped name.
func LoadStateDict(be backend.Backend, m *model.Model, sd *StateDict) error {
	var missing, shapes, unexpected []string
	used := map[string]bool{}
	for _, p := range m.State() {
		t, ok := sd.Tensors[p.Name]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("%s %v", p.Name, p.Shape))
		case !slices.Equal(t.Shape, p.Shape):
			shapes = append(shapes, fmt.Sprintf("%s is %v, the model's is %v", p.Name, t.Shape, p.Shape))
		case len(t.Data) != backend.Len(p.Shape):
			return fmt.Errorf("%s: %d values for shape %v", p.Name, len(t.Data), t.Shape)
		default:
			for i, v := range t.Data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return fmt.Errorf("%s[%d] is %v: the weights are not finite", p.Name, i, v)
				}
			}
		}
		used[p.Name] = true
	}
	for name, t := range sd.Tensors {
		if !used[name] {
			unexpected = append(unexpected, fmt.Sprintf("%s %v", name, t.Shape))
		}
	}
	if len(missing)+len(shapes)+len(unexpected) > 0 {
		sort.Strings(missing)
		sort.Strings(unexpected)
		var b strings.Builder
		fmt.Fprintf(&b, "the weights do not fit %s (%d tensors)", m.Config.Arch, len(m.State()))
		for _, part := range []struct {
			what  string
			names []string
		}{{"missing", missing}, {"wrong shape", shapes}, {"unexpected", unexpected}} {
			if len(part.names) > 0 {
				fmt.Fprintf(&b, "; %s (%d): %s", part.what, len(part.names), strings.Join(part.names, ", "))
			}
		}
		return errors.New(b.String())
	}
	for _, p := range m.State() {
		be.Upload(p.Value, sd.Tensors[p.Name].Data)
	}
	return nil
}
