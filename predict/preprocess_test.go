package predict

import (
	"errors"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// bar draws a filled rectangle of ink on paper.
func bar(w, h int, r image.Rectangle, ink, paper color.Color) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := paper
			if (image.Point{x, y}).In(r) {
				c = ink
			}
			img.Set(x, y, c)
		}
	}
	return img
}

// box returns the bounding box of the values above 0.5, and the centre
// of mass of all values.
func box(t *testing.T, x []float32) (image.Rectangle, float64, float64) {
	t.Helper()
	if len(x) != 28*28 {
		t.Fatalf("%d values", len(x))
	}
	r := image.Rectangle{Min: image.Point{28, 28}}
	var m, mx, my float64
	for y := range 28 {
		for xx := range 28 {
			v := float64(x[y*28+xx])
			if v < 0 || v > 1 || math.IsNaN(v) {
				t.Fatalf("value %v", v)
			}
			m, mx, my = m+v, mx+v*(float64(xx)+0.5), my+v*(float64(y)+0.5)
			if v > 0.5 {
				r = r.Union(image.Rect(xx, y, xx+1, y+1))
			}
		}
	}
	return r, mx / m, my / m
}

// A tall dark bar on white paper, off-centre in a large image, becomes a
// light bar 20 pixels high, in proportion, centred by its mass in 28x28:
// MNIST's geometry.
func TestDigitInputGeometry(t *testing.T) {
	img := bar(300, 200, image.Rect(30, 20, 60, 140), color.Black, color.White) // 30 x 120
	x, err := DigitInput(img)
	if err != nil {
		t.Fatal(err)
	}
	r, cx, cy := box(t, x)
	if r.Dy() != 20 || r.Dx() < 4 || r.Dx() > 6 {
		t.Errorf("ink box %v, want 20 high and 5 wide", r)
	}
	if math.Abs(cx-14) > 0.5 || math.Abs(cy-14) > 0.5 {
		t.Errorf("centre of mass (%.2f, %.2f), want (14, 14)", cx, cy)
	}
	// The same shape light on dark, and in colour, gives the same input.
	for _, other := range []image.Image{
		bar(300, 200, image.Rect(30, 20, 60, 140), color.White, color.Black),
		bar(300, 200, image.Rect(30, 20, 60, 140), color.RGBA{20, 30, 120, 255}, color.RGBA{230, 225, 210, 255}),
	} {
		y, err := DigitInput(other)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if math.Abs(float64(x[i]-y[i])) > 0.02 {
				t.Fatalf("pixel %d: %v and %v", i, x[i], y[i])
			}
		}
	}
}

// Transparent pixels are paper: a digit drawn on a transparent canvas
// (as many drawing programs save it) is found.
func TestDigitInputTransparent(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 50, 50))
	for y := 10; y < 40; y++ {
		for x := 20; x < 28; x++ {
			img.Set(x, y, color.NRGBA{0, 0, 0, 255})
		}
	}
	x, err := DigitInput(img)
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _ := box(t, x); r.Dy() != 20 {
		t.Errorf("ink box %v", r)
	}
}

func TestDigitInputBlank(t *testing.T) {
	for _, img := range []image.Image{
		bar(40, 40, image.Rectangle{}, color.Black, color.White),
		bar(40, 40, image.Rectangle{}, color.Black, color.Black),
		image.NewGray(image.Rect(0, 0, 1, 1)),
		image.NewGray(image.Rectangle{}),
		specks(color.Gray{0}, color.Gray{1}),     // black with faint specks:
		specks(color.Gray{255}, color.Gray{254}), // two gray levels in adjacent bins
	} {
		if _, err := DigitInput(img); !errors.Is(err, ErrNoInk) {
			t.Errorf("%v: got %v", img.Bounds(), err)
		}
	}
}

func TestResizeInput(t *testing.T) {
	img := bar(64, 32, image.Rect(0, 0, 32, 32), color.RGBA{255, 0, 0, 255}, color.White)
	x, err := ResizeInput(img, [3]int{3, 8, 8})
	if err != nil {
		t.Fatal(err)
	}
	// Left half red, right half white.
	if x[0] != 1 || x[64] > 0.01 || x[128] > 0.01 || x[7] != 1 || x[64+7] != 1 {
		t.Errorf("red corner %v %v %v, white corner %v %v", x[0], x[64], x[128], x[7], x[64+7])
	}
	if _, err := ResizeInput(img, [3]int{2, 8, 8}); err == nil {
		t.Error("2 channels accepted")
	}
}

// specks is a 20x20 image of one level with a few pixels of another.
func specks(bg, fg color.Gray) image.Image {
	img := image.NewGray(image.Rect(0, 0, 20, 20))
	for i := range img.Pix {
		img.Pix[i] = bg.Y
	}
	img.SetGray(5, 5, fg)
	img.SetGray(12, 7, fg)
	return img
}

// A large photo is worked on at a bounded size: same geometry.
func TestDigitInputLargeImage(t *testing.T) {
	img := bar(3000, 2000, image.Rect(300, 200, 600, 1400), color.Black, color.White)
	x, err := DigitInput(img)
	if err != nil {
		t.Fatal(err)
	}
	if r, cx, cy := box(t, x); r.Dy() != 20 || math.Abs(cx-14) > 0.5 || math.Abs(cy-14) > 0.5 {
		t.Errorf("ink box %v, centre (%.2f, %.2f)", r, cx, cy)
	}
}

// BenchmarkDigitInput: preparing one photo-sized digit (what the server
// does for every request to an MNIST model).
func BenchmarkDigitInput(b *testing.B) {
	for _, name := range []string{"3-pen.png", "8-photo.jpg"} {
		img, err := DecodeFile(filepath.Join("../testdata/digits", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := DigitInput(img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNthIsSortedIndex: selection finds what a sort puts at each index,
// on values with many ties and on distinct ones.
func TestNthIsSortedIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 10, 101, 1000} {
		for _, levels := range []int{2, 7, 1 << 30} {
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = float64(r.IntN(levels)) / float64(levels)
			}
			sorted := slices.Clone(vals)
			slices.Sort(sorted)
			for _, k := range []int{0, n / 2, n - 1, r.IntN(n)} {
				if got := nth(slices.Clone(vals), k); got != sorted[k] {
					t.Fatalf("n %d, %d levels, k %d: %v, sorted %v", n, levels, k, got, sorted[k])
				}
			}
		}
	}
}

// opaqueImage hides its concrete type: only At is there to read it by.
type opaqueImage struct{ image.Image }

// TestGrayOfFastPathIsAt: reading pixels through RGBA64At gives the gray
// levels that At gives, for each decoder's image type.
func TestGrayOfFastPathIsAt(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rect := image.Rect(3, 2, 40, 31)
	rgba := image.NewRGBA(rect)
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(r.IntN(256))
	}
	for i := 3; i < len(rgba.Pix); i += 4 { // premultiplied: colour <= alpha
		for c := 1; c <= 3; c++ {
			rgba.Pix[i-c] = min(rgba.Pix[i-c], rgba.Pix[i])
		}
	}
	nrgba := image.NewNRGBA(rect)
	gray := image.NewGray(rect)
	ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
	pal := image.NewPaletted(rect, color.Palette{color.White, color.Black, color.RGBA{200, 10, 10, 255}, color.Transparent})
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			nrgba.Set(x, y, color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256))})
			gray.Set(x, y, color.Gray{uint8(r.IntN(256))})
			pal.SetColorIndex(x, y, uint8(r.IntN(4)))
		}
	}
	for i := range ycc.Y {
		ycc.Y[i] = uint8(r.IntN(256))
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(r.IntN(256)), uint8(r.IntN(256))
	}
	for _, img := range []image.Image{rgba, nrgba, gray, ycc, pal} {
		fast, slow := grayOf(img), grayOf(opaqueImage{img})
		if fast.w != slow.w || fast.h != slow.h || !slices.Equal(fast.pix, slow.pix) {
			t.Errorf("%T: gray levels differ between RGBA64At and At", img)
		}
	}
}
