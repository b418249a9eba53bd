package tblog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fixedClock(sec int64, nsec int64) func() time.Time {
	t := time.Unix(sec, nsec)
	return func() time.Time { return t }
}

// frame builds a TFRecord around data using the reference CRC.
func frame(data []byte) []byte {
	var out []byte
	out = binary.LittleEndian.AppendUint64(out, uint64(len(data)))
	out = binary.LittleEndian.AppendUint32(out, refMask(refCRC32C(out[:8])))
	out = append(out, data...)
	return binary.LittleEndian.AppendUint32(out, refMask(refCRC32C(data)))
}

// tinyEvent is Event{wall_time: 1.5, step: 2, summary {value {tag: "loss", simple_value: 0.25}}}, by hand.
var tinyEvent = []byte{
	0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // 1: wall_time, fixed64 1.5 = 0x3FF8000000000000
	0x10, 0x02, // 2: step, varint 2
	0x2a, 0x0d, // 5: summary, 13 bytes
	0x0a, 0x0b, //   1: value, 11 bytes
	0x0a, 0x04, 'l', 'o', 's', 's', //     1: tag "loss"
	0x15, 0, 0, 0x80, 0x3e, //     2: simple_value, fixed32 0.25 = 0x3E800000
}

// fileVersionEvent is Event{wall_time: 1.5, file_version: "brain.Event:2"}, by hand.
var fileVersionEvent = append([]byte{
	0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f,
	0x1a, 0x0d}, "brain.Event:2"...)

func TestTinyEventBytes(t *testing.T) {
	got := encodeSummaryEvent(1.5, 2, []summaryVal{{tag: "loss", scalar: 0.25}})
	if !bytes.Equal(got, tinyEvent) {
		t.Fatalf("event bytes\n got % x\nwant % x", got, tinyEvent)
	}
	if got := encodeFileVersionEvent(1.5); !bytes.Equal(got, fileVersionEvent) {
		t.Fatalf("file_version event bytes\n got % x\nwant % x", got, fileVersionEvent)
	}
	// Length header of the tiny record: 26 = 0x1a.
	if f := frame(tinyEvent); f[0] != 0x1a || len(f) != 26+16 {
		t.Fatalf("frame header % x, length %d", f[:8], len(f))
	}
}

func TestTinyFileBytes(t *testing.T) {
	dir := t.TempDir()
	w, err := newWriter(dir, fixedClock(1, 5e8))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Scalar("loss", 2, 0.25); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if want := "events.out.tfevents.1." + host; host != "" && !strings.Contains(host, "/") && filepath.Base(w.Path()) != want {
		t.Errorf("file name %q, want %q", filepath.Base(w.Path()), want)
	}
	got, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	want := append(frame(fileVersionEvent), frame(tinyEvent)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("file bytes\n got % x\nwant % x", got, want)
	}
}

func readEvents(t *testing.T, path string) []*tEvent {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readRecords(b)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*tEvent
	for i, r := range recs {
		e, err := decodeEvent(r)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		evs = append(evs, e)
	}
	return evs
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b") // MkdirAll
	w, err := newWriter(dir, fixedClock(1700000000, 250e6))
	if err != nil {
		t.Fatal(err)
	}
	hv := []float32{0, -1, 1, 1, 2.5, 1e-3, -7, float32(math.NaN()), float32(math.Inf(1))}
	steps := []struct {
		err error
	}{
		{w.Scalar("loss", 0, 0)},
		{w.Scalar("loss", 1, 0.5)},
		{w.Scalar("neg", -3, -1.25)},
		{w.Scalars(10, map[string]float64{"b": 2, "a": 1, "c/d": 3})},
		{w.Histogram("w", 11, hv)},
		{w.Flush()},
		{w.Scalar("big", 1<<40, 1e30)},
	}
	for i, s := range steps {
		if s.err != nil {
			t.Fatalf("op %d: %v", i, s.err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	evs := readEvents(t, w.Path())
	if len(evs) != 7 {
		t.Fatalf("%d events, want 7", len(evs))
	}
	const wt = 1700000000.25
	if e := evs[0]; e.fileVersion != "brain.Event:2" || e.hasSummary || e.wallTime != wt {
		t.Fatalf("first event %+v", e)
	}
	type sc struct {
		step int64
		tags []string
		vals []float32
	}
	wantSc := []sc{
		{0, []string{"loss"}, []float32{0}},
		{1, []string{"loss"}, []float32{0.5}},
		{-3, []string{"neg"}, []float32{-1.25}},
		{10, []string{"a", "b", "c/d"}, []float32{1, 2, 3}},
	}
	for i, ws := range wantSc {
		e := evs[1+i]
		if e.step != ws.step || e.wallTime != wt || e.fileVersion != "" || len(e.values) != len(ws.tags) {
			t.Fatalf("event %d: %+v, want %+v", 1+i, e, ws)
		}
		for j, v := range e.values {
			if v.tag != ws.tags[j] || v.simple == nil || *v.simple != ws.vals[j] || v.histo != nil {
				t.Errorf("event %d value %d: %+v, want %s=%v", 1+i, j, v, ws.tags[j], ws.vals[j])
			}
		}
	}
	he := evs[5]
	if he.step != 11 || len(he.values) != 1 || he.values[0].tag != "w" || he.values[0].histo == nil || he.values[0].simple != nil {
		t.Fatalf("histogram event %+v", he)
	}
	h := he.values[0].histo
	if h.min != -7 || h.max != 2.5 || h.num != 7 {
		t.Errorf("histo min/max/num = %v/%v/%v, want -7/2.5/7", h.min, h.max, h.num)
	}
	var sum, ss float64
	for _, v := range hv[:7] {
		sum += float64(v)
		ss += float64(v) * float64(v)
	}
	if h.sum != sum || h.sumSquares != ss {
		t.Errorf("histo sum/sumsq = %v/%v, want %v/%v", h.sum, h.sumSquares, sum, ss)
	}
	checkHisto(t, h, hv[:7])
	last := evs[6]
	if last.step != 1<<40 || *last.values[0].simple != float32(1e30) {
		t.Errorf("last event %+v", last)
	}
}

// checkHisto verifies a decoded histogram against the values it counts:
// limits increase, counts add up to num, and each value falls in exactly the
// bucket [left, limit) that TensorBoard derives (left = min for the first).
func checkHisto(t *testing.T, h *tHisto, values []float32) {
	t.Helper()
	if len(h.bucket) != len(h.bucketLimit) || len(h.bucket) == 0 {
		t.Fatalf("%d buckets, %d limits", len(h.bucket), len(h.bucketLimit))
	}
	var total float64
	for i, c := range h.bucket {
		total += c
		if i > 0 && !(h.bucketLimit[i] > h.bucketLimit[i-1]) {
			t.Fatalf("limits not increasing at %d: %v", i, h.bucketLimit)
		}
		if (i == 0 || i == len(h.bucket)-1) && c == 0 {
			t.Errorf("edge bucket %d is empty", i)
		}
		if i > 0 && c == 0 && h.bucket[i-1] == 0 {
			t.Errorf("empty buckets %d and %d not merged", i-1, i)
		}
	}
	if total != h.num || total != float64(len(values)) {
		t.Fatalf("bucket total %v, num %v, values %d", total, h.num, len(values))
	}
	got := make([]float64, len(h.bucket))
	for _, f := range values {
		v := float64(f)
		for i := range h.bucketLimit {
			left := h.min
			if i > 0 {
				left = h.bucketLimit[i-1]
			}
			last := i == len(h.bucketLimit)-1
			if v >= left && (v < h.bucketLimit[i] || last && v <= h.max) {
				got[i]++
				break
			}
		}
	}
	for i := range got {
		if got[i] != h.bucket[i] {
			t.Fatalf("bucket %d [..%v): counted %v, file says %v (limits %v, counts %v)", i, h.bucketLimit[i], got[i], h.bucket[i], h.bucketLimit, h.bucket)
		}
	}
	if h.max >= h.bucketLimit[len(h.bucketLimit)-1] && h.bucketLimit[len(h.bucketLimit)-1] != math.MaxFloat64 {
		t.Errorf("max %v not below last limit %v", h.max, h.bucketLimit[len(h.bucketLimit)-1])
	}
}

func TestCorruptionDetected(t *testing.T) {
	dir := t.TempDir()
	w, err := newWriter(dir, fixedClock(5, 0))
	if err != nil {
		t.Fatal(err)
	}
	w.Scalar("x", 1, 1)
	w.Histogram("h", 2, []float32{1, 2, 3})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readRecords(b); err != nil {
		t.Fatalf("intact file: %v", err)
	}
	for _, n := range []int{1, 11, 12, 20, len(b) - 4, len(b) - 1} {
		if _, err := readRecords(b[:n]); err == nil {
			t.Errorf("truncated to %d of %d bytes: no error", n, len(b))
		}
	}
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x10
		if _, err := readRecords(c); err == nil {
			t.Errorf("byte %d flipped: no error", i)
		}
	}
}

func TestNoOverwrite(t *testing.T) {
	dir := t.TempDir()
	clock := fixedClock(42, 0)
	w1, err := newWriter(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	w1.Scalar("first", 1, 1)
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	w2, err := newWriter(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	w3, err := newWriter(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	w2.Close()
	w3.Close()
	if w2.Path() != w1.Path()+".1" || w3.Path() != w1.Path()+".2" {
		t.Fatalf("paths %q %q %q", w1.Path(), w2.Path(), w3.Path())
	}
	if !strings.HasPrefix(filepath.Base(w1.Path()), "events.out.tfevents.42.") {
		t.Errorf("name %q", w1.Path())
	}
	evs := readEvents(t, w1.Path())
	if len(evs) != 2 || evs[1].values[0].tag != "first" {
		t.Fatalf("first file overwritten: %+v", evs)
	}
	if len(readEvents(t, w2.Path())) != 1 {
		t.Fatal("second file")
	}
}

func TestPublicNewWriterAndErrors(t *testing.T) {
	w, err := NewWriter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Scalar("", 1, 1); err == nil {
		t.Error("empty tag accepted")
	}
	if err := w.Scalar("\xff", 1, 1); err == nil {
		t.Error("invalid UTF-8 tag accepted")
	}
	if err := w.Scalars(1, map[string]float64{"ok": 1, "": 2}); err == nil {
		t.Error("empty tag in Scalars accepted")
	}
	if err := w.Histogram("h", 1, nil); !errors.Is(err, ErrEmptyHistogram) {
		t.Errorf("empty histogram: %v", err)
	}
	if err := w.Histogram("h", 1, []float32{float32(math.NaN())}); !errors.Is(err, ErrEmptyHistogram) {
		t.Errorf("NaN-only histogram: %v", err)
	}
	if err := w.Scalars(1, nil); err != nil {
		t.Errorf("empty Scalars: %v", err)
	}
	if err := w.Scalar("ok", 3, 1); err != nil {
		t.Fatal(err)
	}
	now := float64(time.Now().Unix())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Scalar("ok", 4, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Scalar after Close: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
	evs := readEvents(t, w.Path())
	if len(evs) != 2 || evs[1].step != 3 {
		t.Fatalf("events %+v", evs)
	}
	if d := math.Abs(evs[1].wallTime - now); d > 60 {
		t.Errorf("wall_time %v, now %v", evs[1].wallTime, now)
	}
}
