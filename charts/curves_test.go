package charts

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestErrorCurvesWritesPNGAndSVG(t *testing.T) {
	dir := t.TempDir()
	runs := []Run{
		{Name: "plain18", Train: []Point{{0.1, 0.2}, {0.5, 0.05}, {1, 0}}, Validate: []Point{{0.5, 0.04}, {1, 0.03}}},
		{Name: "resnet18", Train: []Point{{0.1, 0.15}, {0.5, 0.02}, {1, 0.01}}, Validate: []Point{{0.5, 0.02}, {1, 0.01}}},
	}
	pngPath, svgPath := filepath.Join(dir, "c.png"), filepath.Join(dir, "c.svg")
	if err := ErrorCurves(runs, Options{Title: "MNIST", XLabel: "epoch"}, pngPath, svgPath); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if w := img.Bounds().Dx(); w < 500 {
		t.Fatalf("PNG is %d pixels wide", w)
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "resnet18 validation", "plain18 training", "error (%)"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := ErrorCurves(nil, Options{}, filepath.Join(dir, "empty.png")); err == nil {
		t.Error("an empty chart was drawn without error")
	}
}
