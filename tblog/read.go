package tblog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Point is one scalar's value at a step.
type Point struct {
	Step     int64
	WallTime float64
	Value    float64
}

// ReadScalars reads the scalars of every event file in dir, by tag, in the
// order written. A record cut short at the end of a file (a writer that
// was killed) ends that file quietly; a record whose checksum is wrong is
// an error naming the file. When a run was resumed from an earlier step,
// the points logged after that step by the interrupted run are dropped, as
// TensorBoard does.
func ReadScalars(dir string) (map[string][]Point, error) {
	files, err := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no TensorBoard event files (events.out.tfevents.*)", dir)
	}
	sort.Strings(files) // the names start with the creation time
	out := map[string][]Point{}
	for _, f := range files {
		if strings.HasSuffix(f, ".tmp") {
			continue
		}
		if err := readFile(f, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readFile(path string, out map[string][]Point) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			return nil // truncated header
		}
		length := binary.LittleEndian.Uint64(b[off:])
		if binary.LittleEndian.Uint32(b[off+8:]) != maskedCRC32C(b[off:off+8]) {
			return fmt.Errorf("%s: record at byte %d: bad length checksum", path, off)
		}
		// Compare in uint64 before converting: a length near 1<<63 would
		// otherwise wrap around and pass the check.
		left := uint64(len(b) - off - 12)
		if left < 4 || length > left-4 {
			return nil // truncated body
		}
		n := int(length)
		rec := b[off+12 : off+12+n]
		if binary.LittleEndian.Uint32(b[off+12+n:]) != maskedCRC32C(rec) {
			return fmt.Errorf("%s: record at byte %d: bad data checksum", path, off)
		}
		if err := readEvent(rec, out); err != nil {
			return fmt.Errorf("%s: record at byte %d: %v", path, off, err)
		}
		off += 12 + n + 4
	}
	return nil
}

// field is one protobuf field: a varint or fixed value, or bytes.
type field struct {
	num   int
	value uint64
	bytes []byte
}

var errMalformed = errors.New("malformed protobuf")

// protoFields splits a protobuf message into its fields.
func protoFields(b []byte) ([]field, error) {
	var fs []field
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errMalformed
		}
		b = b[n:]
		f := field{num: int(key >> 3)}
		switch key & 7 {
		case 0:
			f.value, n = binary.Uvarint(b)
			if n <= 0 {
				return nil, errMalformed
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return nil, errMalformed
			}
			f.value, b = binary.LittleEndian.Uint64(b), b[8:]
		case 5:
			if len(b) < 4 {
				return nil, errMalformed
			}
			f.value, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errMalformed
			}
			f.bytes, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return nil, errMalformed
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func readEvent(rec []byte, out map[string][]Point) error {
	ev, err := protoFields(rec)
	if err != nil {
		return err
	}
	var p Point
	var summary []byte
	for _, f := range ev {
		switch f.num {
		case eventWallTime:
			p.WallTime = math.Float64frombits(f.value)
		case eventStep:
			p.Step = int64(f.value)
		case eventSummary:
			summary = f.bytes
		}
	}
	values, err := protoFields(summary)
	if err != nil {
		return err
	}
	for _, v := range values {
		if v.num != summaryValue {
			continue
		}
		vf, err := protoFields(v.bytes)
		if err != nil {
			return err
		}
		tag, scalar := "", false
		for _, f := range vf {
			switch f.num {
			case valueTag:
				tag = string(f.bytes)
			case valueSimpleValue:
				p.Value, scalar = float64(math.Float32frombits(uint32(f.value))), true
			}
		}
		if scalar {
			out[tag] = appendPurging(out[tag], p)
		}
	}
	return nil
}

// appendPurging appends p after dropping the points at or beyond its step:
// they belong to a run that was interrupted and resumed from before them.
func appendPurging(ps []Point, p Point) []Point {
	i := len(ps)
	for i > 0 && ps[i-1].Step >= p.Step {
		i--
	}
	return append(ps[:i], p)
}
