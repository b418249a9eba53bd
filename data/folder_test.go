package data

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// writeImage writes a w x h PNG filled with c, with a brighter square.
func writeImage(t *testing.T, path string, w, h int, c color.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			px := c
			if x > w/4 && x < w/2 && y > h/4 && y < h/2 {
				px = color.RGBA{255, 255, 255, 255}
			}
			img.Set(x, y, px)
		}
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestLoadFolder(t *testing.T) {
	dir := t.TempDir()
	colors := map[string]color.RGBA{"cat": {200, 30, 30, 255}, "dog": {30, 200, 30, 255}, "emu": {30, 30, 200, 255}}
	for class, c := range colors {
		for i := range 10 {
			writeImage(t, filepath.Join(dir, "train", class, fmt.Sprintf("%02d.png", i)), 12, 10, c)
		}
		writeImage(t, filepath.Join(dir, "test", class, "a.png"), 24, 20, c) // another size: scaled
	}
	os.WriteFile(filepath.Join(dir, "train", "cat", "notes.txt"), []byte("ignored"), 0o644)
	f, err := LoadFolder(dir, FolderOptions{Seed: 3, ValidationFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Classes, ",") != "cat,dog,emu" || f.Prep.Channels != 3 || f.Prep.Height != 10 || f.Prep.Width != 12 {
		t.Fatalf("classes %v, prep %+v", f.Classes, f.Prep)
	}
	if f.Train.N != 27 || f.Validation.N != 3 || f.Test.N != 3 || f.Train.Pixels() != 3*10*12 {
		t.Fatalf("train %d, validation %d, test %d", f.Train.N, f.Validation.N, f.Test.N)
	}
	// Normalised with the training set's statistics: mean 0, std 1.
	for c := range 3 {
		var sum, sq float64
		per := 120
		for i := range f.Train.N {
			for _, v := range f.Train.Image(i)[c*per : (c+1)*per] {
				sum, sq = sum+float64(v), sq+float64(v)*float64(v)
			}
		}
		n := float64(f.Train.N * per)
		if m, v := sum/n, sq/n-(sum/n)*(sum/n); math.Abs(m) > 1e-4 || math.Abs(v-1) > 1e-3 {
			t.Errorf("channel %d: mean %v, variance %v", c, m, v)
		}
	}
	// The same seed holds out the same images.
	g, _ := LoadFolder(dir, FolderOptions{Seed: 3, ValidationFraction: 0.1})
	for i := range f.Validation.Labels {
		if f.Validation.Labels[i] != g.Validation.Labels[i] {
			t.Fatal("the validation split is not reproducible")
		}
	}
	if err := f.Prep.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := ParsePreprocessing(f.Prep.String())
	if err != nil || p.Mean[2] != f.Prep.Mean[2] {
		t.Fatalf("round trip: %+v %v", p, err)
	}

	// A damaged image is named, or skipped and counted when asked.
	bad := filepath.Join(dir, "train", "dog", "zz.png")
	os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\ncut"), 0o644)
	if _, err := LoadFolder(dir, FolderOptions{}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("damaged image: %v", err)
	}
	f, err = LoadFolder(dir, FolderOptions{SkipBad: true, Channels: 1, Height: 8, Width: 8})
	// (No validation fraction: nothing held out.)
	if err != nil || len(f.Skipped) != 1 || f.Train.N != 30 || f.Validation != nil || f.Prep.Channels != 1 || f.Train.Rows != 8 {
		t.Fatalf("skipping: %v, %+v", err, f)
	}
}

func TestLoadFolderErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadFolder(filepath.Join(dir, "missing"), FolderOptions{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing: %v", err)
	}
	writeImage(t, filepath.Join(dir, "only", "a.png"), 4, 4, color.RGBA{1, 2, 3, 255})
	writeImage(t, filepath.Join(dir, "test", "a.png"), 4, 4, color.RGBA{1, 2, 3, 255})
	if _, err := LoadFolder(dir, FolderOptions{}); err == nil || !strings.Contains(err.Error(), "no train/ folder") {
		t.Errorf("test/ beside classes: %v", err)
	}
	os.RemoveAll(filepath.Join(dir, "test"))
	if _, err := LoadFolder(dir, FolderOptions{}); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("one class: %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	if _, err := LoadFolder(dir, FolderOptions{}); err == nil || !strings.Contains(err.Error(), "no image files") {
		t.Errorf("empty class: %v", err)
	}
	writeImage(t, filepath.Join(dir, "empty", "b.png"), 4, 4, color.RGBA{9, 9, 9, 255})
	writeImage(t, filepath.Join(dir, "only", "c.png"), 4, 4, color.RGBA{1, 2, 3, 255})
	writeImage(t, filepath.Join(dir, "empty", "d.png"), 4, 4, color.RGBA{9, 9, 9, 255})
	if _, err := LoadFolder(dir, FolderOptions{ValidationFraction: 1.5}); err == nil || !strings.Contains(err.Error(), "fraction") {
		t.Errorf("fraction: %v", err)
	}
	if _, err := LoadFolder(dir, FolderOptions{}); err != nil {
		t.Errorf("a folder without train/: %v", err)
	}
}

// A TIFF that names an offset of 4 GB in a few bytes is an error, without
// the 4 GB buffer image.Decode's route into the tiff package would make.
func TestDecodeTIFFFarOffset(t *testing.T) {
	data := append([]byte("II*\x00\x02\x00\x00\xff"), make([]byte, 700)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DecodeImage(data, "far.tif")
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "far.tif") {
		t.Fatalf("got %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("allocated %d MiB", grew>>20)
	}
}

// TestStreamedFolderMatchesMemory: a streamed folder reads each image as
// the in-memory one holds it, with the same statistics; its batcher draws
// the same batches (augmented too, across epochs, after a seek), reading
// ahead; a file gone since it was checked is an error naming it.
func TestStreamedFolderMatchesMemory(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 23 {
		img := image.NewNRGBA(image.Rect(0, 0, 9+i%3, 8))
		for j := range img.Pix {
			img.Pix[j] = uint8(r.IntN(256))
		}
		path := filepath.Join(dir, []string{"a", "b", "c"}[i%3], fmt.Sprintf("%02d.png", i))
		os.MkdirAll(filepath.Dir(path), 0o755)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, img)
		f.Close()
	}
	o := FolderOptions{Seed: 5, ValidationFraction: 0.2, Height: 6, Width: 7, Channels: 3}
	mem, err := LoadFolder(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Stream = true
	str, err := LoadFolder(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if mem.Streamed || !str.Streamed || !str.Train.Streamed() || !str.Validation.Streamed() || mem.Train.Streamed() {
		t.Fatal("streamed, or not, as asked")
	}
	if !slices.Equal(mem.Prep.Mean, str.Prep.Mean) || !slices.Equal(mem.Prep.Std, str.Prep.Std) {
		t.Fatalf("statistics: %+v in memory, %+v streamed", mem.Prep, str.Prep)
	}
	px := mem.Train.Pixels()
	got := make([]float32, px)
	for _, pair := range [][2]*Set{{mem.Train, str.Train}, {mem.Validation, str.Validation}} {
		m, s := pair[0], pair[1]
		if m.N != s.N || !slices.Equal(m.Labels, s.Labels) {
			t.Fatalf("%d/%d examples, labels %v / %v", m.N, s.N, m.Labels, s.Labels)
		}
		for i := range m.N {
			if err := s.ReadImage(i, got); err != nil || !slices.Equal(got, m.Image(i)) {
				t.Fatalf("image %d differs streamed (%v)", i, err)
			}
		}
	}
	// Batches of 4 from 18 training images: epochs end mid-batch.
	a, b := NewBatcher(mem.Train, 4, 9), NewBatcher(str.Train, 4, 9)
	a.Augment, b.Augment = Augment{Pad: 2, Flip: true}, Augment{Pad: 2, Flip: true}
	imgA, imgB := make([]float32, 4*px), make([]float32, 4*px)
	labA, labB := make([]int32, 4), make([]int32, 4)
	check := func(step int) {
		t.Helper()
		if err := a.Next(imgA, labA); err != nil {
			t.Fatal(err)
		}
		if err := b.Next(imgB, labB); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(imgA, imgB) || !slices.Equal(labA, labB) {
			t.Fatalf("batch %d differs streamed", step)
		}
	}
	for step := range 12 {
		check(step)
	}
	a.SeekBatch(3)
	b.SeekBatch(3)
	check(3)
	check(4)
	a.SeekBatch(40)
	b.SeekBatch(40)
	check(40)
	// A file removed after the folder was read: the next batch that
	// needs it (within two epochs) fails and names it.
	gone := str.Train.files[0]
	os.Remove(gone)
	for range 10 {
		if err := b.Next(imgB, labB); err != nil {
			if !strings.Contains(err.Error(), gone) {
				t.Fatalf("error does not name %s: %v", gone, err)
			}
			return
		}
	}
	t.Fatal("a missing file was never noticed")
}
