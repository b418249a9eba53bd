// Package tblog writes TensorBoard event files by hand, using only the
// standard library.
//
// A log directory for TensorBoard holds files named
//
//	events.out.tfevents.<unix seconds>.<hostname>
//
// (NewWriter adds a numeric suffix, ".1", ".2", ..., rather than overwrite an
// existing file of that name). Each file is a sequence of TFRecord records:
//
//	uint64 little-endian length of data
//	uint32 masked CRC-32C of those 8 length bytes
//	data
//	uint32 masked CRC-32C of data
//
// where CRC-32C is the Castagnoli CRC and the mask is
// ((crc >> 15) | (crc << 17)) + 0xa282ead8 in uint32 arithmetic.
//
// Each record's data is a serialized tensorflow.Event protobuf (TensorFlow's
// event.proto / summary.proto, proto3), encoded here with a small hand-written
// wire-format encoder. The subset used:
//
//	Event:          1 wall_time double, 2 step int64,
//	                3 file_version string (oneof), 5 summary Summary (oneof)
//	Summary:        1 value repeated Summary.Value
//	Summary.Value:  1 tag string, 2 simple_value float (oneof), 5 histo HistogramProto (oneof)
//	HistogramProto: 1 min, 2 max, 3 num, 4 sum, 5 sum_squares (double),
//	                6 bucket_limit, 7 bucket (repeated double, packed)
//
// Fields are written in field-number order and proto3 default values of
// non-oneof fields (a zero wall_time or step, a zero histogram statistic) are
// left out, so the bytes are those a protobuf library's canonical
// serialization produces. The first record of every file is an Event with
// file_version "brain.Event:2".
//
// Histograms use TensorFlow's default bucket limits (limits 1e-12 * 1.1^k
// below 1e20, their negatives, 0, and ±DBL_MAX; a value v falls in bucket i
// when limit[i-1] <= v < limit[i]). Only the buckets from the first to the
// last non-empty one are written, with runs of empty buckets in between
// merged into one, as TensorFlow's compact encoding does. TensorBoard takes
// the histogram's min as the left edge of the first bucket and max as the
// right edge of the last, which this range matches exactly.
//
// Writes are buffered; Flush pushes them to the file (TensorBoard reads a
// growing file incrementally) and Close flushes and closes it. A Writer is
// safe for concurrent use.
//
// tools/tbcheck in this repository reads the files back with the official
// protobuf runtime for Python as an independent check.
package tblog
