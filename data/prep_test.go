package data

import (
	"image"
	"image/color"
	"strings"
	"testing"
)

// TestScaleCrop: the shorter side is scaled to the given size in
// proportion and the centre is cut out (offsets rounded half to even, as
// torchvision's CenterCrop does); a crop larger than the scaled image, or
// a shorter side smaller than the crop, is refused.
func TestScaleCrop(t *testing.T) {
	// 40x20, black but for white columns 19 and 20 (the middle) and a
	// white top row.
	img := image.NewGray(image.Rect(0, 0, 40, 20))
	for y := range 20 {
		img.SetGray(19, y, color.Gray{255})
		img.SetGray(20, y, color.Gray{255})
	}
	for x := range 40 {
		img.SetGray(x, 0, color.Gray{255})
	}
	// Shorter side 20 -> 10: 20x10, centre 8x8 from (6, 1).
	x, err := ScaleCrop(img, 1, 10, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != 64 {
		t.Fatalf("%d values", len(x))
	}
	// The white columns land in the middle of the crop (columns 3 and 4).
	for y := 2; y < 8; y++ {
		if x[y*8+3] < 0.4 || x[y*8+4] < 0.4 || x[y*8+0] > 0.1 || x[y*8+7] > 0.1 {
			t.Fatalf("row %d: %v", y, x[y*8:y*8+8])
		}
	}
	// Offset (10-9)/2 = 0.5 rounds to 0: the crop keeps the white top row.
	x, err = ScaleCrop(img, 1, 10, 9, 9)
	if err != nil {
		t.Fatal(err)
	}
	if x[0] < 0.3 {
		t.Errorf("top row %v: the crop's offset was not rounded half to even", x[:9])
	}
	if _, err := ScaleCrop(img, 1, 10, 12, 12); err == nil || !strings.Contains(err.Error(), "smaller than the 12x12 crop") {
		t.Errorf("crop larger than the image: %v", err)
	}
	sliver := image.NewGray(image.Rect(0, 0, 65535, 1))
	if _, err := ScaleCrop(sliver, 1, 256, 224, 224); err == nil || !strings.Contains(err.Error(), "65535x1") {
		t.Errorf("a 65535x1 image: %v", err)
	}
	p := Preprocessing{Channels: 1, Height: 8, Width: 12, Mean: []float32{0}, Std: []float32{1}, ResizeShorter: 10}
	if err := p.Validate(); err == nil {
		t.Error("a shorter side smaller than the crop's longer side was accepted")
	}
	p = Preprocessing{Channels: 1, Height: 8, Width: 8, Mean: []float32{0}, Std: []float32{1}, ResizeShorter: 6}
	if err := p.Validate(); err == nil {
		t.Error("a shorter side smaller than the crop was accepted")
	}
	p.ResizeShorter = 10
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
	if got, err := p.Input(img); err != nil || len(got) != 64 {
		t.Errorf("Input: %d values, %v", len(got), err)
	}
}
