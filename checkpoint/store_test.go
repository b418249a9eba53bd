package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func weights(step int64) map[string]Tensor {
	return map[string]Tensor{
		"conv1/weights":                     {Shape: []int{2, 2}, Data: []float32{float32(step), 1, 2, 3}},
		"ExponentialMovingAverage/conv1/ws": {Shape: []int{2, 2}, Data: []float32{0.5, 1, 2, float32(step)}},
	}
}

func save(t *testing.T, s *Store, step int64) string {
	t.Helper()
	p, err := s.Save(step, weights(step), map[string]string{"lr": "0.01"})
	if err != nil {
		t.Fatalf("Save(%d): %v", step, err)
	}
	return p
}

func steps(t *testing.T, s *Store) []int64 {
	t.Helper()
	es, err := s.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var out []int64
	for _, e := range es {
		out = append(out, e.Step)
	}
	return out
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func TestSaveKeepsNewest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "MNIST_model") // created by Save
	s := &Store{Dir: dir}
	var last string
	for step := int64(100); step <= 700; step += 100 {
		last = save(t, s, step)
	}
	if want := filepath.Join(dir, "mnist_model-700.safetensors"); last != want {
		t.Errorf("path %q, want %q", last, want)
	}
	if got, want := steps(t, s), []int64{300, 400, 500, 600, 700}; !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	want := []string{"checkpoint", "mnist_model-300.safetensors", "mnist_model-400.safetensors",
		"mnist_model-500.safetensors", "mnist_model-600.safetensors", "mnist_model-700.safetensors"}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Errorf("dir holds %v, want %v", got, want)
	}

	e, ok, err := s.Latest()
	if err != nil || !ok || e.Step != 700 || e.Path != last {
		t.Errorf("Latest = %v %v %v", e, ok, err)
	}

	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Latest string   `json:"latest"`
		All    []string `json:"all"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("index %q: %v", b, err)
	}
	if idx.Latest != "mnist_model-700.safetensors" || !slices.Equal(idx.All, want[1:]) {
		t.Errorf("index = %+v", idx)
	}

	ck, err := Load(last)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Step != 700 || ck.Meta["lr"] != "0.01" || ck.Meta["format"] != FormatVersion || ck.Meta["step"] != "700" {
		t.Errorf("loaded step %d meta %v", ck.Step, ck.Meta)
	}
	if w := weights(700); !slices.Equal(ck.Tensors["conv1/weights"].Data, w["conv1/weights"].Data) ||
		!slices.Equal(ck.Tensors["ExponentialMovingAverage/conv1/ws"].Data, w["ExponentialMovingAverage/conv1/ws"].Data) {
		t.Errorf("tensors %v", ck.Tensors)
	}
}

func TestSaveOverridesReservedMeta(t *testing.T) {
	s := &Store{Dir: t.TempDir(), Prefix: "resnet"}
	p, err := s.Save(3, weights(3), map[string]string{"format": "old", "step": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != "resnet-3.safetensors" {
		t.Errorf("path %q", p)
	}
	ck, err := Load(p)
	if err != nil || ck.Step != 3 {
		t.Fatalf("Load: %v %v", ck, err)
	}
}

func TestJustSavedIsNeverPruned(t *testing.T) {
	// Resuming from an older checkpoint saves a lower step than existing
	// ones; that file must survive pruning.
	s := &Store{Dir: t.TempDir(), Keep: 1}
	save(t, s, 500)
	save(t, s, 300)
	if got := steps(t, s); !slices.Equal(got, []int64{300, 500}) {
		t.Errorf("steps %v", got)
	}
	s.Keep = -1 // keep all
	for step := int64(1); step <= 7; step++ {
		save(t, s, step)
	}
	if got := steps(t, s); len(got) != 9 {
		t.Errorf("Keep<0 kept %v", got)
	}
}

func TestListIgnoresUnrelated(t *testing.T) {
	dir := t.TempDir()
	unrelated := []string{
		".tmp-123", ".tmp-mnist_model-9.safetensors", "mnist_model-abc.safetensors",
		"mnist_model-12.safetensors.bak", "mnist_model-.safetensors", "mnist_model--1.safetensors",
		"mnist_model-1e3.safetensors", "other-5.safetensors", "mnist_model_x-5.safetensors",
		"mnist_model-99999999999999999999.safetensors", "notes.txt", "events.out.tfevents",
	}
	for _, n := range unrelated {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A directory named like a checkpoint is not one.
	if err := os.MkdirAll(filepath.Join(dir, "mnist_model-1000.safetensors", "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Store{Dir: dir, Keep: 1}
	for step := int64(1); step <= 3; step++ {
		save(t, s, step)
	}
	if got := steps(t, s); !slices.Equal(got, []int64{3}) {
		t.Errorf("steps %v, want [3]", got)
	}
	got := names(t, dir)
	for _, n := range append(unrelated, "mnist_model-1000.safetensors", IndexFile, "mnist_model-3.safetensors") {
		if !slices.Contains(got, n) {
			t.Errorf("%q was deleted", n)
		}
	}
	if len(got) != len(unrelated)+3 {
		t.Errorf("dir holds %v", got)
	}
}

func TestLatestEmpty(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		s := &Store{Dir: dir}
		if e, ok, err := s.Latest(); ok || err != nil {
			t.Errorf("%s: Latest = %v %v %v", dir, e, ok, err)
		}
		_, _, err := s.LoadLatestGood()
		if !errors.Is(err, ErrNoCheckpoint) {
			t.Errorf("%s: LoadLatestGood err = %v, want ErrNoCheckpoint", dir, err)
		}
	}
}

func TestLoadLatestGoodFallsBack(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Dir: dir}
	save(t, s, 1)
	save(t, s, 2)
	p3 := save(t, s, 3)
	p4 := save(t, s, 4)

	// Newest: truncated as by a crash of a non-atomic writer.
	b, _ := os.ReadFile(p4)
	if err := os.WriteFile(p4, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	// Next: a valid safetensors file that is not a resgo checkpoint.
	var buf bytes.Buffer
	if err := Encode(&buf, weights(3), nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p3, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	ck, skipped, err := s.LoadLatestGood()
	if err != nil {
		t.Fatalf("LoadLatestGood: %v", err)
	}
	if ck.Step != 2 || ck.Tensors["conv1/weights"].Data[0] != 2 {
		t.Errorf("loaded step %d", ck.Step)
	}
	if len(skipped) != 2 {
		t.Fatalf("skipped %v, want 2", skipped)
	}
	if m := skipped[0].Error(); !strings.Contains(m, p4) || !strings.Contains(m, "truncated") {
		t.Errorf("skipped[0] = %q", m)
	}
	if m := skipped[1].Error(); !strings.Contains(m, p3) || !strings.Contains(m, "format") {
		t.Errorf("skipped[1] = %q", m)
	}

	// Misnamed file: claims step 9 in its name, step 2 inside.
	b2, _ := os.ReadFile(ck.Path)
	p9 := filepath.Join(dir, "mnist_model-9.safetensors")
	if err := os.WriteFile(p9, b2, 0o644); err != nil {
		t.Fatal(err)
	}
	ck, skipped, err = s.LoadLatestGood()
	if err != nil || ck.Step != 2 || len(skipped) != 3 || !strings.Contains(skipped[0].Error(), "step 9") {
		t.Errorf("misnamed: %v %v %v", ck, skipped, err)
	}

	// Nothing good left: an error, but not ErrNoCheckpoint.
	for _, p := range []string{filepath.Join(dir, "mnist_model-1.safetensors"), ck.Path, p9} {
		if err := os.WriteFile(p, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, skipped, err = s.LoadLatestGood()
	if err == nil || errors.Is(err, ErrNoCheckpoint) || len(skipped) != 5 {
		t.Errorf("all bad: err %v, %d skipped", err, len(skipped))
	}
}

func TestLoadValidatesMeta(t *testing.T) {
	dir := t.TempDir()
	for name, meta := range map[string]map[string]string{
		"noformat.safetensors":  {"step": "1"},
		"badformat.safetensors": {"format": "resgo-checkpoint-v0", "step": "1"},
		"nostep.safetensors":    {"format": FormatVersion},
		"badstep.safetensors":   {"format": FormatVersion, "step": "-3"},
	} {
		p := filepath.Join(dir, name)
		var buf bytes.Buffer
		if err := Encode(&buf, weights(1), meta); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.safetensors")); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("missing file: %v", err)
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Dir: dir}
	save(t, s, 1)
	for _, n := range []string{".tmp-1", ".tmp-abc", "tmp-1", "x.tmp-1"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveStaleTemps(dir); err != nil {
		t.Fatal(err)
	}
	want := []string{"checkpoint", "mnist_model-1.safetensors", "tmp-1", "x.tmp-1"}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Errorf("dir holds %v, want %v", got, want)
	}
	if err := RemoveStaleTemps(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("missing dir: %v", err)
	}
}

func TestSaveFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Dir: dir}
	p1 := save(t, s, 1)
	before, _ := os.ReadFile(p1)

	// Invalid tensors: nothing is written.
	if p, err := s.Save(2, map[string]Tensor{"a": {Shape: []int{3}, Data: []float32{1}}}, nil); err == nil || p != "" {
		t.Errorf("bad tensor: %q %v", p, err)
	}
	if _, err := s.Save(-1, weights(1), nil); err == nil {
		t.Error("negative step accepted")
	}
	if _, err := (&Store{Dir: dir, Prefix: "a/b"}).Save(2, weights(2), nil); err == nil {
		t.Error("prefix with a slash accepted")
	}

	// A write that fails midway removes its temp file and leaves the
	// target untouched.
	werr := errors.New("disk full")
	err := writeAtomic(dir, filepath.Base(p1), func(w io.Writer) error {
		w.Write(make([]byte, 3<<20)) // past the bufio buffer: temp has data
		return werr
	})
	if !errors.Is(err, werr) {
		t.Errorf("writeAtomic err %v", err)
	}
	after, _ := os.ReadFile(p1)
	if !bytes.Equal(before, after) {
		t.Error("failed write changed the existing checkpoint")
	}
	want := []string{"checkpoint", "mnist_model-1.safetensors"}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Errorf("dir holds %v, want %v", got, want)
	}
}

func TestSaveReadOnlyDir(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs a non-root Unix user: root ignores directory permissions")
	}
	dir := t.TempDir()
	s := &Store{Dir: dir}
	p1 := save(t, s, 1)
	before, _ := os.ReadFile(p1)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })

	p, err := s.Save(2, weights(2), nil)
	if err == nil || p != "" || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Save into read-only dir: %q %v", p, err)
	}
	if got := steps(t, s); !slices.Equal(got, []int64{1}) {
		t.Errorf("steps %v", got)
	}
	after, _ := os.ReadFile(p1)
	if !bytes.Equal(before, after) {
		t.Error("existing checkpoint changed")
	}
	want := []string{"checkpoint", "mnist_model-1.safetensors"}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Errorf("dir holds %v, want %v", got, want)
	}
}
