// Command mkdigits draws the handwriting-like digits of testdata/digits:
// digits that did not come from MNIST, for testing that resgo predict
// reads a user's own images. Each digit is a few pen strokes (smooth
// curves through control points), drawn with a round pen of some width on
// a canvas of some size, at some position and slant, dark on light paper
// (with the unevenness and noise of a photo, some saved as JPEG) or light
// on dark. The names say the digit: <digit>-<style>.<ext>.
//
//	go run ./tools/mkdigits testdata/digits
package main

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

type pt struct{ x, y float64 }

// strokes are each digit's pen strokes, as control points in a unit box
// (y downwards), passed through by Catmull-Rom curves.
var strokes = [10][][]pt{
	0: {ellipse(0.5, 0.5, 0.3, 0.45, 0)},
	1: {{{0.38, 0.22}, {0.55, 0.05}, {0.55, 0.5}, {0.55, 0.95}}},
	2: {{{0.2, 0.28}, {0.32, 0.1}, {0.52, 0.05}, {0.72, 0.12}, {0.76, 0.3}, {0.62, 0.52}, {0.38, 0.75}, {0.18, 0.94}, {0.5, 0.93}, {0.85, 0.94}}},
	3: {{{0.2, 0.14}, {0.45, 0.05}, {0.7, 0.12}, {0.74, 0.3}, {0.5, 0.46}, {0.42, 0.47}},
		{{0.5, 0.46}, {0.74, 0.56}, {0.8, 0.77}, {0.6, 0.94}, {0.35, 0.95}, {0.18, 0.86}}},
	4: {{{0.6, 0.05}, {0.38, 0.35}, {0.15, 0.66}, {0.5, 0.66}, {0.88, 0.65}},
		{{0.66, 0.3}, {0.66, 0.6}, {0.66, 0.95}}},
	5: {{{0.78, 0.06}, {0.5, 0.06}, {0.3, 0.06}},
		{{0.3, 0.06}, {0.26, 0.45}, {0.52, 0.4}, {0.74, 0.5}, {0.8, 0.72}, {0.66, 0.92}, {0.42, 0.96}, {0.2, 0.88}}},
	6: {{{0.7, 0.07}, {0.46, 0.12}, {0.3, 0.35}, {0.22, 0.65}, {0.32, 0.9}, {0.55, 0.96}, {0.75, 0.82}, {0.73, 0.6}, {0.52, 0.5}, {0.3, 0.6}}},
	7: {{{0.15, 0.07}, {0.5, 0.07}, {0.85, 0.07}, {0.62, 0.5}, {0.42, 0.95}}},
	8: {ellipse(0.5, 0.27, 0.2, 0.21, 0), ellipse(0.5, 0.71, 0.26, 0.24, 0)},
	9: {ellipse(0.48, 0.3, 0.24, 0.23, 0), {{0.72, 0.2}, {0.72, 0.55}, {0.68, 0.95}}},
}

func ellipse(cx, cy, rx, ry, start float64) []pt {
	var p []pt
	for i := 0; i <= 16; i++ {
		a := start + 2*math.Pi*float64(i)/16
		p = append(p, pt{cx + rx*math.Sin(a), cy - ry*math.Cos(a)})
	}
	return p
}

// style is how one image is drawn.
type style struct {
	name          string
	w, h          int     // canvas
	size          float64 // digit height in pixels
	cx, cy        float64 // centre of the digit, as fractions of the canvas
	pen           float64 // pen width in pixels
	slant         float64 // shear: x += slant * (0.5 - y)
	ink, paper    color.RGBA
	unevenness    float64 // paper brightness varying across the page
	noise         float64 // pixel noise (a photo's)
	jpeg          bool
	jitterControl float64 // hand tremor: control points moved by up to this
}

var styles = []style{
	{name: "pen", w: 120, h: 120, size: 90, cx: 0.5, cy: 0.5, pen: 9, ink: color.RGBA{20, 20, 20, 255}, paper: color.RGBA{255, 255, 255, 255}},
	{name: "photo", w: 220, h: 160, size: 110, cx: 0.38, cy: 0.55, pen: 15, slant: 0.25,
		ink: color.RGBA{30, 40, 110, 255}, paper: color.RGBA{225, 220, 205, 255}, unevenness: 0.12, noise: 0.04, jpeg: true, jitterControl: 0.02},
	{name: "pencil", w: 300, h: 240, size: 70, cx: 0.3, cy: 0.7, pen: 3, slant: 0.1,
		ink: color.RGBA{90, 90, 95, 255}, paper: color.RGBA{250, 250, 245, 255}, unevenness: 0.06, noise: 0.015, jitterControl: 0.025},
	{name: "chalk", w: 64, h: 64, size: 30, cx: 0.68, cy: 0.35, pen: 3.5, slant: -0.12,
		ink: color.RGBA{245, 245, 245, 255}, paper: color.RGBA{25, 30, 28, 255}, noise: 0.02, jitterControl: 0.015},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkdigits DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}
	r := rand.New(rand.NewPCG(7, 11))
	for d := range 10 {
		for _, s := range styles {
			img := draw(strokes[d], s, r)
			ext := ".png"
			if s.jpeg {
				ext = ".jpg"
			}
			path := filepath.Join(dir, fmt.Sprintf("%d-%s%s", d, s.name, ext))
			f, err := os.Create(path)
			if err != nil {
				fail(err)
			}
			if s.jpeg {
				err = jpeg.Encode(f, img, &jpeg.Options{Quality: 80})
			} else {
				err = png.Encode(f, img)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				fail(err)
			}
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mkdigits:", err)
	os.Exit(1)
}

// draw renders a digit's strokes with a round pen.
func draw(digit [][]pt, s style, r *rand.Rand) *image.RGBA {
	// The digit's box: size high, 0.75 size wide, centred at (cx, cy).
	ox, oy := s.cx*float64(s.w)-0.375*s.size, s.cy*float64(s.h)-0.5*s.size
	var segs [][2]pt
	for _, stroke := range digit {
		ctrl := make([]pt, len(stroke))
		for i, p := range stroke {
			p.x += (2*r.Float64() - 1) * s.jitterControl
			p.y += (2*r.Float64() - 1) * s.jitterControl
			p.x += s.slant * (0.5 - p.y)
			ctrl[i] = pt{ox + 0.75*s.size*p.x, oy + s.size*p.y}
		}
		curve := catmullRom(ctrl, 12)
		for i := 1; i < len(curve); i++ {
			segs = append(segs, [2]pt{curve[i-1], curve[i]})
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, s.w, s.h))
	for y := range s.h {
		for x := range s.w {
			p := pt{float64(x) + 0.5, float64(y) + 0.5}
			d := math.Inf(1)
			for _, sg := range segs {
				d = math.Min(d, segDist(p, sg[0], sg[1]))
			}
			cover := math.Max(0, math.Min(1, s.pen/2-d+0.5))
			light := 1 + s.unevenness*(float64(x)/float64(s.w)-0.5+0.5*float64(y)/float64(s.h)-0.25)
			img.Set(x, y, mix(s.paper, s.ink, cover, light, s.noise*r.NormFloat64()))
		}
	}
	return img
}

func mix(paper, ink color.RGBA, cover, light, noise float64) color.RGBA {
	ch := func(a, b uint8) uint8 {
		v := (float64(a)*light*(1-cover)+float64(b)*cover)/255 + noise
		return uint8(math.Round(255 * math.Max(0, math.Min(1, v))))
	}
	return color.RGBA{ch(paper.R, ink.R), ch(paper.G, ink.G), ch(paper.B, ink.B), 255}
}

// catmullRom passes a smooth curve through the points, n steps a span.
func catmullRom(p []pt, n int) []pt {
	if len(p) < 2 {
		return p
	}
	at := func(i int) pt { return p[max(0, min(len(p)-1, i))] }
	out := []pt{p[0]}
	for i := 0; i < len(p)-1; i++ {
		p0, p1, p2, p3 := at(i-1), at(i), at(i+1), at(i+2)
		for s := 1; s <= n; s++ {
			t := float64(s) / float64(n)
			t2, t3 := t*t, t*t*t
			f := func(a, b, c, d float64) float64 {
				return 0.5 * (2*b + (-a+c)*t + (2*a-5*b+4*c-d)*t2 + (-a+3*b-3*c+d)*t3)
			}
			out = append(out, pt{f(p0.x, p1.x, p2.x, p3.x), f(p0.y, p1.y, p2.y, p3.y)})
		}
	}
	return out
}

// segDist is the distance from p to the segment ab.
func segDist(p, a, b pt) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, ((p.x-a.x)*dx+(p.y-a.y)*dy)/l))
	}
	return math.Hypot(p.x-a.x-t*dx, p.y-a.y-t*dy)
}
