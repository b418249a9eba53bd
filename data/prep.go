package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"

	xdraw "golang.org/x/image/draw"
)

// Preprocessing is how an image becomes a model's input when it is not an
// MNIST digit: scaled (Catmull-Rom, ignoring its aspect ratio) to Height x
// Width, as gray levels or RGB in [0, 1] (transparent pixels count as
// white), then each channel c normalised to (v - Mean[c]) / Std[c]. A
// checkpoint trained on an image folder stores it, so that everything that
// reads the checkpoint treats images alike.
type Preprocessing struct {
	Channels int       `json:"channels"`
	Height   int       `json:"height"`
	Width    int       `json:"width"`
	Mean     []float32 `json:"mean"`
	Std      []float32 `json:"std"`
	// ResizeShorter, when set, scales the image (bilinear, in proportion)
	// so that its shorter side has this many pixels, then takes the
	// centre Height x Width: ImageNet's evaluation recipe (256, then 224),
	// which torchvision's models were made with.
	ResizeShorter int `json:"resize_shorter,omitempty"`
}

// Checkpoint metadata keys: the Preprocessing as JSON, and the class
// names as a JSON array.
const (
	PreprocessingKey = "preprocessing"
	LabelsKey        = "labels"
)

// Validate checks the sizes and that every Std is positive and finite.
func (p Preprocessing) Validate() error {
	switch {
	case p.Channels != 1 && p.Channels != 3:
		return fmt.Errorf("preprocessing: %d channels, want 1 (gray) or 3 (RGB)", p.Channels)
	case p.Height < 1 || p.Width < 1 || p.Height > 4096 || p.Width > 4096:
		return fmt.Errorf("preprocessing: size %dx%d, want 1 to 4096 a side", p.Height, p.Width)
	case p.ResizeShorter != 0 && (p.ResizeShorter < max(p.Height, p.Width) || p.ResizeShorter > 4*4096):
		// At least the crop's longer side: a square image, scaled, must
		// hold the crop.
		return fmt.Errorf("preprocessing: shorter side %d, want at least the crop's longer side (%dx%d)", p.ResizeShorter, p.Height, p.Width)
	case len(p.Mean) != p.Channels || len(p.Std) != p.Channels:
		return fmt.Errorf("preprocessing: %d means and %d standard deviations for %d channels", len(p.Mean), len(p.Std), p.Channels)
	}
	for c := range p.Channels {
		m, s := float64(p.Mean[c]), float64(p.Std[c])
		if math.IsNaN(m) || math.IsInf(m, 0) || !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("preprocessing: channel %d has mean %v and standard deviation %v", c, m, s)
		}
	}
	return nil
}

// ParsePreprocessing reads a Preprocessing stored as JSON.
func ParsePreprocessing(s string) (Preprocessing, error) {
	var p Preprocessing
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, fmt.Errorf("preprocessing: %v", err)
	}
	return p, p.Validate()
}

// String is the JSON form stored in checkpoints.
func (p Preprocessing) String() string {
	b, _ := json.Marshal(p)
	return string(b)
}

// Input prepares img: Channels x Height x Width values, channel-major.
func (p Preprocessing) Input(img image.Image) ([]float32, error) {
	x, err := p.scale(img)
	if err != nil {
		return nil, err
	}
	p.Normalize(x)
	return x, nil
}

// scale is the preprocessing's resizing (and crop): values in [0, 1].
func (p Preprocessing) scale(img image.Image) ([]float32, error) {
	if p.ResizeShorter > 0 {
		return ScaleCrop(img, p.Channels, p.ResizeShorter, p.Height, p.Width)
	}
	return Scale(img, p.Channels, p.Height, p.Width)
}

// Normalize applies the per-channel mean and standard deviation to one
// scaled image in place.
func (p Preprocessing) Normalize(x []float32) {
	per := p.Height * p.Width
	for c := range p.Channels {
		m, inv := p.Mean[c], 1/p.Std[c]
		for i := c * per; i < (c+1)*per; i++ {
			x[i] = (x[i] - m) * inv
		}
	}
}

// Scale resizes img to channels x height x width values in [0, 1] (1:
// gray, 3: RGB), channel-major; transparent pixels count as white.
func Scale(img image.Image, channels, height, width int) ([]float32, error) {
	if err := checkScale(img, channels); err != nil {
		return nil, err
	}
	dst := image.NewRGBA64(image.Rect(0, 0, width, height))
	xdraw.Draw(dst, dst.Bounds(), image.White, image.Point{}, xdraw.Src)
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), xdraw.Over, nil)
	return values(dst, channels), nil
}

// ScaleCrop resizes img in proportion (bilinear, with a support widened
// when shrinking, as Pillow's resize filters are) so that its shorter
// side is shorter pixels, and returns the centre height x width as Scale
// does (the crop's offset rounded half to even, as torchvision's
// CenterCrop rounds it).
func ScaleCrop(img image.Image, channels, shorter, height, width int) ([]float32, error) {
	if err := checkScale(img, channels); err != nil {
		return nil, err
	}
	b := img.Bounds()
	w, h := shorter, shorter
	if b.Dx() > b.Dy() {
		w = int(float64(shorter) * float64(b.Dx()) / float64(b.Dy()))
	} else {
		h = int(float64(shorter) * float64(b.Dy()) / float64(b.Dx()))
	}
	if w < width || h < height {
		return nil, fmt.Errorf("scaled to %dx%d, the image is smaller than the %dx%d crop", w, h, width, height)
	}
	// The whole image is scaled before the crop: a sliver (a 65535x1 PNG
	// is a hundred bytes) would make a scaled copy of gigabytes.
	if max(w, h) > maxCropAspect*shorter {
		return nil, fmt.Errorf("the image is %dx%d: more than %d times as long as it is wide", b.Dx(), b.Dy(), maxCropAspect)
	}
	scaled := image.NewRGBA64(image.Rect(0, 0, w, h))
	xdraw.Draw(scaled, scaled.Bounds(), image.White, image.Point{}, xdraw.Src)
	xdraw.BiLinear.Scale(scaled, scaled.Bounds(), img, b, xdraw.Over, nil)
	top := int(math.RoundToEven(float64(h-height) / 2))
	left := int(math.RoundToEven(float64(w-width) / 2))
	return values(scaled.SubImage(image.Rect(left, top, left+width, top+height)).(*image.RGBA64), channels), nil
}

// maxCropAspect bounds the ratio of an image's sides that ScaleCrop takes.
const maxCropAspect = 16

func checkScale(img image.Image, channels int) error {
	if channels != 1 && channels != 3 {
		return fmt.Errorf("%d channels: want 1 (gray) or 3 (RGB)", channels)
	}
	if img == nil || img.Bounds().Empty() {
		return errors.New("the image is empty")
	}
	return nil
}

// values reads an image's pixels as channels x height x width values in
// [0, 1], channel-major (gray by ITU-R 601 luma).
func values(dst *image.RGBA64, channels int) []float32 {
	b := dst.Bounds()
	height, width := b.Dy(), b.Dx()
	out := make([]float32, channels*height*width)
	per := height * width
	for y := range height {
		for x := range width {
			px := dst.RGBA64At(b.Min.X+x, b.Min.Y+y)
			r, g, bl := float32(px.R)/0xffff, float32(px.G)/0xffff, float32(px.B)/0xffff
			if channels == 1 {
				out[y*width+x] = 0.299*r + 0.587*g + 0.114*bl
				continue
			}
			out[y*width+x], out[per+y*width+x], out[2*per+y*width+x] = r, g, bl
		}
	}
	return out
}
