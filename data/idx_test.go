package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// idxBytes builds an IDX file with the given element type.
func idxBytes(typ byte, dims []int, data []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sample3D is a 3x4x5 byte cube whose bytes vary, so a misplaced
// offset shows up.
func sample3D() ([]int, []byte) {
	dims := []int{3, 4, 5}
	data := make([]byte, 60)
	for i := range data {
		data[i] = byte(i*37 + 11)
	}
	return dims, data
}

func TestReadIDXRoundTrip(t *testing.T) {
	dims, data := sample3D()
	plain := idxBytes(0x08, dims, data)
	// Named .gz and plain the other way round: detection is by content.
	for name, b := range map[string][]byte{"plain.gz": plain, "compressed.idx": gzipBytes(t, plain)} {
		got, err := ReadIDX(writeFile(t, t.TempDir(), name, b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got.Dims, dims) || !bytes.Equal(got.Data, data) {
			t.Errorf("%s: got dims %v data %v, want %v %v", name, got.Dims, got.Data, dims, data)
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	dims, data := sample3D()
	good := idxBytes(0x08, dims, data)
	good = good[:len(good):len(good)] // so the appends below do not share it
	big := make([]byte, 4000)
	for i := range big {
		big[i] = byte(i * i >> 3)
	}
	corrupt := gzipBytes(t, idxBytes(0x08, []int{4000}, big))
	for i := len(corrupt) / 2; i < len(corrupt)/2+8; i++ {
		corrupt[i] ^= 0xa5
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"short-header", good[:7], "truncated: IDX header with 3 dims needs 16 bytes, file has 7"},
		{"short-magic", good[:2], "truncated: IDX header needs at least 4 bytes, file has 2"},
		{"short-data", good[:40], "truncated: header says 3x4x5 = 60 bytes of data, file has 24"},
		{"short-data-gz", gzipBytes(t, good[:40]), "truncated: header says 3x4x5 = 60 bytes of data, file has 24"},
		{"cut-gz", gzipBytes(t, good)[:30], "truncated gzip stream"},
		{"bad-magic", append([]byte{0x12, 0x34, 0xab, 0xcd}, good[4:]...), "not an IDX file (bad magic 0x1234abcd)"},
		{"float-type", idxBytes(0x0d, dims, make([]byte, 240)), "unsupported IDX element type 0x0d"},
		{"trailing", append(good, 1, 2, 3), "trailing data: 3 extra bytes after the 60"},
		{"trailing-gz", gzipBytes(t, append(good, 9)), "trailing data: 1 extra bytes"},
		{"corrupt-gz", corrupt, "corrupt gzip stream"},
		{"absurd", idxBytes(0x08, []int{1 << 16, 1 << 16}, nil), "absurd IDX dimensions 65536x65536"},
		{"no-dims", idxBytes(0x08, nil, nil), "no dimensions"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		path := writeFile(t, dir, c.name+"-idx3-ubyte", c.file)
		_, err := ReadIDX(path)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := err.Error()
		t.Logf("%s: %s", c.name, msg)
		if !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, "data: "+path+": ") || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line naming %s and saying %q", c.name, msg, path, c.want)
		}
	}
}

func TestReadIDXMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "MNIST_data", "train-images-idx3-ubyte.gz")
	_, err := ReadIDX(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v is not fs.ErrNotExist", err)
	}
	if want := "data: " + path + ": file not found"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestParseIDXNamesSource(t *testing.T) {
	_, err := ParseIDX(bytes.NewReader([]byte{0, 0, 8}), "stdin")
	if err == nil || !strings.HasPrefix(err.Error(), "data: stdin: truncated") {
		t.Errorf("error %v, want it to name stdin and say truncated", err)
	}
}

// allocated returns how many bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestIDXShortInputAllocatesLittle holds the reader to allocating only
// for data that is actually there: a 12-byte header that declares 2 GiB
// must be refused without allocating anything like 2 GiB, whether the
// input's length is known (a plain file) or not (gzip, a plain stream).
func TestIDXShortInputAllocatesLittle(t *testing.T) {
	const limit = 4 << 20
	hdr := idxBytes(0x08, []int{1 << 15, 1 << 16}, nil) // 2^31 bytes declared, the most allowed
	body := make([]byte, 100000)
	for i := range body {
		body[i] = byte(i * i >> 5)
	}
	someData := idxBytes(0x08, []int{1 << 15, 1 << 16}, body)
	gzHdr, gzSome := gzipBytes(t, hdr), gzipBytes(t, someData)
	path := writeFile(t, t.TempDir(), "huge-idx3-ubyte", hdr)
	cases := []struct {
		name string
		read func() error
		want string
	}{
		{"file", func() error { _, err := ReadIDX(path); return err },
			"data: " + path + ": truncated: header says 32768x65536 = 2147483648 bytes of data, file has 0 after the header"},
		{"stream", func() error { _, err := ParseIDX(bytes.NewReader(hdr), "stream"); return err },
			"data: stream: truncated: header says 32768x65536 = 2147483648 bytes of data, file has 0"},
		{"stream-some-data", func() error { _, err := ParseIDX(bytes.NewReader(someData), "stream"); return err },
			"data: stream: truncated: header says 32768x65536 = 2147483648 bytes of data, file has 100000"},
		{"gzip", func() error { _, err := ParseIDX(bytes.NewReader(gzHdr), "gz"); return err },
			"data: gz: truncated: header says 32768x65536 = 2147483648 bytes of data, file has 0"},
		{"gzip-some-data", func() error { _, err := ParseIDX(bytes.NewReader(gzSome), "gz"); return err },
			"data: gz: truncated: header says 32768x65536 = 2147483648 bytes of data, file has 100000"},
		{"gzip-cut", func() error { _, err := ParseIDX(bytes.NewReader(gzSome[:len(gzSome)/2]), "gz"); return err },
			"data: gz: truncated gzip stream: header says 32768x65536 = 2147483648 bytes of data, stream ends after "},
	}
	for _, c := range cases {
		var err error
		n := allocated(func() { err = c.read() })
		t.Logf("%s: allocated %d bytes: %v", c.name, n, err)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if n > limit {
			t.Errorf("%s: allocated %d bytes for a short input (limit %d)", c.name, n, limit)
		}
	}
}

// TestParseIDXLargerThanChunk reads data of unknown length that needs
// the buffer to grow several times.
func TestParseIDXLargerThanChunk(t *testing.T) {
	dims := []int{3, 1000, 211}
	data := make([]byte, 3*1000*211)
	for i := range data {
		data[i] = byte(i*31 + i>>9)
	}
	plain := idxBytes(0x08, dims, data)
	for name, r := range map[string]io.Reader{
		"plain":       bytes.NewReader(plain),
		"gzip":        bytes.NewReader(gzipBytes(t, plain)),
		"byte-reader": iotest.HalfReader(bytes.NewReader(plain)),
	} {
		got, err := ParseIDX(r, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got.Dims, dims) || !bytes.Equal(got.Data, data) {
			t.Errorf("%s: got dims %v and %d bytes that differ", name, got.Dims, len(got.Data))
		}
	}
}
