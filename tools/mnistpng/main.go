// Command mnistpng writes MNIST's IDX files as a folder of PNG images, one
// folder per class, split as the tutorial splits them: DIR/train/<digit>/
// (55,000 images), DIR/val/<digit>/ (the first 5,000 training images, the
// tutorial's validation set) and DIR/test/<digit>/ (10,000). Training on
// that folder with resgo train --data DIR checks the image-folder path
// against training on the IDX files with the same recipe.
//
//	go run ./tools/mnistpng --data-dir MNIST_data --out mnist_png
package main

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"github.com/resgo/resgo/data"
)

func main() {
	dataDir := flag.String("data-dir", "MNIST_data", "folder with MNIST's four IDX files (fetched there if missing)")
	out := flag.String("out", "mnist_png", "folder to write the PNG images into")
	flag.Parse()
	if err := run(*dataDir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mnistpng:", err)
		os.Exit(1)
	}
}

func run(dataDir, out string) error {
	if err := data.EnsureMNIST(dataDir, func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }); err != nil {
		return err
	}
	m, err := data.LoadMNIST(dataDir, 5000)
	if err != nil {
		return err
	}
	for _, part := range []struct {
		name string
		set  *data.Set
	}{{"train", m.Train}, {"val", m.Validation}, {"test", m.Test}} {
		for i := range part.set.N {
			img := image.NewGray(image.Rect(0, 0, part.set.Cols, part.set.Rows))
			for j, v := range part.set.Image(i) {
				// IDX bytes became v = byte/255: this gives the bytes back.
				img.Pix[j] = uint8(math.Round(float64(v) * 255))
			}
			path := filepath.Join(out, part.name, fmt.Sprint(part.set.Labels[i]), fmt.Sprintf("%05d.png", i))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			err = png.Encode(f, img)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		fmt.Fprintf(os.Stderr, "%s: %d images\n", filepath.Join(out, part.name), part.set.N)
	}
	return nil
}
