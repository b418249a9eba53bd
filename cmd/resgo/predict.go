package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/resgo/resgo/predict"
)

func runPredict(args []string) error {
	fs := newFlagSet("predict", "Classifies image files (PNG, JPEG, GIF, BMP, TIFF, WebP) and the image files in directories\n"+
		"with a trained checkpoint, printing the most likely classes with their probabilities.\n"+
		"For MNIST models a photo or scan of one handwritten digit works: it is prepared as MNIST's\n"+
		"digits were (see the README). Usage: resgo predict [flags] IMAGE|DIR...")
	var (
		bf        backendFlags
		cf        checkpointFlags
		ckPath    string
		topK      int
		asJSON    bool
		raw       bool
		prep      string
		saveInput string
	)
	bf.register(fs)
	bf.inference = true
	cf.register(fs)
	fs.StringVar(&ckPath, "checkpoint", "", "a checkpoint file to use instead of the newest in --checkpoint-dir")
	fs.IntVar(&topK, "top-k", 3, "how many classes to show for each image")
	fs.BoolVar(&asJSON, "json", false, "print JSON (one object per image) instead of a table")
	fs.BoolVar(&raw, "raw", false, "use the raw weights instead of their moving averages")
	fs.StringVar(&prep, "preprocess", "auto", "how images are prepared: auto (digit for 1x28x28 models, else resize), digit or resize")
	fs.StringVar(&saveInput, "save-input", "", "also write each prepared input as a PNG into this directory (to see what the model sees)")
	paths, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("no image given (usage: resgo predict [flags] IMAGE|DIR...)")
	}
	if topK < 1 {
		return fmt.Errorf("--top-k %d: must be positive", topK)
	}
	p, err := predict.ParsePreprocessing(prep)
	if err != nil {
		return fmt.Errorf("--preprocess: %w", err)
	}
	files, err := predict.ImageFiles(paths)
	if err != nil {
		return err
	}
	be, err := bf.open()
	if err != nil {
		return err
	}
	src := ckPath
	if src == "" {
		src = cf.dir
		if _, err := os.Stat(src); os.IsNotExist(err) {
			return fmt.Errorf("%s: no checkpoint directory (train first with %s train, or name a file with --checkpoint)", src, progName())
		}
	}
	c, err := predict.Load(src, predict.Options{Backend: be, Raw: raw, Int8: bf.int8(), Preprocessing: p, Prefix: cf.prefix})
	if err != nil {
		return err
	}
	if saveInput != "" {
		if err := os.MkdirAll(saveInput, 0o755); err != nil {
			return err
		}
	}
	if !asJSON {
		mode := ""
		if bf.int8() {
			mode = ", int8 convolutions"
		}
		logf("%s (step %d), %s preprocessing%s", c.Path, c.Step, c.Prep, mode)
	}
	results := classifyFiles(c, files, saveInput)
	failed := 0
	for _, r := range results {
		if r.Error != "" {
			failed++
		}
		if len(r.Predictions) > topK {
			r.Predictions = r.Predictions[:topK]
		}
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	} else {
		printPredictions(results)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be classified", failed, len(results))
	}
	return nil
}

// fileResult is one image's answer, as printed with --json.
type fileResult struct {
	File        string               `json:"file"`
	Predictions []predict.Prediction `json:"predictions,omitempty"`
	Error       string               `json:"error,omitempty"`
}

// classifyFiles decodes and prepares the files on every core, then
// classifies them in batches.
func classifyFiles(c *predict.Classifier, files []string, saveInput string) []*fileResult {
	results := make([]*fileResult, len(files))
	inputs := make([][]float32, len(files))
	var wg sync.WaitGroup
	work := make(chan int)
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i] = &fileResult{File: files[i]}
				img, err := predict.DecodeFile(files[i])
				if err == nil {
					inputs[i], err = c.Prepare(img)
					if err != nil {
						err = fmt.Errorf("%s: %w", files[i], err)
					}
				}
				if err == nil && saveInput != "" {
					err = writeInput(filepath.Join(saveInput, fmt.Sprintf("%04d-%s", i, inputName(files[i]))), inputs[i], c.Input)
				}
				if err != nil {
					results[i].Error = err.Error()
				}
			}
		}()
	}
	for i := range files {
		work <- i
	}
	close(work)
	wg.Wait()
	var batch []float32
	var owners []int
	for i, x := range inputs {
		if results[i].Error == "" {
			batch, owners = append(batch, x...), append(owners, i)
		}
	}
	if len(owners) > 0 {
		preds, err := c.ClassifyInputs(batch)
		for j, i := range owners {
			if err != nil {
				results[i].Error = err.Error()
				continue
			}
			results[i].Predictions = preds[j]
		}
	}
	return results
}

func printPredictions(results []*fileResult) {
	width := len("image")
	for _, r := range results {
		width = max(width, len(r.File))
	}
	fmt.Printf("%-*s  %-10s  %11s  %s\n", width, "image", "prediction", "probability", "next")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(os.Stderr, "resgo predict: %s\n", r.Error)
			continue
		}
		var next []string
		for _, p := range r.Predictions[1:] {
			next = append(next, fmt.Sprintf("%s %.3f", p.Label, p.Probability))
		}
		top := r.Predictions[0]
		fmt.Printf("%-*s  %-10s  %11.3f  %s\n", width, r.File, top.Label, top.Probability, strings.Join(next, ", "))
	}
}

// inputName names a prepared input after its file: a/b/7.jpg -> a_b_7.png
// (numbered by the caller: a_b/7.jpg would give the same name).
func inputName(file string) string {
	clean := strings.TrimPrefix(filepath.ToSlash(filepath.Clean(file)), "../")
	return strings.NewReplacer("/", "_", ":", "_").Replace(strings.TrimSuffix(clean, filepath.Ext(clean))) + ".png"
}

// writeInput saves a prepared input (its first channel) as a gray PNG.
func writeInput(path string, x []float32, input [3]int) error {
	h, w := input[1], input[2]
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range h * w {
		img.Pix[i] = uint8(math.Round(255 * math.Max(0, math.Min(1, float64(x[i])))))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
