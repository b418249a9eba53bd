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
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
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
			switch {
			case curve.bold:
				l.Width = vg.Points(2.2)
				p.Legend.Add(label(r.Name, "validation"), l)
			case len(r.Validate) == 0:
				// A training curve alone (the loss) is drawn solid:
				// dashes only tell it apart from a validation curve.
				l.Width = vg.Points(1.2)
				p.Legend.Add(label(r.Name, "training"), l)
			default:
				l.Width = vg.Points(0.8)
				l.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
				p.Legend.Add(label(r.Name, "training"), l)
			}
			p.Add(l)
		}
	}
	if math.IsInf(lo, 1) {
		return fmt.Errorf("charts: nothing to draw")
	}
	// Room above and below the curves (on a log axis a factor, not an
	// offset), but no error rate above 100%.
	p.Y.Min, p.Y.Max = lo/1.3, hi*1.3
	if o.YLabel == "" {
		p.Y.Max = math.Min(p.Y.Max, math.Max(100, hi))
	}
	style(p)
	for _, path := range paths {
		if err := save(p, path); err != nil {
			return fmt.Errorf("charts: writing %s: %v", path, err)
		}
	}
	return nil
}

// label names a curve: "resnet18 training", or "training" for a run
// without a name.
func label(run, curve string) string {
	if run == "" {
		return curve
	}
	return run + " " + curve
}

// style sets text large enough to read on a screen without zooming.
func style(p *plot.Plot) {
	p.Title.TextStyle.Font.Size = vg.Points(15)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(13)
		a.Tick.Label.Font.Size = vg.Points(11)
	}
	p.Legend.TextStyle.Font.Size = vg.Points(11)
	p.Legend.Padding = vg.Points(2)
}

// Size and resolution of saved charts: 1,440 x 900 pixels as PNG.
const (
	chartWidth, chartHeight = 9 * vg.Inch, 5.625 * vg.Inch
	pngDPI                  = 160
)

// save writes the chart atomically: an earlier chart is never left half
// overwritten.
func save(p *plot.Plot, path string) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	var wt io.WriterTo
	if format == "png" {
		c := vgimg.NewWith(vgimg.UseWH(chartWidth, chartHeight), vgimg.UseDPI(pngDPI))
		p.Draw(draw.New(c))
		wt = vgimg.PngCanvas{Canvas: c}
	} else {
		var err error
		if wt, err = p.WriterTo(chartWidth, chartHeight, format); err != nil {
			return err
		}
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
