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

// ReadIDX reads a plain or gzip-compressed IDX file.
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	defer f.Close()
	return ParseIDX(f, path)
}

// ParseIDX decodes an IDX stream, gunzipping it first if it starts with
// the gzip magic bytes. name is used only in error messages.
func ParseIDX(r io.Reader, name string) (*IDX, error) {
	p := &idxParser{name: name}
	br := bufio.NewReader(r)
	p.r = br
	// Detect gzip by content: users rename files, and the name is not ours.
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		p.gz = true
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

// body reads exactly the elements the header promised, then insists the
// stream ends there: extra bytes mean we misread the file.
func (p *idxParser) body(dims []int) ([]byte, error) {
	size := 1
	for _, d := range dims {
		size *= d
	}
	data := make([]byte, size)
	if n, err := readFull(p.r, data); err != nil {
		want := fmt.Sprintf("header says %s = %d bytes of data", joinDims(dims), size)
		return nil, p.readError(err, want, n)
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
