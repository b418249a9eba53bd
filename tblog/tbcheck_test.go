package tblog

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const python = "/usr/bin/python3"

// tbcheckScript returns the path of tools/tbcheck/tbcheck.py, or skips the
// test if the script or its requirements (Python protobuf runtime, protoc)
// are missing.
func tbcheckScript(t *testing.T) string {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "tools", "tbcheck", "tbcheck.py"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Skipf("tbcheck.py not found: %v", err)
	}
	if out, err := exec.Command(python, "-c", "import google.protobuf").CombinedOutput(); err != nil {
		t.Skipf("%s has no google.protobuf (apt-get install python3-protobuf): %v: %s", python, err, out)
	}
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skipf("protoc not on PATH (apt-get install protobuf-compiler): %v", err)
	}
	return script
}

// TestTbcheckIndependent writes a file with tblog and reads it back with
// tools/tbcheck/tbcheck.py, which parses it with protoc-generated classes
// from the official protobuf runtime for Python.
func TestTbcheckIndependent(t *testing.T) {
	script := tbcheckScript(t)
	w, err := newWriter(t.TempDir(), fixedClock(1700000000, 5e8))
	if err != nil {
		t.Fatal(err)
	}
	hv := []float32{-3.5, -1, 0, 0, 0.001, 0.5, 1, 1, 2, 100, 1e6}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Scalar("loss", 0, 0))
	must(w.Scalar("loss", 1, 0.25))
	must(w.Scalars(2, map[string]float64{"train/acc": 0.875, "lr": 0.0625, "neg": -1.5}))
	must(w.Histogram("weights/conv1", 3, hv))
	must(w.Scalar("big step", 1<<40, -2048))
	must(w.Close())

	out, err := exec.Command(python, script, "--canonical", "--buckets", w.Path()).CombinedOutput()
	t.Logf("tbcheck output:\n%s", out)
	if err != nil {
		t.Fatalf("tbcheck failed: %v", err)
	}
	text := string(out)
	for _, want := range []string{
		"file_version=brain.Event:2 wall_time=1700000000.5\n",
		"step=0 tag=loss simple_value=0.0\n",
		"step=1 tag=loss simple_value=0.25\n",
		"step=2 tag=lr simple_value=0.0625\n",
		"step=2 tag=neg simple_value=-1.5\n",
		"step=2 tag=train/acc simple_value=0.875\n",
		"step=3 tag=weights/conv1 histo num=11.0 min=-3.5 max=1000000.0 ",
		"step=1099511627776 tag=big step simple_value=-2048.0\n",
		"records\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("tbcheck output lacks %q", want)
		}
	}
	// Lines must come in file order, scalars of one event sorted by tag.
	if i, j := strings.Index(text, "tag=lr"), strings.Index(text, "tag=train/acc"); i < 0 || j < i {
		t.Errorf("Scalars not sorted by tag")
	}
	// The buckets protobuf decoded must be the ones tblog computed.
	h, err := newHistogram(hv)
	if err != nil {
		t.Fatal(err)
	}
	var lims, counts []float64
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "bucket ") {
			continue
		}
		var l, c float64
		for _, kv := range strings.Fields(line)[1:] {
			k, v, _ := strings.Cut(kv, "=")
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			if k == "limit" {
				l = x
			} else {
				c = x
			}
		}
		lims = append(lims, l)
		counts = append(counts, c)
	}
	if len(lims) != len(h.bucketLimit) {
		t.Fatalf("tbcheck saw %d buckets, tblog wrote %d", len(lims), len(h.bucketLimit))
	}
	for i := range lims {
		if lims[i] != h.bucketLimit[i] || counts[i] != h.bucket[i] {
			t.Errorf("bucket %d: tbcheck limit=%v count=%v, tblog %v %v", i, lims[i], counts[i], h.bucketLimit[i], h.bucket[i])
		}
	}

	// A flipped byte must make tbcheck fail.
	b, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	orig := append([]byte(nil), b...)
	b[len(b)/2] ^= 1
	bad := filepath.Join(t.TempDir(), "events.out.tfevents.bad")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(python, script, bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "CRC") {
		t.Errorf("tbcheck on corrupted file: err=%v output:\n%s", err, out)
	}
	// So must a truncated one.
	if err := os.WriteFile(bad, orig[:len(orig)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(python, script, bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "truncated") {
		t.Errorf("tbcheck on truncated file: err=%v output:\n%s", err, out)
	}
}

// TestGraphIndependent writes a small graph and has tbcheck parse it with
// TensorFlow's message definitions.
func TestGraphIndependent(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []Node{
		{Name: "input", Op: "Placeholder", Attrs: map[string]string{"shape": "1x28x28"}},
		{Name: "block/conv", Op: "Conv2D", Inputs: []string{"input"}, Attrs: map[string]string{"shape": "8x28x28", "kind": "conv 3x3/1"}},
		{Name: "block/add", Op: "AddV2", Inputs: []string{"block/conv", "input"}},
	}
	if err := w.Graph(nodes); err != nil {
		t.Fatal(err)
	}
	if err := w.Graph([]Node{{Name: "a", Inputs: []string{"b"}}}); err == nil {
		t.Fatal("a graph reading a missing node was written")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	script := tbcheckScript(t)
	out, err := exec.Command(python, script, "--canonical", w.Path()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "graph nodes=3") {
		t.Fatalf("tbcheck: %v\n%s", err, out)
	}
}
