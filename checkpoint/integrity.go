package checkpoint

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
)

// checksumKey is the metadata key of a checkpoint's checksum: CRC-32C
// over its metadata and tensors (see checksum). Files without it, written
// before it existed, still load.
const checksumKey = "checksum"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is "crc32c:<8 hex digits>" over a canonical serialisation of
// everything a checkpoint holds but the checksum itself: each metadata
// key and value, then each tensor's name, shape and little-endian data,
// in sorted order. It covers the header too, so a flipped bit in a shape
// or a hyperparameter is caught, not only one in the weights.
func checksum(tensors map[string]Tensor, meta map[string]string) string {
	crc := uint32(0)
	put := func(b []byte) { crc = crc32.Update(crc, castagnoli, b) }
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if k != checksumKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		put([]byte(k + "\x00" + meta[k] + "\x00"))
	}
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	buf := make([]byte, 0, 1<<16)
	for _, n := range names {
		t := tensors[n]
		buf = append(buf[:0], n...)
		buf = append(buf, 0)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(t.Shape)))
		for _, d := range t.Shape {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(d))
		}
		put(buf)
		for data := t.Data; len(data) > 0; {
			k := min(len(data), cap(buf)/4)
			buf = buf[:0]
			for _, v := range data[:k] {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
			put(buf)
			data = data[k:]
		}
	}
	return fmt.Sprintf("crc32c:%08x", crc)
}

// checkFinite reports the first tensor (by name) holding NaN or Inf.
func checkFinite(tensors map[string]Tensor) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		bad := 0
		for _, v := range tensors[n].Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				bad++
			}
		}
		if bad > 0 {
			return fmt.Errorf("%w: tensor %q holds %d NaN or infinite value(s) of %d", ErrNonFinite, n, bad, len(tensors[n].Data))
		}
	}
	return nil
}
