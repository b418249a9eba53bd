package data

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/resgo/resgo/internal/sysinfo"
)

// FolderOptions configure LoadFolder. Zero values take the defaults.
type FolderOptions struct {
	// Channels is 1 (gray) or 3 (RGB); 0 looks at the first training
	// images: gray if they all are, else RGB.
	Channels int
	// Height and Width are what every image is scaled to; 0 takes the
	// first training image's size.
	Height, Width int
	// Mean and Std normalise each channel; nil computes them on the
	// training set.
	Mean, Std []float32
	// ResizeShorter, when set, scales each image in proportion and crops
	// its centre (see Preprocessing.ResizeShorter) instead of scaling the
	// whole image to Height x Width.
	ResizeShorter int
	// ValidationFraction of the training images is held out (a seeded
	// choice) when the folder has no val/; 0 holds none out.
	ValidationFraction float64
	// Seed chooses that held-out part.
	Seed uint64
	// SkipBad skips (and counts) images that cannot be read, instead of
	// failing with the first.
	SkipBad bool
	// Progress, when set, is told how many images have been read of how
	// many; it is called from several goroutines at once.
	Progress func(done, total int)
	// Stream reads the images from their files as they are used instead
	// of holding them in memory; a folder whose decoded images would take
	// more than half the available memory is streamed anyway.
	Stream bool
}

// Folder is an image-folder data set, decoded and prepared in memory or
// streamed from its files.
type Folder struct {
	Train, Validation, Test *Set // Test is nil without a test/ folder
	// Classes are the class names, in label order (sorted).
	Classes []string
	Prep    Preprocessing
	// Skipped lists the images that could not be read (with SkipBad).
	Skipped []error
	// HeldOut: Validation was held out of train/ (there is no val/).
	HeldOut bool
	// Streamed: the sets are read from their files as they are used (see
	// FolderOptions.Stream); Bytes is what they would take in memory.
	Streamed bool
	Bytes    float64
}

// maxFolderSide bounds a default size taken from an image: larger images
// need an explicit size.
const maxFolderSide = 512

type labelled struct {
	path  string
	label int32
}

// LoadFolder reads an image-folder data set: DIR/train/<class>/<images>
// (or DIR/<class>/<images> when there is no train/), with optional
// DIR/val/<class>/... and DIR/test/<class>/... of the same classes. Class
// names are the folder names, sorted. Images of any supported format (see
// ImageFiles) are decoded on every core, scaled and normalised (see
// Preprocessing). Every error names the file or folder.
func LoadFolder(dir string, o FolderOptions) (*Folder, error) {
	trainDir := filepath.Join(dir, "train")
	if fi, err := os.Stat(trainDir); err != nil || !fi.IsDir() {
		trainDir = dir
	}
	classes, err := classDirs(trainDir)
	if err != nil {
		return nil, err
	}
	index := map[string]int32{}
	for i, c := range classes {
		index[c] = int32(i)
	}
	trainFiles, err := listClasses(trainDir, classes, index)
	if err != nil {
		return nil, err
	}
	var valFiles, testFiles []labelled
	heldOut := false
	for _, part := range []struct {
		name string
		dst  *[]labelled
	}{{"val", &valFiles}, {"test", &testFiles}} {
		d := filepath.Join(dir, part.name)
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || trainDir == dir {
			continue
		}
		sub, err := classDirs(d)
		if err != nil {
			return nil, err
		}
		if *part.dst, err = listClasses(d, sub, index); err != nil {
			return nil, err
		}
	}
	if valFiles == nil {
		frac := o.ValidationFraction
		if frac < 0 || frac >= 1 || math.IsNaN(frac) {
			return nil, fmt.Errorf("data: validation fraction %v: want a number in [0, 1)", frac)
		}
		trainFiles, valFiles = split(trainFiles, frac, o.Seed)
		heldOut = true
	}
	// Class by class on disk; in a seeded order in memory, so that the
	// first N images (train's --train-limit) are a sample of every class.
	shuffle(trainFiles, o.Seed^0x0dd5)
	f := &Folder{Classes: classes, HeldOut: heldOut}
	if f.Prep, err = o.shape(trainFiles); err != nil {
		return nil, err
	}
	total := len(trainFiles) + len(valFiles) + len(testFiles)
	f.Bytes = float64(total) * float64(f.Prep.Channels*f.Prep.Height*f.Prep.Width) * 4
	f.Streamed = o.Stream
	if avail, ok := sysinfo.AvailableMemory(); ok && f.Bytes > 0.5*float64(avail) {
		f.Streamed = true // it would not fit: read the files as they are used
	}
	var done atomic.Int64
	progress := func() {
		if o.Progress != nil {
			o.Progress(int(done.Add(1)), total)
		}
	}
	var trainSums []imageSums
	for _, part := range []struct {
		files []labelled
		dst   **Set
	}{{trainFiles, &f.Train}, {valFiles, &f.Validation}, {testFiles, &f.Test}} {
		if len(part.files) == 0 {
			continue
		}
		// Streamed, every image is still read once now: to find the
		// unreadable ones before training, and for the mean.
		set, sums, skipped, err := decodeSet(part.files, f.Prep, o.SkipBad, f.Streamed, progress)
		if err != nil {
			return nil, err
		}
		if part.dst == &f.Train {
			trainSums = sums
		}
		f.Skipped = append(f.Skipped, skipped...)
		*part.dst = set
	}
	if f.Train == nil || f.Train.N == 0 {
		return nil, fmt.Errorf("data: %s: no readable training images", trainDir)
	}
	if o.Mean == nil {
		f.Prep.Mean, f.Prep.Std = meanStd(trainSums, f.Prep.Channels, f.Prep.Height*f.Prep.Width)
	}
	if err := f.Prep.Validate(); err != nil {
		return nil, fmt.Errorf("data: %s: %w", dir, err)
	}
	for _, s := range []*Set{f.Train, f.Validation, f.Test} {
		switch {
		case s == nil:
		case s.Streamed():
			s.prep = f.Prep // normalised as each image is read
		default:
			for i := range s.N {
				f.Prep.Normalize(s.Image(i))
			}
		}
	}
	return f, nil
}

// classDirs lists the class folders of dir, sorted.
func classDirs(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	var classes []string
	for _, de := range des {
		if de.IsDir() && de.Name()[0] != '.' {
			if n := de.Name(); n == "val" || n == "test" || n == "train" {
				return nil, fmt.Errorf("data: %s holds a %s/ folder but no train/ folder: put the training classes in %s",
					dir, n, filepath.Join(dir, "train"))
			}
			classes = append(classes, de.Name())
		}
	}
	if len(classes) < 2 {
		return nil, fmt.Errorf("data: %s: want a folder per class (at least 2), found %d", dir, len(classes))
	}
	sort.Strings(classes)
	return classes, nil
}

// listClasses lists the images of each class folder of dir.
func listClasses(dir string, classes []string, index map[string]int32) ([]labelled, error) {
	var out []labelled
	for _, c := range classes {
		label, ok := index[c]
		if !ok {
			return nil, fmt.Errorf("data: %s: class %q is not one of the training classes", filepath.Join(dir, c), c)
		}
		files, err := ImageFiles([]string{filepath.Join(dir, c)})
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		for _, p := range files {
			out = append(out, labelled{p, label})
		}
	}
	return out, nil
}

// split holds out a seeded fraction of files (at least one when the
// fraction is not 0).
func split(files []labelled, frac float64, seed uint64) (train, val []labelled) {
	n := int(math.Round(frac * float64(len(files))))
	if frac > 0 {
		n = max(1, min(n, len(files)-1))
	}
	idx := make([]int, len(files))
	for i := range idx {
		idx[i] = i
	}
	permute(len(idx), seed^0x5a11d, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	held := map[int]bool{}
	for _, i := range idx[:n] {
		held[i] = true
	}
	for i, f := range files {
		if held[i] {
			val = append(val, f)
		} else {
			train = append(train, f)
		}
	}
	return train, val
}

// shuffle puts files in a seeded order.
func shuffle(files []labelled, seed uint64) {
	permute(len(files), seed, func(i, j int) { files[i], files[j] = files[j], files[i] })
}

// permute is a seeded Fisher-Yates shuffle of n things, by swap. It is
// the batcher's own (see Batcher.shuffle) rather than math/rand's, whose
// algorithm Go does not promise to keep: the split of a data set must not
// change under a resumed run after a toolchain upgrade.
func permute(n int, seed uint64, swap func(i, j int)) {
	src := rand.NewPCG(seed, splitmix64(uint64(n)))
	for i := n - 1; i > 0; i-- {
		swap(i, int(uniform(src, uint64(i+1))))
	}
}

// shape settles the channels and size: given, or from the first images.
func (o FolderOptions) shape(train []labelled) (Preprocessing, error) {
	p := Preprocessing{Channels: o.Channels, Height: o.Height, Width: o.Width, Mean: o.Mean, Std: o.Std, ResizeShorter: o.ResizeShorter}
	if p.Channels != 0 && p.Height != 0 {
		return p, nil
	}
	gray := true
	for _, f := range train[:min(len(train), 32)] {
		img, err := DecodeImageFile(f.path)
		if err != nil {
			continue // reported when the set is read
		}
		if p.Height == 0 {
			p.Height, p.Width = img.Bounds().Dy(), img.Bounds().Dx()
		}
		gray = gray && isGray(img)
	}
	if p.Channels == 0 {
		p.Channels = 3
		if gray {
			p.Channels = 1
		}
	}
	if p.Height == 0 {
		return p, fmt.Errorf("data: %s: none of the first training images can be read", train[0].path)
	}
	if p.Height > maxFolderSide || p.Width > maxFolderSide {
		return p, fmt.Errorf("data: the training images (%s, ...) are %dx%d: choose the size to train at (at most %d a side by default)",
			train[0].path, p.Width, p.Height, maxFolderSide)
	}
	return p, nil
}

// isGray reports whether every pixel of img has equal red, green and blue.
func isGray(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r != g || g != bl {
				return false
			}
		}
	}
	return true
}

// readScaled decodes one image file and scales it (values in [0, 1], not
// yet normalised); an error names the file.
func readScaled(path string, p Preprocessing) ([]float32, error) {
	img, err := DecodeImageFile(path)
	if err != nil {
		return nil, err
	}
	x, err := p.scale(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// parallelEach calls f(0..n-1) on every core and returns the error of the
// lowest index that failed.
func parallelEach(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(n, runtime.NumCPU()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				errs[i] = f(i)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// decodeSet decodes and scales files on every core into a Set (values
// in [0, 1], not yet normalised), with each kept image's per-channel sums
// of values and of squares (for the mean and standard deviation). A
// streamed set keeps only the files' names: they are read again as they
// are used.
func decodeSet(files []labelled, p Preprocessing, skipBad, stream bool, progress func()) (*Set, []imageSums, []error, error) {
	per := p.Channels * p.Height * p.Width
	var images []float32
	if !stream {
		images = make([]float32, len(files)*per)
	}
	sums := make([]imageSums, len(files))
	errs := make([]error, len(files))
	parallelEach(len(files), func(i int) error {
		x, err := readScaled(files[i].path, p)
		if err == nil {
			sums[i] = sumsOf(x, p.Channels)
			if !stream {
				copy(images[i*per:], x)
			}
		}
		errs[i] = err
		progress()
		return nil
	})
	set := &Set{Images: images, Channels: p.Channels, Rows: p.Height, Cols: p.Width}
	var skipped []error
	kept := 0
	for i, err := range errs {
		if err != nil {
			if !skipBad {
				return nil, nil, nil, fmt.Errorf("data: %w (or skip unreadable images)", err)
			}
			skipped = append(skipped, err)
			continue
		}
		// Compact in place: kept <= i.
		if stream {
			set.files = append(set.files, files[i].path)
		} else {
			copy(images[kept*per:(kept+1)*per], images[i*per:(i+1)*per])
		}
		sums[kept] = sums[i]
		set.Labels = append(set.Labels, files[i].label)
		kept++
	}
	set.N, sums = kept, sums[:kept]
	if !stream {
		set.Images = images[: kept*per : kept*per]
	}
	return set, sums, skipped, nil
}

// imageSums are one image's per-channel sums of values and of squares.
type imageSums struct{ sum, sq [3]float64 }

func sumsOf(x []float32, channels int) imageSums {
	var s imageSums
	per := len(x) / channels
	for c := range channels {
		for _, v := range x[c*per : (c+1)*per] {
			s.sum[c] += float64(v)
			s.sq[c] += float64(v) * float64(v)
		}
	}
	return s
}

// meanStd is each channel's mean and standard deviation over a set of
// images of pixels values a channel, from their sums (added in the
// images' order, so that a streamed and an in-memory set agree to the
// bit).
func meanStd(sums []imageSums, channels, pixels int) (mean, std []float32) {
	for c := range channels {
		var sum, sq float64
		for _, s := range sums {
			sum += s.sum[c]
			sq += s.sq[c]
		}
		n := float64(len(sums) * pixels)
		m := sum / n
		sd := math.Sqrt(math.Max(0, sq/n-m*m))
		if sd < 1e-6 {
			sd = 1 // a constant channel: nothing to scale
		}
		mean, std = append(mean, float32(m)), append(std, float32(sd))
	}
	return mean, std
}
