package tblog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadScalarsRoundTripAndResume(t *testing.T) {
	dir := t.TempDir()
	clock := time.Unix(1000, 0)
	w, err := newWriter(dir, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	for step := int64(1); step <= 5; step++ {
		if err := w.Scalars(step, map[string]float64{"loss": float64(step) / 2, "lr": 0.1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Histogram("w", 5, []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// A resumed run, from step 3, in a later file.
	clock = time.Unix(2000, 0)
	w2, err := newWriter(dir, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	for step := int64(4); step <= 6; step++ {
		if err := w2.Scalars(step, map[string]float64{"loss": 10 + float64(step)}); err != nil {
			t.Fatal(err)
		}
	}
	w2.Close()
	got, err := ReadScalars(dir)
	if err != nil {
		t.Fatal(err)
	}
	loss := got["loss"]
	want := []float64{0.5, 1, 1.5, 14, 15, 16}
	if len(loss) != len(want) {
		t.Fatalf("loss points %+v, want values %v", loss, want)
	}
	for i, p := range loss {
		if p.Value != want[i] || p.Step != int64(i+1) {
			t.Fatalf("point %d = %+v, want step %d value %v", i, p, i+1, want[i])
		}
	}
	if len(got["lr"]) != 5 || len(got["w"]) != 0 {
		t.Fatalf("lr %d points, w %d points (histograms are not scalars)", len(got["lr"]), len(got["w"]))
	}

	// A cut-off last record is tolerated; a flipped byte is an error.
	files, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	b, _ := os.ReadFile(files[len(files)-1])
	if err := os.WriteFile(files[len(files)-1], b[:len(b)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadScalars(dir); err != nil || len(got["loss"]) != 5 {
		t.Fatalf("truncated file: %d points, %v", len(got["loss"]), err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(files[len(files)-1], b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadScalars(dir); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("corrupt file: %v", err)
	}
	if _, err := ReadScalars(t.TempDir()); err == nil {
		t.Fatal("an empty directory read without error")
	}
}

// TestKnownGoodFile holds the writer and the reader to a file written by
// an independent implementation (tools/tbcheck/make_known_good.py: the
// protobuf runtime for Python and a pure-Python CRC-32C).
func TestKnownGoodFile(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "known_good.tfevents"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w, err := newWriter(dir, fixedClock(1, 5e8))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		step int64
		loss float64
	}{{1, 2.30365}, {2, 1.25}, {3, 0.0625}} {
		if err := w.Scalars(s.step, map[string]float64{"loss": s.loss, "learning_rate": 0.03}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Scalar("validation_accuracy", 3, 0.75); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("writer's bytes differ from the known-good file\n got % x\nwant % x", got, want)
	}

	rdir := t.TempDir()
	if err := os.WriteFile(filepath.Join(rdir, "events.out.tfevents.1.known"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadScalars(rdir)
	if err != nil {
		t.Fatal(err)
	}
	if l := s["loss"]; len(l) != 3 || l[0].Value != float64(float32(2.30365)) || l[2].Step != 3 || l[0].WallTime != 1.5 {
		t.Fatalf("loss read as %+v", l)
	}
	if v := s["validation_accuracy"]; len(v) != 1 || v[0].Value != 0.75 {
		t.Fatalf("validation accuracy read as %+v", v)
	}
}
