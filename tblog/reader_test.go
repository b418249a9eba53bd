package tblog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// This file holds a test-only TFRecord reader and protobuf decoder, written
// independently of the encoder (it uses refCRC32C, the bitwise CRC-32C).

// readRecords splits b into TFRecord payloads, verifying both masked CRCs.
func readRecords(b []byte) ([][]byte, error) {
	var recs [][]byte
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			return recs, fmt.Errorf("record at %d: truncated header (%d bytes)", off, len(b)-off)
		}
		lenBytes := b[off : off+8]
		n := binary.LittleEndian.Uint64(lenBytes)
		if got, want := binary.LittleEndian.Uint32(b[off+8:off+12]), refMask(refCRC32C(lenBytes)); got != want {
			return recs, fmt.Errorf("record at %d: length CRC %#08x, want %#08x", off, got, want)
		}
		off += 12
		if n > uint64(len(b)-off) || uint64(len(b)-off)-n < 4 {
			return recs, fmt.Errorf("record at %d: truncated data (length %d, %d bytes left)", off-12, n, len(b)-off)
		}
		data := b[off : off+int(n)]
		off += int(n)
		if got, want := binary.LittleEndian.Uint32(b[off:off+4]), refMask(refCRC32C(data)); got != want {
			return recs, fmt.Errorf("record at %d: data CRC %#08x, want %#08x", off-int(n)-12, got, want)
		}
		off += 4
		recs = append(recs, data)
	}
	return recs, nil
}

// pbField is one decoded protobuf field.
type pbField struct {
	num  int
	wire int
	u    uint64 // varint, fixed64, fixed32
	b    []byte // length-delimited
}

func uvarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("bad varint")
}

func decodeFields(b []byte) ([]pbField, error) {
	var fs []pbField
	for len(b) > 0 {
		key, n, err := uvarint(b)
		if err != nil {
			return nil, err
		}
		b = b[n:]
		f := pbField{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case 0:
			f.u, n, err = uvarint(b)
			if err != nil {
				return nil, err
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return nil, errors.New("short fixed64")
			}
			f.u = binary.LittleEndian.Uint64(b)
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return nil, errors.New("short fixed32")
			}
			f.u = uint64(binary.LittleEndian.Uint32(b))
			b = b[4:]
		case 2:
			l, n, err := uvarint(b)
			if err != nil {
				return nil, err
			}
			b = b[n:]
			if l > uint64(len(b)) {
				return nil, errors.New("short bytes")
			}
			f.b = b[:l]
			b = b[l:]
		default:
			return nil, fmt.Errorf("field %d: unexpected wire type %d", f.num, f.wire)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

type tEvent struct {
	wallTime    float64
	step        int64
	fileVersion string
	hasSummary  bool
	values      []tValue
}

type tValue struct {
	tag    string
	simple *float32
	histo  *tHisto
}

type tHisto struct {
	min, max, num, sum, sumSquares float64
	bucketLimit, bucket            []float64
}

func wantWire(f pbField, wire int) error {
	if f.wire != wire {
		return fmt.Errorf("field %d: wire type %d, want %d", f.num, f.wire, wire)
	}
	return nil
}

func decodeEvent(b []byte) (*tEvent, error) {
	fs, err := decodeFields(b)
	if err != nil {
		return nil, err
	}
	e := &tEvent{}
	for _, f := range fs {
		switch f.num {
		case 1:
			if err := wantWire(f, 1); err != nil {
				return nil, err
			}
			e.wallTime = math.Float64frombits(f.u)
		case 2:
			if err := wantWire(f, 0); err != nil {
				return nil, err
			}
			e.step = int64(f.u)
		case 3:
			if err := wantWire(f, 2); err != nil {
				return nil, err
			}
			e.fileVersion = string(f.b)
		case 5:
			if err := wantWire(f, 2); err != nil {
				return nil, err
			}
			e.hasSummary = true
			vs, err := decodeFields(f.b)
			if err != nil {
				return nil, err
			}
			for _, v := range vs {
				if v.num != 1 || v.wire != 2 {
					return nil, fmt.Errorf("summary: unexpected field %d", v.num)
				}
				tv, err := decodeValue(v.b)
				if err != nil {
					return nil, err
				}
				e.values = append(e.values, tv)
			}
		default:
			return nil, fmt.Errorf("event: unexpected field %d", f.num)
		}
	}
	return e, nil
}

func decodeValue(b []byte) (tValue, error) {
	var v tValue
	fs, err := decodeFields(b)
	if err != nil {
		return v, err
	}
	for _, f := range fs {
		switch f.num {
		case 1:
			if err := wantWire(f, 2); err != nil {
				return v, err
			}
			v.tag = string(f.b)
		case 2:
			if err := wantWire(f, 5); err != nil {
				return v, err
			}
			x := math.Float32frombits(uint32(f.u))
			v.simple = &x
		case 5:
			if err := wantWire(f, 2); err != nil {
				return v, err
			}
			h, err := decodeHisto(f.b)
			if err != nil {
				return v, err
			}
			v.histo = h
		default:
			return v, fmt.Errorf("value: unexpected field %d", f.num)
		}
	}
	return v, nil
}

func decodePacked(b []byte) ([]float64, error) {
	if len(b)%8 != 0 {
		return nil, errors.New("packed doubles: bad length")
	}
	var out []float64
	for i := 0; i < len(b); i += 8 {
		out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
	}
	return out, nil
}

func decodeHisto(b []byte) (*tHisto, error) {
	fs, err := decodeFields(b)
	if err != nil {
		return nil, err
	}
	h := &tHisto{}
	for _, f := range fs {
		switch f.num {
		case 1, 2, 3, 4, 5:
			if err := wantWire(f, 1); err != nil {
				return nil, err
			}
			x := math.Float64frombits(f.u)
			*[]*float64{&h.min, &h.max, &h.num, &h.sum, &h.sumSquares}[f.num-1] = x
		case 6, 7:
			if err := wantWire(f, 2); err != nil {
				return nil, err
			}
			xs, err := decodePacked(f.b)
			if err != nil {
				return nil, err
			}
			if f.num == 6 {
				h.bucketLimit = append(h.bucketLimit, xs...)
			} else {
				h.bucket = append(h.bucket, xs...)
			}
		default:
			return nil, fmt.Errorf("histo: unexpected field %d", f.num)
		}
	}
	return h, nil
}
