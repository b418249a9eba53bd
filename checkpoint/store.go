package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/resgo/resgo/internal/atomicfile"
)

const (
	// FormatVersion is stored under the "format" metadata key; Load
	// refuses files without it so a stray safetensors file from another
	// tool is never mistaken for trainer state. Version 2 files carry a
	// checksum, which Load requires of them.
	FormatVersion = "resgo-checkpoint-v2"
	// FormatVersion1 files, written before checksums, still load.
	FormatVersion1 = "resgo-checkpoint-v1"
	// DefaultPrefix names checkpoints as the TensorFlow MNIST tutorial does.
	DefaultPrefix = "mnist_model"
	// DefaultKeep matches TF Saver's max_to_keep default.
	DefaultKeep = 5
	// IndexFile is the human-readable index written next to checkpoints.
	IndexFile = "checkpoint"

	// TempPrefix starts the names of files being written; a killed
	// writer leaves them, and RemoveStaleTemps deletes them.
	TempPrefix = ".tmp-"

	ext        = ".safetensors"
	tempPrefix = TempPrefix
)

// ErrNoCheckpoint is returned (wrapped) by LoadLatestGood when the
// directory holds no checkpoint at all, so a trainer can tell "start
// fresh" apart from "every checkpoint is damaged".
var ErrNoCheckpoint = errors.New("no checkpoint found")

// Store is a directory of checkpoints <Dir>/<Prefix>-<step>.safetensors.
// It keeps no state beyond its fields: the directory listing is the
// truth. A Store must not be used by two writers at once.
type Store struct {
	Dir    string // "" means the current directory
	Prefix string // "" means DefaultPrefix
	// Keep is how many of the newest checkpoints Save retains: 0 means
	// DefaultKeep, negative means keep all.
	Keep int
}

// Entry is one checkpoint file found in the directory.
type Entry struct {
	Step int64
	Path string
}

// Checkpoint is a loaded and validated checkpoint file.
type Checkpoint struct {
	Path    string
	Step    int64
	Tensors map[string]Tensor
	Meta    map[string]string // includes "format" and "step"
}

func (s *Store) dir() string {
	if s.Dir == "" {
		// Not "": os.CreateTemp("") would use the system temp dir, and a
		// rename from there may cross filesystems.
		return "."
	}
	return s.Dir
}

func (s *Store) prefix() (string, error) {
	p := s.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	if strings.ContainsAny(p, `/\`) || strings.HasPrefix(p, tempPrefix) {
		return "", fmt.Errorf("checkpoint: invalid prefix %q", p)
	}
	return p, nil
}

// fileName returns the base name of the checkpoint for step.
func fileName(prefix string, step int64) string {
	return prefix + "-" + strconv.FormatInt(step, 10) + ext
}

// parseName reports the step if base is <prefix>-<digits>.safetensors.
func parseName(prefix, base string) (int64, bool) {
	rest, ok := strings.CutPrefix(base, prefix+"-")
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, ext)
	if !ok || digits == "" {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	step, err := strconv.ParseInt(digits, 10, 64)
	if err != nil { // out of range
		return 0, false
	}
	return step, true
}

// List returns the checkpoints in the directory sorted by step ascending.
// A missing directory has no checkpoints and is not an error.
func (s *Store) List() ([]Entry, error) {
	prefix, err := s.prefix()
	if err != nil {
		return nil, err
	}
	dir := s.dir()
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: list %s: %w", dir, err)
	}
	var out []Entry
	for _, de := range des {
		if de.IsDir() {
			continue
		}
		if step, ok := parseName(prefix, de.Name()); ok {
			out = append(out, Entry{Step: step, Path: filepath.Join(dir, de.Name())})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Step != out[j].Step {
			return out[i].Step < out[j].Step
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

// Latest returns the checkpoint with the highest step, if any. It does
// not read the file; use LoadLatestGood to get one that validates.
func (s *Store) Latest() (Entry, bool, error) {
	entries, err := s.List()
	if err != nil || len(entries) == 0 {
		return Entry{}, false, err
	}
	return entries[len(entries)-1], true, nil
}

// Save writes the checkpoint for step atomically, refreshes the index
// file and deletes checkpoints beyond the newest Keep. The store sets the
// "format" and "step" metadata keys, overriding any values in meta (so a
// loaded Meta can be passed back in). The file just written is never
// pruned, even if older-numbered than the rest (resuming from a fallback).
//
// If writing the checkpoint fails, err is set, path is "", existing
// checkpoints are untouched and no temp file remains (if only the final
// directory fsync fails, the new file may already be in place, complete).
// If only the index
// or pruning fails, path is set (the checkpoint is durable) and err says
// what went wrong.
func (s *Store) Save(step int64, tensors map[string]Tensor, meta map[string]string) (path string, err error) {
	prefix, err := s.prefix()
	if err != nil {
		return "", err
	}
	if step < 0 {
		return "", fmt.Errorf("checkpoint: save: negative step %d", step)
	}
	dir := s.dir()
	base := fileName(prefix, step)
	if err := writeFile(dir, base, step, tensors, meta); err != nil {
		return "", err
	}
	path = filepath.Join(dir, base)

	entries, err := s.List()
	if err != nil {
		return path, err
	}
	var keep, drop []Entry
	for i, e := range entries {
		if s.Keep < 0 || i >= len(entries)-s.keep() || e.Path == path {
			keep = append(keep, e)
		} else {
			drop = append(drop, e)
		}
	}
	// The index goes first so it never names a file that pruning removed
	// (it may briefly omit one that still exists, which is harmless).
	var errs []error
	if err := writeIndex(dir, keep); err != nil {
		errs = append(errs, fmt.Errorf("checkpoint: write index in %s: %w", dir, err))
	}
	for _, e := range drop {
		if err := os.Remove(e.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("checkpoint: prune: %w", err))
		}
	}
	return path, errors.Join(errs...)
}

// SaveFile writes one checkpoint file at path, atomically, as Save
// writes the store's (the format, step and checksum added to meta, every
// value checked finite first), without touching any store's index: for
// files made from a checkpoint, such as an int8 calibration. Name it
// other than <prefix>-<step>.safetensors, or a store will take it for one
// of its own.
func SaveFile(path string, step int64, tensors map[string]Tensor, meta map[string]string) error {
	if step < 0 {
		return fmt.Errorf("checkpoint: save %s: negative step %d", path, step)
	}
	return writeFile(filepath.Dir(path), filepath.Base(path), step, tensors, meta)
}

// writeFile validates tensors and meta and writes them atomically to
// dir/base with the format, step and checksum.
func writeFile(dir, base string, step int64, tensors map[string]Tensor, meta map[string]string) error {
	m := make(map[string]string, len(meta)+2)
	for k, v := range meta {
		m[k] = v
	}
	m["format"] = FormatVersion
	m["step"] = strconv.FormatInt(step, 10)
	delete(m, checksumKey)

	// Validate up front so a bad tensor fails without even creating the
	// directory or a temp file.
	if _, _, err := checkEncodable(tensors, m); err != nil {
		return err
	}
	// A checkpoint is what a user falls back on: one holding NaN or Inf
	// would poison every run resumed or evaluated from it.
	if err := checkFinite(tensors); err != nil {
		return fmt.Errorf("checkpoint: save step %d: %w", step, err)
	}
	m[checksumKey] = checksum(tensors, m)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: save step %d: %w", step, err)
	}
	if err := writeAtomic(dir, base, func(w io.Writer) error {
		return Encode(w, tensors, m)
	}); err != nil {
		return fmt.Errorf("checkpoint: save step %d to %s: %w", step, dir, err)
	}
	return nil
}

func (s *Store) keep() int {
	if s.Keep == 0 {
		return DefaultKeep
	}
	return s.Keep
}

type index struct {
	Latest string   `json:"latest"`
	All    []string `json:"all"`
}

func writeIndex(dir string, entries []Entry) error {
	idx := index{All: []string{}}
	for _, e := range entries {
		idx.All = append(idx.All, filepath.Base(e.Path))
	}
	if len(idx.All) > 0 {
		idx.Latest = idx.All[len(idx.All)-1]
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	return writeAtomic(dir, IndexFile, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// writeAtomic creates dir/name with the contents produced by write (see
// atomicfile.Write); its temp file carries tempPrefix, which
// RemoveStaleTemps recognises.
func writeAtomic(dir, name string, write func(io.Writer) error) error {
	return atomicfile.Write(dir, name, tempPrefix, write)
}

// Load reads and fully validates the checkpoint file at path: its layout,
// its checksum (version 1 files, written before checksums existed, have
// none and load), finite values, and, when the file is named <prefix>-<step>
// .safetensors, that the name's step is the one inside. Every error names
// the file.
func Load(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err) // *PathError names the file
	}
	tensors, meta, err := Decode(data, path)
	if err != nil {
		return nil, err
	}
	if f, ok := meta["format"]; !ok {
		return nil, fmt.Errorf("checkpoint: %s: missing metadata \"format\" (not a resgo checkpoint)", path)
	} else if f != FormatVersion && f != FormatVersion1 {
		return nil, fmt.Errorf("checkpoint: %s: unsupported format %q (want %q)", path, f, FormatVersion)
	}
	step, err := strconv.ParseInt(meta["step"], 10, 64)
	if err != nil || step < 0 {
		return nil, fmt.Errorf("checkpoint: %s: invalid step metadata %q", path, meta["step"])
	}
	want, ok := meta[checksumKey]
	if !ok && meta["format"] != FormatVersion1 {
		return nil, fmt.Errorf("checkpoint: %s: damaged: no checksum in its metadata", path)
	}
	if ok {
		if got := checksum(tensors, meta); got != want {
			return nil, fmt.Errorf("checkpoint: %s: damaged: checksum %s, but the file says %s", path, got, want)
		}
	}
	if err := checkFinite(tensors); err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	if named, ok := StepFromName(path); ok && named != step {
		// A renamed or misplaced file would resume from the wrong step
		// and confuse pruning.
		return nil, fmt.Errorf("checkpoint: %s: file name says step %d but the file holds step %d", path, named, step)
	}
	return &Checkpoint{Path: path, Step: step, Tensors: tensors, Meta: meta}, nil
}

// StepFromName reports the step in a checkpoint file name of the form
// <prefix>-<step>.safetensors.
func StepFromName(path string) (int64, bool) {
	base := filepath.Base(path)
	i := strings.LastIndexByte(base, '-')
	if i < 0 {
		return 0, false
	}
	return parseName(base[:i], base)
}

// LoadLatestGood loads the newest checkpoint that validates. Newer ones
// that fail are skipped and returned in skipped (newest first) so the
// caller can warn. err wraps ErrNoCheckpoint if the directory has no
// checkpoints; it is another error if there are some but none loads.
func (s *Store) LoadLatestGood() (ck *Checkpoint, skipped []error, err error) {
	return s.LoadLatestValid(nil)
}

// LoadLatestValid is LoadLatestGood with the caller's own check of a
// loaded checkpoint (its metadata, say): one that fails it is skipped as
// a damaged file is. check may be nil.
func (s *Store) LoadLatestValid(check func(*Checkpoint) error) (ck *Checkpoint, skipped []error, err error) {
	entries, err := s.List()
	if err != nil {
		return nil, nil, err
	}
	if len(entries) == 0 {
		return nil, nil, fmt.Errorf("checkpoint: %s: %w", s.dir(), ErrNoCheckpoint)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		ck, err := Load(e.Path)
		if err == nil && check != nil {
			err = check(ck)
		}
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		return ck, skipped, nil
	}
	return nil, skipped, fmt.Errorf("checkpoint: %s: none of the %d checkpoints loads; newest: %v", s.dir(), len(entries), skipped[0])
}

// RemoveStaleTemps deletes the .tmp-* files that a process killed
// mid-write leaves in dir. Call it at startup, before any Save: it would
// also delete a concurrent writer's in-progress temp file. A missing dir
// is not an error.
func RemoveStaleTemps(dir string) error {
	if dir == "" {
		dir = "."
	}
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint: remove stale temps: %w", err)
	}
	var errs []error
	for _, de := range des {
		if de.IsDir() || !strings.HasPrefix(de.Name(), tempPrefix) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, de.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("checkpoint: remove stale temp: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ErrNonFinite is returned (wrapped) when a checkpoint to save or load
// holds NaN or infinite values.
var ErrNonFinite = errors.New("non-finite values")
