package tblog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// ErrClosed is returned by Writer methods called after Close.
var ErrClosed = errors.New("tblog: writer is closed")

// Writer appends events to one TensorBoard event file. Its methods are safe
// for concurrent use.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	bw   *bufio.Writer
	path string
	now  func() time.Time // wall clock; replaced in tests
	hdr  [12]byte
}

// NewWriter creates dir (and its parents) if needed and a new event file in
// it, events.out.tfevents.<unix seconds>.<hostname>, with a numeric suffix
// (".1", ".2", ...) if a file of that name already exists. It writes the
// file_version record; call Flush or Close to push it to the file.
func NewWriter(dir string) (*Writer, error) {
	return newWriter(dir, time.Now)
}

const maxNameTries = 1000

func newWriter(dir string, now func() time.Time) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tblog: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	host = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, host)
	t := now()
	base := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%d.%s", t.Unix(), host))
	var f *os.File
	for i := 0; i < maxNameTries; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s.%d", base, i)
		}
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("tblog: %w", err)
		}
	}
	if f == nil {
		return nil, fmt.Errorf("tblog: no free event file name for %s after %d tries", base, maxNameTries)
	}
	w := &Writer{f: f, bw: bufio.NewWriter(f), path: f.Name(), now: now}
	if err := w.writeRecord(encodeFileVersionEvent(wallTime(t))); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Path returns the event file's path.
func (w *Writer) Path() string { return w.path }

// wallTime converts t to seconds since the Unix epoch.
func wallTime(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// writeRecord frames data as one TFRecord and writes it to the buffer.
// The caller holds w.mu (or owns w exclusively).
func (w *Writer) writeRecord(data []byte) error {
	if w.bw == nil {
		return ErrClosed
	}
	binary.LittleEndian.PutUint64(w.hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(w.hdr[8:], maskedCRC32C(w.hdr[:8]))
	var foot [4]byte
	binary.LittleEndian.PutUint32(foot[:], maskedCRC32C(data))
	w.bw.Write(w.hdr[:])
	w.bw.Write(data)
	if _, err := w.bw.Write(foot[:]); err != nil { // bufio errors are sticky
		return fmt.Errorf("tblog: %w", err)
	}
	return nil
}

func checkTag(tag string) error {
	if tag == "" {
		return errors.New("tblog: empty tag")
	}
	if !utf8.ValidString(tag) {
		return fmt.Errorf("tblog: tag %q is not valid UTF-8", tag)
	}
	return nil
}

func (w *Writer) writeSummary(step int64, vals []summaryVal) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bw == nil {
		return ErrClosed
	}
	return w.writeRecord(encodeSummaryEvent(wallTime(w.now()), step, vals))
}

// Scalar writes one scalar value (stored as float32, TensorBoard's
// simple_value) for tag at step.
func (w *Writer) Scalar(tag string, step int64, value float64) error {
	if err := checkTag(tag); err != nil {
		return err
	}
	return w.writeSummary(step, []summaryVal{{tag: tag, scalar: float32(value)}})
}

// Scalars writes several scalar values at step as one event, ordered by tag
// so that the file's bytes do not depend on map order. An empty map writes
// nothing.
func (w *Writer) Scalars(step int64, values map[string]float64) error {
	if len(values) == 0 {
		return nil
	}
	tags := make([]string, 0, len(values))
	for tag := range values {
		if err := checkTag(tag); err != nil {
			return err
		}
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	vals := make([]summaryVal, len(tags))
	for i, tag := range tags {
		vals[i] = summaryVal{tag: tag, scalar: float32(values[tag])}
	}
	return w.writeSummary(step, vals)
}

// Histogram writes a histogram of values for tag at step, with min, max,
// count, sum and sum of squares and TensorFlow's default bucket limits (see
// the package documentation). Non-finite values are left out; if none is
// left, it returns ErrEmptyHistogram and writes nothing.
func (w *Writer) Histogram(tag string, step int64, values []float32) error {
	if err := checkTag(tag); err != nil {
		return err
	}
	h, err := newHistogram(values)
	if err != nil {
		return err
	}
	return w.writeSummary(step, []summaryVal{{tag: tag, histo: h}})
}

// Flush writes buffered records to the file (without fsync).
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bw == nil {
		return ErrClosed
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("tblog: %w", err)
	}
	return nil
}

// Close flushes buffered records and closes the file. Closing a closed
// Writer returns nil.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bw == nil {
		return nil
	}
	ferr := w.bw.Flush()
	cerr := w.f.Close()
	w.bw, w.f = nil, nil
	if ferr != nil {
		return fmt.Errorf("tblog: %w", ferr)
	}
	if cerr != nil {
		return fmt.Errorf("tblog: %w", cerr)
	}
	return nil
}
