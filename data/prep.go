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
	x, err := Scale(img, p.Channels, p.Height, p.Width)
	if err != nil {
		return nil, err
	}
	p.Normalize(x)
	return x, nil
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
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("%d channels: want 1 (gray) or 3 (RGB)", channels)
	}
	if img == nil || img.Bounds().Empty() {
		return nil, errors.New("the image is empty")
	}
	dst := image.NewRGBA64(image.Rect(0, 0, width, height))
	xdraw.Draw(dst, dst.Bounds(), image.White, image.Point{}, xdraw.Src)
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), xdraw.Over, nil)
	out := make([]float32, channels*height*width)
	per := height * width
	for y := range height {
		for x := range width {
			px := dst.RGBA64At(x, y)
			r, g, b := float32(px.R)/0xffff, float32(px.G)/0xffff, float32(px.B)/0xffff
			if channels == 1 {
				out[y*width+x] = 0.299*r + 0.587*g + 0.114*b
				continue
			}
			out[y*width+x], out[per+y*width+x], out[2*per+y*width+x] = r, g, b
		}
	}
	return out, nil
}
