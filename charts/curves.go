package charts

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/resgo/resgo/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Point is a value at an x position (an epoch, or a step).
type Point struct{ X, Y float64 }

// Run is one model's curves, as error rates in [0, 1].
type Run struct {
	Name            string
	Train, Validate []Point
}

// Options label a chart.
type Options struct {
	Title, XLabel string
	// YLabel names the values; empty means error rates, drawn in percent.
	YLabel string
	// Floor is the smallest value drawn on the logarithmic axis (default
	// 0.001, 0.1% for errors): a window with no training mistakes would
	// otherwise be at minus infinity.
	Floor float64
}

// palette is colour-blind-safe (Okabe & Ito).
var palette = []color.RGBA{
	{0, 114, 178, 255}, {213, 94, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255},
	{230, 159, 0, 255}, {86, 180, 233, 255}, {0, 0, 0, 255}, {240, 228, 66, 255},
}

// ErrorCurves draws the runs' training (thin, dashed) and validation
// (bold) curves on a logarithmic axis, error rates in percent, and saves the chart to
// each path; the format follows the extension (.png, .svg, .pdf).
func ErrorCurves(runs []Run, o Options, paths ...string) error {
	if o.Floor <= 0 {
		o.Floor = 0.001
	}
	p := plot.New()
	p.Title.Text = o.Title
	p.X.Label.Text = o.XLabel
	scale := 100.0
	p.Y.Label.Text = "error (%)"
	if o.YLabel != "" {
		scale, p.Y.Label.Text = 1, o.YLabel
	}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, r := range runs {
		c := palette[i%len(palette)]
		for _, curve := range []struct {
			pts  []Point
			bold bool
		}{{r.Train, false}, {r.Validate, true}} {
			if len(curve.pts) == 0 {
				continue
			}
			xys := make(plotter.XYs, len(curve.pts))
			for j, pt := range curve.pts {
				xys[j].X, xys[j].Y = pt.X, scale*math.Max(pt.Y, o.Floor)
				lo, hi = math.Min(lo, xys[j].Y), math.Max(hi, xys[j].Y)
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return fmt.Errorf("charts: %s: %v", r.Name, err)
			}
			l.Color = c
			if curve.bold {
				l.Width = vg.Points(2.2)
				p.Legend.Add(r.Name+" validation", l)
			} else {
				l.Width = vg.Points(0.8)
				l.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
				p.Legend.Add(r.Name+" training", l)
			}
			p.Add(l)
		}
	}
	if math.IsInf(lo, 1) {
		return fmt.Errorf("charts: nothing to draw")
	}
	p.Y.Min, p.Y.Max = lo/1.2, hi*1.2
	for _, path := range paths {
		if err := save(p, path); err != nil {
			return fmt.Errorf("charts: writing %s: %v", path, err)
		}
	}
	return nil
}

// save writes the chart atomically: an earlier chart is never left half
// overwritten.
func save(p *plot.Plot, path string) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, format)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Dir(path), filepath.Base(path), "."+filepath.Base(path)+".tmp-", func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}

// logTicks labels a logarithmic axis at 1, 2 and 5 times the powers of
// ten.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < min || v > max {
				continue
			}
			ts = append(ts, plot.Tick{Value: v, Label: strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")})
		}
	}
	return ts
}

// Formats lists the file extensions ErrorCurves can write.
func Formats() []string { return []string{".png", ".svg", ".pdf"} }

// KnownFormat reports whether path's extension is one ErrorCurves writes.
func KnownFormat(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	for _, f := range Formats() {
		if ext == f {
			return true
		}
	}
	return false
}
