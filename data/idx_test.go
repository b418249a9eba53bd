package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
