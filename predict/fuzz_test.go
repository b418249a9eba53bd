package predict

import (
	"bytes"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/tiff"
)

// FuzzDecodeImage feeds arbitrary bytes to the image decoders and the
// digit preprocessing: an error that names the input, or an image whose
// prepared input is 28x28 values in [0, 1]; never a panic.
func FuzzDecodeImage(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/digits/*-chalk.png")
	for _, s := range seeds[:min(3, len(seeds))] {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	f.Add([]byte("BM"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Images the header says are big decode slowly, and the fuzzer
		// takes a slow input for a hang; the size limit and large images
		// are tested elsewhere.
		if cfg, err := decodeConfig(data); err == nil && int64(cfg.Width)*int64(cfg.Height) > 1<<16 {
			return
		}
		img, err := Decode(data, "fuzz-input")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz-input: ") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		x, err := DigitInput(img)
		if errors.Is(err, ErrNoInk) {
			return
		}
		if err != nil {
			t.Fatalf("DigitInput: %v", err)
		}
		if len(x) != 28*28 {
			t.Fatalf("%d values", len(x))
		}
		for _, v := range x {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("value %v", v)
			}
		}
	})
}

// decodeConfig reads an image's size the way data.DecodeImage does (a
// TIFF through a ReaderAt: see data.decodeTIFF).
func decodeConfig(data []byte) (image.Config, error) {
	if bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*")) {
		return tiff.DecodeConfig(bytes.NewReader(data))
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	return cfg, err
}
