package tblog

import (
	"encoding/binary"
	"math"
)

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// pbuf is a minimal protobuf wire-format encoder: each method appends one
// field to the buffer. Nested messages are encoded into their own pbuf and
// appended with message.
type pbuf []byte

func (b pbuf) varint(v uint64) pbuf {
	return binary.AppendUvarint(b, v)
}

func (b pbuf) tag(field int, wire int) pbuf {
	return b.varint(uint64(field)<<3 | uint64(wire))
}

// int64 appends an int64 field (negative values take ten bytes, as in
// protobuf's int64 encoding).
func (b pbuf) int64(field int, v int64) pbuf {
	return b.tag(field, wireVarint).varint(uint64(v))
}

func (b pbuf) double(field int, v float64) pbuf {
	return binary.LittleEndian.AppendUint64(b.tag(field, wireFixed64), math.Float64bits(v))
}

func (b pbuf) float(field int, v float32) pbuf {
	return binary.LittleEndian.AppendUint32(b.tag(field, wireFixed32), math.Float32bits(v))
}

func (b pbuf) bytes(field int, v []byte) pbuf {
	b = b.tag(field, wireBytes).varint(uint64(len(v)))
	return append(b, v...)
}

func (b pbuf) string(field int, v string) pbuf {
	b = b.tag(field, wireBytes).varint(uint64(len(v)))
	return append(b, v...)
}

func (b pbuf) message(field int, m pbuf) pbuf { return b.bytes(field, m) }

// packedDoubles appends a packed repeated double field.
func (b pbuf) packedDoubles(field int, vs []float64) pbuf {
	b = b.tag(field, wireBytes).varint(uint64(8 * len(vs)))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

// Proto3 implicit-presence helpers: a field holding its default value is
// not written. A double is "default" only when its bits are all zero, so
// -0.0 is written (as protobuf's upb/C++ runtimes do).

func (b pbuf) optInt64(field int, v int64) pbuf {
	if v == 0 {
		return b
	}
	return b.int64(field, v)
}

func (b pbuf) optDouble(field int, v float64) pbuf {
	if math.Float64bits(v) == 0 {
		return b
	}
	return b.double(field, v)
}

func (b pbuf) optString(field int, v string) pbuf {
	if v == "" {
		return b
	}
	return b.string(field, v)
}

func (b pbuf) optPackedDoubles(field int, vs []float64) pbuf {
	if len(vs) == 0 {
		return b
	}
	return b.packedDoubles(field, vs)
}

// Field numbers from TensorFlow's event.proto and summary.proto.
const (
	eventWallTime    = 1
	eventStep        = 2
	eventFileVersion = 3
	eventSummary     = 5

	summaryValue = 1

	valueTag         = 1
	valueSimpleValue = 2
	valueHisto       = 5

	histoMin         = 1
	histoMax         = 2
	histoNum         = 3
	histoSum         = 4
	histoSumSquares  = 5
	histoBucketLimit = 6
	histoBucket      = 7
)

// fileVersion is the file_version of the first Event in every file.
const fileVersion = "brain.Event:2"

// summaryVal is one Summary.Value: a tag and either a scalar or a histogram.
type summaryVal struct {
	tag    string
	scalar float32
	histo  *histogram // nil for a scalar
}

func (v summaryVal) encode() pbuf {
	var m pbuf
	m = m.optString(valueTag, v.tag)
	// simple_value and histo are members of a oneof: written even when zero.
	if v.histo == nil {
		m = m.float(valueSimpleValue, v.scalar)
	} else {
		m = m.message(valueHisto, v.histo.encode())
	}
	return m
}

func (h *histogram) encode() pbuf {
	var m pbuf
	m = m.optDouble(histoMin, h.min)
	m = m.optDouble(histoMax, h.max)
	m = m.optDouble(histoNum, h.num)
	m = m.optDouble(histoSum, h.sum)
	m = m.optDouble(histoSumSquares, h.sumSquares)
	m = m.optPackedDoubles(histoBucketLimit, h.bucketLimit)
	m = m.optPackedDoubles(histoBucket, h.bucket)
	return m
}

// encodeSummaryEvent encodes an Event holding a Summary with the given values.
func encodeSummaryEvent(wallTime float64, step int64, vals []summaryVal) []byte {
	var s pbuf
	for _, v := range vals {
		s = s.message(summaryValue, v.encode())
	}
	var e pbuf
	e = e.optDouble(eventWallTime, wallTime)
	e = e.optInt64(eventStep, step)
	e = e.message(eventSummary, s) // oneof: written even if empty
	return e
}

// encodeFileVersionEvent encodes the Event that opens every file.
func encodeFileVersionEvent(wallTime float64) []byte {
	var e pbuf
	e = e.optDouble(eventWallTime, wallTime)
	e = e.string(eventFileVersion, fileVersion)
	return e
}
