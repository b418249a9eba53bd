package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeMNIST returns the four files, gzipped, for nTrain and nTest
// images. Image i has pixel 0 = i, pixel 1 = 255, the rest 0, and
// label i%10, so the split order is visible in both.
func fakeMNIST(t *testing.T, nTrain, nTest int) map[string][]byte {
	t.Helper()
	set := func(n int) (img, lbl []byte) {
		pix := make([]byte, n*28*28)
		labels := make([]byte, n)
		for i := range n {
			pix[i*784], pix[i*784+1] = byte(i), 255
			labels[i] = byte(i % 10)
		}
		return idxBytes(0x08, []int{n, 28, 28}, pix), idxBytes(0x08, []int{n}, labels)
	}
	trImg, trLbl := set(nTrain)
	teImg, teLbl := set(nTest)
	return map[string][]byte{
		trainImagesFile: gzipBytes(t, trImg),
		trainLabelsFile: gzipBytes(t, trLbl),
		testImagesFile:  gzipBytes(t, teImg),
		testLabelsFile:  gzipBytes(t, teLbl),
	}
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		writeFile(t, dir, name, b)
	}
}

func TestLoadMNISTSplit(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, fakeMNIST(t, 12, 3))
	m, err := LoadMNIST(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	if m.Train.N != 8 || m.Validation.N != 4 || m.Test.N != 3 {
		t.Fatalf("sizes train %d validation %d test %d, want 8 4 3", m.Train.N, m.Validation.N, m.Test.N)
	}
	// Validation is the first 4 training images, train the other 8.
	for i := range 4 {
		if got := m.Validation.Image(i)[0]; got != float32(i)*(1.0/255.0) || m.Validation.Labels[i] != int32(i) {
			t.Errorf("validation %d: pixel %v label %d, want raw image %d", i, got, m.Validation.Labels[i], i)
		}
	}
	for i := range 8 {
		if got := m.Train.Image(i)[0]; got != float32(i+4)*(1.0/255.0) || m.Train.Labels[i] != int32((i+4)%10) {
			t.Errorf("train %d: pixel %v label %d, want raw image %d", i, got, m.Train.Labels[i], i+4)
		}
	}
	img := m.Test.Image(2)
	if len(img) != 784 || cap(img) != 784 || img[1] != 1.0 || img[2] != 0 {
		t.Errorf("test image 2: len %d cap %d pixels %v, want 784 784 and 255->1, 0->0", len(img), cap(img), img[:3])
	}
}

func TestLoadMNISTErrors(t *testing.T) {
	badLabels := gzipBytes(t, idxBytes(0x08, []int{12}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1}))
	narrow := gzipBytes(t, idxBytes(0x08, []int{12, 27, 28}, make([]byte, 12*27*28)))
	cases := []struct {
		name     string
		replace  string
		with     []byte
		validate int
		want     string
	}{
		{"label-range", trainLabelsFile, badLabels, 4, trainLabelsFile + ": label 10 at index 10 is outside 0..9"},
		{"count", testLabelsFile, fakeMNIST(t, 12, 4)[testLabelsFile], 4, "has 3 images but"},
		{"dims", trainImagesFile, narrow, 4, trainImagesFile + ": images are 12x27x28, want Nx28x28"},
		{"validation", "", nil, 13, "validation size 13 is outside 0..12"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		files := fakeMNIST(t, 12, 3)
		if c.replace != "" {
			files[c.replace] = c.with
		}
		writeFiles(t, dir, files)
		_, err := LoadMNIST(dir, c.validate)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// useSources points EnsureMNIST at the given module dir (or none, if
// "") and mirrors, and makes the fake files' checksums the expected ones;
// everything is restored when the test ends.
func useSources(t *testing.T, modDir string, mirrors []string, files map[string][]byte) {
	oldMod, oldMirrors, oldSums := moduleDir, Mirrors, checksums
	t.Cleanup(func() { moduleDir, Mirrors, checksums = oldMod, oldMirrors, oldSums })
	moduleDir = func() (string, error) {
		if modDir == "" {
			return "", errors.New("module cache disabled by test")
		}
		return modDir, nil
	}
	Mirrors = mirrors
	if files != nil {
		checksums = map[string]string{}
		for name, b := range files {
			sum := sha256.Sum256(b)
			checksums[name] = hex.EncodeToString(sum[:])
		}
	}
}

// fakeMirror serves files under /mnist/ and counts the requests.
func fakeMirror(t *testing.T, files map[string][]byte) (string, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, ok := files[strings.TrimPrefix(r.URL.Path, "/mnist/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/mnist/", &hits
}

// dirNames lists dir, to check that no temp file was left behind.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestEnsureMNISTKeepsMismatchedFile(t *testing.T) {
	url, hits := fakeMirror(t, fakeMNIST(t, 12, 3))
	useSources(t, "", []string{url}, nil)
	dir := t.TempDir()
	path := writeFile(t, dir, trainImagesFile, []byte("my own file"))
	err := EnsureMNIST(dir, t.Logf)
	if err == nil {
		t.Fatal("no error for a file with the wrong checksum")
	}
	for _, want := range []string{path, "checksum mismatch", checksums[trainImagesFile], "delete it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "my own file" {
		t.Errorf("file was changed to %q", b)
	}
	if hits.Load() != 0 {
		t.Errorf("%d downloads, want none", hits.Load())
	}
}

func TestEnsureMNISTRejectsBadDownload(t *testing.T) {
	files := fakeMNIST(t, 12, 3)
	served := map[string][]byte{}
	for name, b := range files {
		served[name] = append([]byte("x"), b...) // right size, wrong bytes
	}
	url, _ := fakeMirror(t, served)
	useSources(t, "", []string{url}, files)
	dir := filepath.Join(t.TempDir(), "MNIST_data")
	err := EnsureMNIST(dir, t.Logf)
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), trainImagesFile) {
		t.Fatalf("error %v, want a checksum mismatch naming %s", err, trainImagesFile)
	}
	t.Log(err)
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("dir holds %v after a failed download, want nothing", names)
	}
}

func TestEnsureMNISTFromMirror(t *testing.T) {
	files := fakeMNIST(t, 12, 3)
	url, hits := fakeMirror(t, files)
	missing, _ := fakeMirror(t, nil) // answers 404: the next mirror is tried
	useSources(t, "", []string{missing, url}, files)
	dir := filepath.Join(t.TempDir(), "MNIST_data")
	if err := EnsureMNIST(dir, t.Logf); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, dir, files)
	if _, err := LoadMNIST(dir, 4); err != nil {
		t.Error(err)
	}
	before := hits.Load()
	if err := EnsureMNIST(dir, t.Logf); err != nil || hits.Load() != before {
		t.Errorf("second call: error %v, %d new downloads; want none of either", err, hits.Load()-before)
	}
}

func TestEnsureMNISTFromModuleCache(t *testing.T) {
	files := fakeMNIST(t, 12, 3)
	mod := t.TempDir()
	if err := os.Mkdir(filepath.Join(mod, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(mod, "data"), files)
	// One bad copy in the cache must fall back to the mirror.
	writeFile(t, filepath.Join(mod, "data"), testLabelsFile, []byte("damaged"))
	for name := range files {
		os.Chmod(filepath.Join(mod, "data", name), 0o444) // like the real module cache
	}
	url, hits := fakeMirror(t, files)
	useSources(t, mod, []string{url}, files)
	dir := t.TempDir()
	if err := EnsureMNIST(dir, t.Logf); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, dir, files)
	if hits.Load() != 1 {
		t.Errorf("%d downloads, want 1 (only the damaged file)", hits.Load())
	}
}

// checkInstalled checks dir holds exactly files, writable by the user.
func checkInstalled(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if names := dirNames(t, dir); len(names) != len(files) {
		t.Errorf("dir holds %v, want only the %d MNIST files", names, len(files))
	}
	for name, want := range files {
		path := filepath.Join(dir, name)
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: err %v, content differs: %v", name, err, !bytes.Equal(got, want))
		}
		if fi, err := os.Stat(path); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", name, fi.Mode())
		}
	}
}

// TestRealMNIST runs only where the go command can provide the GoMNIST
// module without the network failing the test.
func TestRealMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	if _, err := goModuleDir(); err != nil {
		t.Skipf("Go module cache cannot provide MNIST: %v", err)
	}
	useSources(t, "", nil, nil)
	moduleDir = goModuleDir
	dir := t.TempDir()
	if err := EnsureMNIST(dir, t.Logf); err != nil {
		t.Fatal(err)
	}
	m, err := LoadMNIST(dir, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if m.Train.N != 55000 || m.Validation.N != 5000 || m.Test.N != 10000 {
		t.Fatalf("sizes %d/%d/%d, want 55000/5000/10000", m.Train.N, m.Validation.N, m.Test.N)
	}
	raw, err := ReadIDX(filepath.Join(dir, trainLabelsFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}; !bytes.Equal(raw.Data[:10], want) {
		t.Errorf("first raw labels %v, want %v", raw.Data[:10], want)
	}
	if m.Validation.Labels[0] != 5 || m.Train.Labels[0] != int32(raw.Data[5000]) {
		t.Errorf("validation[0] = %d (want 5), train[0] = %d (want raw[5000] = %d)",
			m.Validation.Labels[0], m.Train.Labels[0], raw.Data[5000])
	}
}
