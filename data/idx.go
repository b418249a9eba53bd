package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// IDX is a decoded IDX file whose elements are unsigned bytes.
type IDX struct {
	Dims []int  // size of each dimension, outermost first
	Data []byte // row-major elements, product(Dims) bytes
}

// idxUbyte is the only IDX element type MNIST uses.
const idxUbyte = 0x08

// maxIDXBytes caps the element count a header may declare, so a corrupt
// or hostile header cannot make us allocate gigabytes.
const maxIDXBytes = 1 << 31

// fileError keeps one-line messages while still letting callers test
// the cause with errors.Is (e.g. fs.ErrNotExist).
type fileError struct {
	msg string
	err error
}

func (e *fileError) Error() string { return e.msg }
func (e *fileError) Unwrap() error { return e.err }

// openError turns an os error into a "data: <path>: <problem>" error.
func openError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &fileError{"data: " + path + ": file not found", err}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fileError{"data: " + path + ": " + pe.Err.Error(), err}
	}
	return &fileError{"data: " + path + ": " + err.Error(), err}
}

// ReadIDX reads a plain or gzip-compressed IDX file. For a plain file the
// size the header declares is checked against the file's length before
// anything is allocated for the data.
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	defer f.Close()
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return parseIDX(f, path, size)
}

// ParseIDX decodes an IDX stream, gunzipping it first if it starts with
// the gzip magic bytes. name is used only in error messages. The stream's
// length is not known in advance, so the data buffer grows only as data
// arrives: a short stream whose header declares a lot makes it allocate
// no more than a 256 KiB first chunk or about twice what the stream holds.
func ParseIDX(r io.Reader, name string) (*IDX, error) {
	return parseIDX(r, name, -1)
}

// parseIDX is ParseIDX for a stream of size bytes, or of unknown length
// if size < 0. A known size applies to the raw bytes, so it is ignored
// for a gzip stream.
func parseIDX(r io.Reader, name string, size int64) (*IDX, error) {
	p := &idxParser{name: name, size: size}
	br := bufio.NewReader(r)
	p.r = br
	// Detect gzip by content: users rename files, and the name is not ours.
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		p.gz = true
		p.size = -1
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, p.readError(err, "gzip header is incomplete", 0)
		}
		defer zr.Close()
		p.r = zr
	}
	dims, err := p.header()
	if err != nil {
		return nil, err
	}
	data, err := p.body(dims)
	if err != nil {
		return nil, err
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// idxParser carries what error messages need to say where and how
// reading failed.
type idxParser struct {
	name string
	gz   bool
	r    io.Reader
	size int64 // length of the uncompressed input, or -1 if unknown
	hlen int64 // bytes of header read
}

func (p *idxParser) errorf(format string, args ...any) error {
	return fmt.Errorf("data: "+p.name+": "+format, args...)
}

// readError explains a read that stopped before it had all it needed.
// A clean EOF means the content itself is short; other errors come from
// the gzip layer or the file system.
func (p *idxParser) readError(err error, want string, have int) error {
	switch {
	case err == io.EOF:
		return p.errorf("truncated: %s, file has %d", want, have)
	case p.gz && errors.Is(err, io.ErrUnexpectedEOF):
		return p.errorf("truncated gzip stream: %s, stream ends after %d", want, have)
	case p.gz:
		return p.errorf("corrupt gzip stream: %w", err)
	default:
		return p.errorf("read failed: %w", err)
	}
}

// header reads the magic number and the dimensions.
func (p *idxParser) header() ([]int, error) {
	var magic [4]byte
	if n, err := readFull(p.r, magic[:]); err != nil {
		return nil, p.readError(err, "IDX header needs at least 4 bytes", n)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, p.errorf("not an IDX file (bad magic 0x%08x)", binary.BigEndian.Uint32(magic[:]))
	}
	if magic[2] != idxUbyte {
		return nil, p.errorf("unsupported IDX element type 0x%02x (only 0x08, unsigned byte, is supported)", magic[2])
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, p.errorf("IDX header declares no dimensions")
	}
	raw := make([]byte, 4*nd)
	if n, err := readFull(p.r, raw); err != nil {
		want := fmt.Sprintf("IDX header with %d dims needs %d bytes", nd, 4+len(raw))
		return nil, p.readError(err, want, 4+n)
	}
	p.hlen = int64(4 + len(raw))
	dims := make([]int, nd)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(raw[4*i:]))
	}
	size := uint64(1)
	for _, d := range dims {
		// Each factor is < 1<<32 and size stays <= 1<<31 here, so the
		// product cannot overflow before it is checked.
		if size *= uint64(d); size > maxIDXBytes {
			return nil, p.errorf("absurd IDX dimensions %s (over %d bytes)", joinDims(dims), uint64(maxIDXBytes))
		}
	}
	return dims, nil
}

// idxChunk is the first allocation for data of unknown length; the
// buffer then doubles as data arrives.
const idxChunk = 256 << 10

// body reads exactly the elements the header promised, then insists the
// stream ends there: extra bytes mean we misread the file.
func (p *idxParser) body(dims []int) ([]byte, error) {
	size := 1
	for _, d := range dims {
		size *= d
	}
	want := func() string { return fmt.Sprintf("header says %s = %d bytes of data", joinDims(dims), size) }
	if p.size >= 0 {
		// The length is known: refuse a short or long file before
		// allocating anything.
		switch have := p.size - p.hlen; {
		case have < int64(size):
			return nil, p.errorf("truncated: %s, file has %d after the header", want(), have)
		case have > int64(size):
			return nil, p.errorf("trailing data: %d extra bytes after the %d the header describes", have-int64(size), size)
		}
	}
	data, err := p.readData(size)
	if err != nil {
		return nil, p.readError(err, want(), len(data))
	}
	var one [1]byte
	n, err := readFull(p.r, one[:])
	if n == 1 {
		extra, _ := io.Copy(io.Discard, p.r)
		return nil, p.errorf("trailing data: %d extra bytes after the %d the header describes", extra+1, size)
	}
	if err != io.EOF {
		// Reading to EOF is also what makes gzip verify its CRC.
		return nil, p.readError(err, "data is complete but the stream does not end cleanly", size)
	}
	return data, nil
}

// readData reads size bytes. When the input's length was checked it
// allocates them at once; otherwise it starts small and doubles the
// buffer only as data actually arrives. On error it returns what it read.
func (p *idxParser) readData(size int) ([]byte, error) {
	if p.size >= 0 {
		data := make([]byte, size)
		n, err := readFull(p.r, data)
		return data[:n], err
	}
	data := make([]byte, 0, min(size, idxChunk))
	for len(data) < size {
		if len(data) == cap(data) {
			grown := make([]byte, len(data), min(size, 2*cap(data)))
			copy(grown, data)
			data = grown
		}
		n, err := p.r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err != nil && len(data) < size {
			return data, err
		}
	}
	return data, nil
}

// readFull is io.ReadFull without its EOF rewriting: we need to tell a
// clean end of content (io.EOF) from a cut gzip stream
// (io.ErrUnexpectedEOF).
func readFull(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil && n < len(buf) {
			return n, err
		}
	}
	return n, nil
}

func joinDims(dims []int) string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = strconv.Itoa(d)
	}
	return strings.Join(s, "x")
}
