package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/resgo/resgo/charts"
	"github.com/resgo/resgo/tblog"
)

func runPlot(args []string) error {
	fs := newFlagSet("plot", "Draws the curves of TensorBoard log directories (resgo train's --log-dir, or\n"+
		"compare's <out-dir>/<arch>/log) into image files: error rates (training thin, validation\n"+
		"bold) or the training loss. Usage: resgo plot [flags] LOG-DIR...")
	var out, metric, title, names string
	var smooth int
	fs.StringVar(&out, "out", "curves.png,curves.svg", "comma-separated output files; the format follows the extension ("+strings.Join(charts.Formats(), ", ")+")")
	fs.StringVar(&metric, "metric", "error", "what to draw: error (training and validation) or loss")
	fs.StringVar(&title, "title", "", "chart title")
	fs.IntVar(&smooth, "smooth", 0, "with --metric loss: draw the mean of each point and the N-1 before it, which a step's loss is too noisy to\nread without (0 or 1: every step as logged)")
	fs.StringVar(&names, "names", "", "comma-separated legend names, one per LOG-DIR (default: each directory's name, or its parent's when it is called log)")
	dirs, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fmt.Errorf("no log directory given (usage: resgo plot [flags] LOG-DIR...)")
	}
	if metric != "error" && metric != "loss" {
		return fmt.Errorf("--metric %q: want error or loss", metric)
	}
	if smooth < 0 {
		return fmt.Errorf("--smooth %d: want 0 (none) or more points", smooth)
	}
	paths := strings.Split(out, ",")
	for _, p := range paths {
		if !charts.KnownFormat(p) {
			return fmt.Errorf("--out %q: unknown image format (want %s)", p, strings.Join(charts.Formats(), ", "))
		}
	}
	var legend []string
	if names != "" {
		if legend = strings.Split(names, ","); len(legend) != len(dirs) {
			return fmt.Errorf("--names: %d names for %d log directories", len(legend), len(dirs))
		}
	}
	var runs []charts.Run
	for i, d := range dirs {
		name := runName(d)
		if legend != nil {
			name = legend[i]
		}
		var run charts.Run
		if metric == "loss" {
			s, err := tblog.ReadScalars(d)
			if err != nil {
				return err
			}
			run.Name = name
			for _, p := range s["loss"] {
				run.Train = append(run.Train, charts.Point{X: float64(p.Step), Y: p.Value})
			}
			run.Train = trailingMean(run.Train, smooth)
		} else if run, err = curves(name, d); err != nil {
			return err
		}
		if len(run.Train)+len(run.Validate) == 0 {
			return fmt.Errorf("%s: no %s curves in this log (train with --eval-every for validation error)", d, metric)
		}
		runs = append(runs, run)
	}
	o := charts.Options{Title: title, XLabel: "iterations"}
	if metric == "loss" {
		o.YLabel, o.Floor = "training loss", 1e-4
	}
	if err := charts.ErrorCurves(runs, o, paths...); err != nil {
		return err
	}
	logf("wrote %s", strings.Join(paths, ", "))
	return nil
}

// trailingMean replaces each point's Y by the mean of it and the n-1
// points before it (fewer at the start); n <= 1 leaves points as they are.
func trailingMean(points []charts.Point, n int) []charts.Point {
	if n <= 1 {
		return points
	}
	out := make([]charts.Point, len(points))
	var sum float64
	for i, p := range points {
		sum += p.Y
		if i >= n {
			sum -= points[i-n].Y
		}
		out[i] = charts.Point{X: p.X, Y: sum / float64(min(i+1, n))}
	}
	return out
}

// runName names a log directory's curves: its own name, or its parent's
// when it is a run's "log" folder (compare/resnet18/log). The default
// --log-dir, log, plotted from where it was written, gets no name: its
// curves are just "training" and "validation".
func runName(dir string) string {
	clean := filepath.Clean(dir)
	name := filepath.Base(clean)
	if name != "log" {
		return name
	}
	if parent := filepath.Dir(clean); parent != "." && parent != "/" {
		return filepath.Base(parent)
	}
	return ""
}
