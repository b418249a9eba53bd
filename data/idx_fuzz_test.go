package data

import (
	"bytes"
	"compress/gzip"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The corpus under testdata/fuzz/FuzzParseIDX holds valid files (1 to 4
// dimensions, a zero dimension, gzip-compressed), headers declaring far
// more data than follows, cut and corrupt gzip streams, trailing data and
// bad magic numbers.

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// gzipped compresses b with a pooled writer, so the fuzz loop does not
// allocate a new compressor per input.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// onlyReader hides everything but Read, so nothing can learn the
// stream's length.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// heapAlloc returns how many bytes f allocates on the heap.
func heapAlloc(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func FuzzParseIDX(f *testing.F) {
	dims, data := sample3D()
	good := idxBytes(0x08, dims, data)
	f.Add(good)
	f.Add(idxBytes(0x08, []int{10}, []byte("0123456789")))
	f.Add(idxBytes(0x08, []int{2, 0, 7}, nil))
	f.Add(good[:40])
	f.Add(append(good[:len(good):len(good)], 1, 2, 3))
	f.Add(gzipped(good))
	f.Add(gzipped(good)[:30])
	f.Add(idxBytes(0x08, []int{1 << 15, 1 << 16}, nil))
	f.Add(idxBytes(0x08, []int{1 << 16, 1 << 16}, nil))
	f.Add(gzipped(idxBytes(0x08, []int{1 << 15, 1 << 16}, []byte{1, 2, 3})))
	f.Fuzz(func(t *testing.T, b []byte) {
		// A stream of unknown length: memory may grow only with the data
		// present (the buffer starts at idxChunk and at most doubles).
		var streamed *IDX
		var serr error
		if n := heapAlloc(func() { streamed, serr = ParseIDX(onlyReader{bytes.NewReader(b)}, "fuzz") }); !isGzip(b) && n > 2*idxChunk+64<<10+4*uint64(len(b)) {
			t.Fatalf("ParseIDX allocated %d bytes for %d bytes of input", n, len(b))
		}
		checkIDX(t, "stream", streamed, serr)

		// The length known, as ReadIDX knows a plain file's.
		var sized *IDX
		var zerr error
		if n := heapAlloc(func() { sized, zerr = parseIDX(bytes.NewReader(b), "fuzz", int64(len(b))) }); !isGzip(b) && n > 64<<10+2*uint64(len(b)) {
			t.Fatalf("parseIDX allocated %d bytes for %d bytes of input", n, len(b))
		}
		checkIDX(t, "sized", sized, zerr)
		if !sameIDX(streamed, sized) {
			t.Fatalf("stream read %v, %v; sized read %v, %v", summary(streamed), serr, summary(sized), zerr)
		}

		// The same bytes gzip-compressed must decode alike (b itself
		// rarely is a valid gzip stream, so this reaches the gzip path).
		if isGzip(b) {
			return
		}
		zipped, gerr := ParseIDX(bytes.NewReader(gzipped(b)), "fuzz")
		checkIDX(t, "gzip", zipped, gerr)
		if !sameIDX(streamed, zipped) {
			t.Fatalf("plain read %v, %v; gzip read %v, %v", summary(streamed), serr, summary(zipped), gerr)
		}
	})
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// checkIDX checks one result: an error that is one line naming the
// input, or an IDX whose data matches its dimensions.
func checkIDX(t *testing.T, how string, x *IDX, err error) {
	t.Helper()
	if err != nil {
		if x != nil {
			t.Fatalf("%s: both an IDX and an error: %v", how, err)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "data: fuzz: ") || strings.Contains(msg, "\n") {
			t.Fatalf("%s: error %q is not one line naming the input", how, msg)
		}
		return
	}
	if x == nil || len(x.Dims) == 0 {
		t.Fatalf("%s: no error but IDX %v", how, x)
	}
	size := 1
	for _, d := range x.Dims {
		if d < 0 {
			t.Fatalf("%s: negative dimension in %v", how, x.Dims)
		}
		size *= d
	}
	if size > maxIDXBytes || len(x.Data) != size {
		t.Fatalf("%s: dims %v but %d bytes of data", how, x.Dims, len(x.Data))
	}
}

func sameIDX(a, b *IDX) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return joinDims(a.Dims) == joinDims(b.Dims) && bytes.Equal(a.Data, b.Data)
}

func summary(x *IDX) string {
	if x == nil {
		return "nothing"
	}
	return joinDims(x.Dims)
}
