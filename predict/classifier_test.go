package predict_test

import (
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/predict"
)

// testModel is a narrow seed-resnet34 (base depth 8) trained on MNIST for
// 2,000 steps (./run.sh train --base-depth 8 --momentum 0.9
// --learning-rate 0.01 --steps 2000): 98.9% test accuracy.
const testModel = "../testdata/models/mnist_d8_model-2000.safetensors"

func loadDigits(t *testing.T) ([]string, []image.Image) {
	t.Helper()
	files, err := predict.ImageFiles([]string{"../testdata/digits"})
	if err != nil {
		t.Fatal(err)
	}
	var imgs []image.Image
	for _, f := range files {
		img, err := predict.DecodeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	return files, imgs
}

// TestDigitsNotFromMNIST: handwriting-like digits drawn by tools/mkdigits
// (pen, pencil, chalk on a blackboard, a photo of paper: other sizes,
// positions, slants and stroke widths than MNIST's) are read correctly.
func TestDigitsNotFromMNIST(t *testing.T) {
	c, err := predict.Load(testModel, predict.Options{Backend: native.New(2)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Step != 2000 || c.Prep != predict.Digit || len(c.Labels) != 10 {
		t.Fatalf("loaded step %d, %s preprocessing, %d labels", c.Step, c.Prep, len(c.Labels))
	}
	files, imgs := loadDigits(t)
	if len(files) < 20 {
		t.Fatalf("only %d test digits", len(files))
	}
	preds, err := c.ClassifyBatch(imgs)
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for i, p := range preds {
		want := filepath.Base(files[i])[:1]
		if p[0].Label == want {
			right++
		} else {
			t.Logf("%s: read as %s (%.3f)", files[i], p[0].Label, p[0].Probability)
		}
		sum := 0.0
		for j, q := range p {
			sum += q.Probability
			if j > 0 && q.Probability > p[j-1].Probability {
				t.Fatalf("%s: not sorted: %v", files[i], p)
			}
		}
		if sum < 0.999 || sum > 1.001 {
			t.Fatalf("%s: probabilities sum to %v", files[i], sum)
		}
	}
	t.Logf("%d of %d digits read correctly", right, len(files))
	if right < len(files)*9/10 {
		t.Fatalf("%d of %d digits read correctly; want at least 90%%", right, len(files))
	}
}

// TestConcurrentClassify: many goroutines at once get exactly the answers
// one caller gets, bit for bit; a batch gets the same to rounding.
func TestConcurrentClassify(t *testing.T) {
	c, err := predict.Load(filepath.Dir(testModel), predict.Options{Prefix: "mnist_d8_model"})
	if err != nil {
		t.Fatal(err)
	}
	_, imgs := loadDigits(t)
	batch, err := c.ClassifyBatch(imgs)
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]predict.Prediction, len(imgs))
	for i, img := range imgs {
		if want[i], err = c.Classify(img); err != nil {
			t.Fatal(err)
		}
		// A batch sums in another order than one image: close, not equal.
		for j := range want[i] {
			if want[i][j].Class != batch[i][j].Class || math.Abs(want[i][j].Probability-batch[i][j].Probability) > 1e-5 {
				t.Fatalf("image %d alone: %v, in a batch: %v", i, want[i][j], batch[i][j])
			}
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(imgs); i += 3 {
				got, err := c.Classify(imgs[i])
				if err != nil {
					t.Error(err)
					return
				}
				for j := range got {
					if got[j] != want[i][j] {
						t.Errorf("image %d concurrently: %v, alone: %v", i, got[j], want[i][j])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestLoadAndClassifyErrors(t *testing.T) {
	if _, err := predict.Load("nowhere.safetensors", predict.Options{}); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := predict.Load(testModel, predict.Options{Preprocessing: "sharpen"}); err == nil {
		t.Error("unknown preprocessing accepted")
	}
	c, err := predict.Load(testModel, predict.Options{})
	if err != nil {
		t.Fatal(err)
	}
	blank := image.NewGray(image.Rect(0, 0, 28, 28))
	_, imgs := loadDigits(t)
	if _, err := c.ClassifyBatch([]image.Image{imgs[0], blank}); err == nil || !strings.Contains(err.Error(), "image 1") {
		t.Errorf("blank image: %v", err)
	}
	if _, err := c.Classify(nil); err == nil {
		t.Error("nil image accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.png")
	os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	if _, err := predict.DecodeFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("damaged file: %v", err)
	}
}

// TestMaxBatchSplitsPasses: a classifier with a small maximum batch
// answers a larger batch in several passes, the same as in one; a
// maximum out of range is refused.
func TestMaxBatchSplitsPasses(t *testing.T) {
	_, imgs := loadDigits(t)
	one, err := predict.Load(testModel, predict.Options{Backend: native.New(2)})
	if err != nil {
		t.Fatal(err)
	}
	split, err := predict.Load(testModel, predict.Options{Backend: native.New(2), MaxBatch: 3})
	if err != nil {
		t.Fatal(err)
	}
	a, err := one.ClassifyBatch(imgs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := split.ClassifyBatch(imgs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i][0].Class != b[i][0].Class || math.Abs(a[i][0].Probability-b[i][0].Probability) > 1e-5 {
			t.Fatalf("image %d: %+v in one pass, %+v in passes of 3", i, a[i][0], b[i][0])
		}
	}
	for _, n := range []int{-1, predict.MaxBatch + 1} {
		if _, err := predict.Load(testModel, predict.Options{MaxBatch: n}); err == nil || !strings.Contains(err.Error(), "maximum batch") {
			t.Errorf("MaxBatch %d: %v", n, err)
		}
	}
}
