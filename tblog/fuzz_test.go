package tblog

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The corpora under testdata/fuzz/ hold a small real event file (scalars
// and a histogram), truncated and bit-flipped copies of it, and records
// whose length field is absurd but carries a valid checksum.

// frameRecord frames data as one TFRecord with valid checksums.
func frameRecord(data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(data)))
	b = binary.LittleEndian.AppendUint32(b, maskedCRC32C(b))
	b = append(b, data...)
	return binary.LittleEndian.AppendUint32(b, maskedCRC32C(data))
}

// lengthOnly is a record header declaring length with a valid length
// checksum and nothing after it.
func lengthOnly(length uint64) []byte {
	b := binary.LittleEndian.AppendUint64(nil, length)
	return binary.LittleEndian.AppendUint32(b, maskedCRC32C(b))
}

// sampleEventFile writes a small event file with the real writer.
func sampleEventFile(tb testing.TB, dir string) []byte {
	tb.Helper()
	w, err := newWriter(dir, fixedClock(1000, 25e7))
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.Scalars(1, map[string]float64{"loss": 2.5, "lr": 0.1}); err != nil {
		tb.Fatal(err)
	}
	if err := w.Histogram("w", 1, []float32{-1, 0, 0.5, 3}); err != nil {
		tb.Fatal(err)
	}
	if err := w.Scalar("loss", 2, math.Inf(1)); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(w.Path())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// allocated returns how many bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// readBound is generous: every point, field and tag ReadScalars keeps
// comes from bytes of the file, so what it allocates is a bounded multiple
// of the file's size; a reader that trusted a length field would not be.
func readBound(n int) uint64 { return 1<<20 + 256*uint64(n) }

// TestReadScalarsHugeLength is the regression test for a length field
// near 1<<63 with a valid checksum: int(length)+4 wrapped around, passed
// the bounds check, and slicing the record panicked.
func TestReadScalarsHugeLength(t *testing.T) {
	good := frameRecord(encodeFileVersionEvent(1))
	for _, length := range []uint64{math.MaxInt64 - 3, math.MaxInt64, math.MaxInt64 + 1, math.MaxUint64, 1 << 40} {
		dir := t.TempDir()
		b := append(append([]byte{}, good...), lengthOnly(length)...)
		b = append(b, make([]byte, 16)...)
		if err := os.WriteFile(filepath.Join(dir, "events.out.tfevents.1.x"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadScalars(dir) // must not panic
		if err != nil || len(got) != 0 {
			t.Errorf("length %d: got %v, %v; want a quietly truncated file", length, got, err)
		}
	}
}

func FuzzReadScalars(f *testing.F) {
	file := sampleEventFile(f, f.TempDir())
	f.Add(file)
	f.Add(file[:len(file)-3])
	f.Add(file[:30])
	flipped := append([]byte{}, file...)
	flipped[len(flipped)/2] ^= 0x10
	f.Add(flipped)
	f.Add([]byte{})
	f.Add(append(frameRecord(encodeFileVersionEvent(1)), lengthOnly(math.MaxInt64-2)...))
	// One directory for all inputs, rewritten each time: a fuzz function
	// is not run in parallel with itself, and making a directory per input
	// would cost more than the read.
	dir := f.TempDir()
	path := filepath.Join(dir, "events.out.tfevents.1.fuzz")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var got map[string][]Point
		var err error
		if n := allocated(func() { got, err = ReadScalars(dir) }); n > readBound(len(b)) {
			t.Fatalf("ReadScalars allocated %d bytes for a %d-byte file", n, len(b))
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, path+": record at byte ") || strings.Contains(msg, "\n") {
				t.Fatalf("error %q does not name the file and the record's offset on one line", msg)
			}
			return
		}
		checkPoints(t, got, len(b))
	})
}

// checkPoints checks what a successful read returned: no more points than
// the input could hold, each tag's steps strictly increasing.
func checkPoints(t *testing.T, got map[string][]Point, size int) {
	t.Helper()
	total := 0
	for tag, ps := range got {
		total += len(ps)
		for i := 1; i < len(ps); i++ {
			if ps[i].Step <= ps[i-1].Step {
				t.Fatalf("tag %q: step %d after %d", tag, ps[i].Step, ps[i-1].Step)
			}
		}
	}
	if total > size {
		t.Fatalf("%d points from %d bytes", total, size)
	}
}

// FuzzReadEvent fuzzes the protobuf decoding of one record. The fuzz bytes
// are an Event payload, framed here with valid checksums so that mutations
// reach the decoder rather than stopping at the checksum; the file read
// must agree with readEvent on the payload alone.
func FuzzReadEvent(f *testing.F) {
	f.Add(encodeFileVersionEvent(1.5))
	f.Add(encodeSummaryEvent(2.25, 7, []summaryVal{{tag: "loss", scalar: 0.5}, {tag: "acc", scalar: 0.875}}))
	h, err := newHistogram([]float32{-2, 0, 1, 1, 1e30})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodeSummaryEvent(3, -1, []summaryVal{{tag: "w", histo: h}, {tag: "loss", scalar: float32(math.NaN())}}))
	f.Add(encodeSummaryEvent(0, 0, nil))
	f.Add([]byte{0x2a, 0xff, 0xff, 0xff, 0xff, 0x0f}) // summary claiming 4 GiB
	dir := f.TempDir()
	path := filepath.Join(dir, "events.out.tfevents.1.fuzz")
	f.Fuzz(func(t *testing.T, payload []byte) {
		direct := map[string][]Point{}
		var derr error
		if n := allocated(func() { derr = readEvent(payload, direct) }); n > readBound(len(payload)) {
			t.Fatalf("readEvent allocated %d bytes for a %d-byte record", n, len(payload))
		}
		if derr == nil {
			checkPoints(t, direct, len(payload))
		}

		first := frameRecord(encodeFileVersionEvent(1))
		file := append(first, frameRecord(payload)...)
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadScalars(dir)
		if (err != nil) != (derr != nil) {
			t.Fatalf("ReadScalars: %v, but readEvent: %v", err, derr)
		}
		if err != nil {
			if want := fmt.Sprintf("%s: record at byte %d: ", path, len(first)); !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("error %q, want it to start %q", err, want)
			}
			return
		}
		if !samePoints(got, direct) {
			t.Fatalf("ReadScalars read %v, readEvent %v", got, direct)
		}

		// A canonical event (what the writer produces) must decode to
		// exactly what the independent test decoder sees in it.
		ev, err := decodeEvent(payload)
		if err != nil || !ev.hasSummary {
			return
		}
		var vals []summaryVal
		want := map[string][]Point{}
		for _, v := range ev.values {
			if v.simple == nil || v.histo != nil {
				return
			}
			vals = append(vals, summaryVal{tag: v.tag, scalar: *v.simple})
			want[v.tag] = appendPurging(want[v.tag], Point{Step: ev.step, WallTime: ev.wallTime, Value: float64(*v.simple)})
		}
		if string(encodeSummaryEvent(ev.wallTime, ev.step, vals)) != string(payload) {
			return
		}
		if !samePoints(got, want) {
			t.Fatalf("read %v from a canonical event, the test decoder %v", got, want)
		}
	})
}

// samePoints compares two results bit for bit, so NaN equals NaN.
func samePoints(a, b map[string][]Point) bool {
	if len(a) != len(b) {
		return false
	}
	for tag, pa := range a {
		pb, ok := b[tag]
		if !ok || len(pa) != len(pb) {
			return false
		}
		for i := range pa {
			if pa[i].Step != pb[i].Step ||
				math.Float64bits(pa[i].WallTime) != math.Float64bits(pb[i].WallTime) ||
				math.Float64bits(pa[i].Value) != math.Float64bits(pb[i].Value) {
				return false
			}
		}
	}
	return true
}
