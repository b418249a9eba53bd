package predict

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/resgo/resgo/data"
	"golang.org/x/image/draw"
)

// Preprocessing names how an image becomes a model's input.
type Preprocessing string

const (
	// Auto picks Digit for models of MNIST's shape (1x28x28), else Resize.
	Auto Preprocessing = "auto"
	// Digit is MNIST's recipe for one handwritten digit: see DigitInput.
	Digit Preprocessing = "digit"
	// Resize scales the whole image to the model's input (ignoring its
	// aspect ratio), as gray or RGB values in [0, 1].
	Resize Preprocessing = "resize"
)

// ParsePreprocessing checks a name given by a user.
func ParsePreprocessing(s string) (Preprocessing, error) {
	switch p := Preprocessing(s); p {
	case Auto, Digit, Resize:
		return p, nil
	}
	return "", fmt.Errorf("preprocessing %q: want %s, %s or %s", s, Auto, Digit, Resize)
}

// resolve turns Auto into the choice for an input shape.
func (p Preprocessing) resolve(input [3]int) (Preprocessing, error) {
	switch p {
	case "", Auto:
		if input == [3]int{1, 28, 28} {
			return Digit, nil
		}
		return Resize, nil
	case Digit:
		if input != [3]int{1, digitSide, digitSide} {
			return "", fmt.Errorf("digit preprocessing makes 1x28x28 inputs; this model takes %dx%dx%d", input[0], input[1], input[2])
		}
		return Digit, nil
	case Resize:
		return Resize, nil
	}
	return "", fmt.Errorf("unknown preprocessing %q", p)
}

// The geometry of MNIST's digits: each was scaled to fit a 20x20 box,
// keeping its proportions, and placed in a 28x28 image so that its centre
// of mass is the centre.
const (
	digitBox  = 20
	digitSide = 28
	// maxDigitSide bounds the copy DigitInput works on.
	maxDigitSide = 512
)

// ErrNoInk is returned (wrapped) for an image with nothing drawn on it.
var ErrNoInk = errors.New("no digit found: the image is blank")

// DigitInput prepares one digit as MNIST prepared its own, returning a
// 28x28 image of light ink on black, as float32 values in [0, 1]:
//
//  1. gray levels (transparent pixels count as white paper);
//  2. if the border is mostly light (a dark pen on paper), the image is
//     inverted;
//  3. ink is told from paper by Otsu's threshold; the paper's level (its
//     98th percentile) becomes 0 and the ink's (its 90th) 1, so uneven
//     lighting and a photo's noise drop out;
//  4. the image is cropped to the ink's bounding box, scaled (Catmull-Rom)
//     so that its longer side is 20 pixels, keeping its proportions;
//  5. it is placed in 28x28 with its centre of mass at the centre (moved
//     back inside where that would cut it).
func DigitInput(img image.Image) ([]float32, error) {
	if img == nil || img.Bounds().Empty() {
		return nil, ErrNoInk
	}
	// A photo has far more pixels than a 20x20 digit needs: work on a
	// copy at most maxDigitSide a side, so a huge image costs little.
	if b := img.Bounds(); max(b.Dx(), b.Dy()) > maxDigitSide {
		f := float64(maxDigitSide) / float64(max(b.Dx(), b.Dy()))
		small := image.NewRGBA64(image.Rect(0, 0, max(1, int(float64(b.Dx())*f)), max(1, int(float64(b.Dy())*f))))
		draw.Draw(small, small.Bounds(), image.White, image.Point{}, draw.Src)
		draw.CatmullRom.Scale(small, small.Bounds(), img, b, draw.Over, nil)
		img = small
	}
	g := grayOf(img)
	w, h := g.w, g.h
	if w == 0 || h == 0 {
		return nil, ErrNoInk
	}
	if g.borderMedian() > 0.5 {
		for i, v := range g.pix {
			g.pix[i] = 1 - v
		}
	}
	// Ink and paper apart by Otsu's threshold; the ink's box from the ink
	// alone, so that uneven lighting or a speck of noise does not widen it.
	t, ok := otsu(g.pix)
	if !ok {
		return nil, ErrNoInk
	}
	inkVals, paperVals := make([]float64, 0, len(g.pix)), make([]float64, 0, len(g.pix))
	x0, y0, x1, y1 := w, h, -1, -1
	for y := range h {
		for x := range w {
			if v := g.pix[y*w+x]; v >= t { // t starts the upper bins
				inkVals = append(inkVals, v)
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			} else {
				paperVals = append(paperVals, v)
			}
		}
	}
	// Paper (up to its 98th percentile) becomes 0 and ink (from its 90th)
	// 1, with the anti-aliased edges in between.
	if len(inkVals) == 0 || len(paperVals) == 0 {
		return nil, ErrNoInk
	}
	lo, hi := percentileInPlace(paperVals, 0.98), percentileInPlace(inkVals, 0.9)
	if hi-lo < 0.05 {
		return nil, ErrNoInk
	}
	for i, v := range g.pix {
		g.pix[i] = math.Max(0, math.Min(1, (v-lo)/(hi-lo)))
	}
	// Scale the ink's box into 20x20, in proportion.
	bw, bh := x1-x0+1, y1-y0+1
	sw, sh := digitBox, digitBox
	if bw > bh {
		sh = max(1, int(math.Round(float64(digitBox*bh)/float64(bw))))
	} else {
		sw = max(1, int(math.Round(float64(digitBox*bw)/float64(bh))))
	}
	src := image.NewGray16(image.Rect(0, 0, bw, bh))
	for y := range bh {
		for x := range bw {
			src.Pix[2*(y*bw+x)], src.Pix[2*(y*bw+x)+1] = split16(g.pix[(y0+y)*w+x0+x])
		}
	}
	dst := image.NewGray16(image.Rect(0, 0, sw, sh))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	box := make([]float64, sw*sh)
	var mass, mx, my float64
	for y := range sh {
		for x := range sw {
			v := float64(uint16(dst.Pix[2*(y*sw+x)])<<8|uint16(dst.Pix[2*(y*sw+x)+1])) / 0xffff
			box[y*sw+x] = v
			mass += v
			mx += v * (float64(x) + 0.5)
			my += v * (float64(y) + 0.5)
		}
	}
	if mass == 0 {
		return nil, ErrNoInk
	}
	// Offsets that put the centre of mass at (14, 14), kept inside.
	ox := clamp(int(math.Round(digitSide/2-mx/mass)), 0, digitSide-sw)
	oy := clamp(int(math.Round(digitSide/2-my/mass)), 0, digitSide-sh)
	out := make([]float32, digitSide*digitSide)
	for y := range sh {
		for x := range sw {
			out[(oy+y)*digitSide+ox+x] = float32(box[y*sw+x])
		}
	}
	return out, nil
}

// ResizeInput scales img to channels x height x width (1: gray, 3: RGB),
// values in [0, 1], channel-major as the models take them.
func ResizeInput(img image.Image, input [3]int) ([]float32, error) {
	return data.Scale(img, input[0], input[1], input[2])
}

// grayImage is an image's gray levels in [0, 1], row-major.
type grayImage struct {
	w, h int
	pix  []float64
}

func grayOf(img image.Image) grayImage {
	b := img.Bounds()
	g := grayImage{w: b.Dx(), h: b.Dy(), pix: make([]float64, b.Dx()*b.Dy())}
	// RGBA64At gives what At(x, y).RGBA() does without boxing a colour
	// per pixel (every decoder's image type has it).
	at := func(x, y int) color.RGBA64 { return color.RGBA64Model.Convert(img.At(x, y)).(color.RGBA64) }
	if fast, ok := img.(image.RGBA64Image); ok {
		at = fast.RGBA64At
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := g.pix[(y-b.Min.Y)*g.w : (y-b.Min.Y+1)*g.w]
		for x := b.Min.X; x < b.Max.X; x++ {
			row[x-b.Min.X] = luminanceOverWhite(at(x, y))
		}
	}
	return g
}

// luminanceOverWhite is a premultiplied colour's gray level in [0, 1] as
// if laid over white paper: c + (1 - alpha).
func luminanceOverWhite(c color.RGBA64) float64 {
	paper := float64(0xffff - c.A)
	lum := 0.299*(float64(c.R)+paper) + 0.587*(float64(c.G)+paper) + 0.114*(float64(c.B)+paper)
	return lum / 0xffff
}

// borderMedian is the median gray level of the pixels on the edges.
func (g grayImage) borderMedian() float64 {
	var edge []float64
	for x := range g.w {
		edge = append(edge, g.pix[x], g.pix[(g.h-1)*g.w+x])
	}
	for y := 1; y < g.h-1; y++ {
		edge = append(edge, g.pix[y*g.w], g.pix[y*g.w+g.w-1])
	}
	return nth(edge, len(edge)/2)
}

func split16(v float64) (hi, lo uint8) {
	u := uint16(math.Round(math.Max(0, math.Min(1, v)) * 0xffff))
	return uint8(u >> 8), uint8(u)
}

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }

// otsu finds the gray level that best splits values into two classes
// (Otsu's method, over 256 bins); ok is false when there is no contrast
// to split.
func otsu(vals []float64) (float64, bool) {
	var hist [256]float64
	for _, v := range vals {
		hist[min(255, max(0, int(v*255)))]++
	}
	n := float64(len(vals))
	var total float64
	for i, c := range hist {
		total += float64(i) * c
	}
	var best, bestT, w0, sum0 float64
	for i := range 255 {
		w0 += hist[i]
		sum0 += float64(i) * hist[i]
		w1 := n - w0
		if w0 == 0 || w1 == 0 {
			continue
		}
		m0, m1 := sum0/w0, (total-sum0)/w1
		if between := w0 * w1 * (m0 - m1) * (m0 - m1); between > best {
			best, bestT = between, (float64(i)+1)/255
		}
	}
	return bestT, best > 0
}

// percentileInPlace returns the value below which a fraction q of vals
// lie: the one a sort would put at index q*len, found by selection in
// linear time (vals is reordered).
func percentileInPlace(vals []float64, q float64) float64 {
	return nth(vals, min(len(vals)-1, int(q*float64(len(vals)))))
}

// nth reorders s so that s[k] is the value a sort would put there, and
// returns it (Hoare's selection, middle pivot; vals hold no NaN).
func nth(s []float64, k int) float64 {
	lo, hi := 0, len(s)-1
	for lo < hi {
		pivot := s[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for s[i] < pivot {
				i++
			}
			for s[j] > pivot {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i, j = i+1, j-1
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k] // between j and i: equal to the pivot
		}
	}
	return s[k]
}
