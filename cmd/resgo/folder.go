package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/train"
)

// folderFlags choose an image-folder data set (train's --data).
type folderFlags struct {
	dir      string
	size     string
	channels int
	skipBad  bool
	valFrac  float64
	augment  string
	stream   bool
	// mean and std normalise instead of the training set's statistics
	// (those the weights of --init-from were trained with);
	// resizeShorter crops as an imported model's preprocessing does.
	mean, std     []float32
	resizeShorter int
	// valFracSet: --validation-fraction was given (eval then overrides
	// the one the checkpoint stores).
	valFracSet bool
}

// validationFractionKey is the checkpoint metadata key of the fraction of
// an image folder's training images held out for validation.
const validationFractionKey = "validation_fraction"

func (f *folderFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dir, "data", "", "train on an image folder instead of MNIST: DIR/train/<class>/ images, optional DIR/val/ and DIR/test/")
	fs.StringVar(&f.size, "image-size", "", "with --data: scale every image to HxW (default: the first training image's size)")
	fs.IntVar(&f.channels, "channels", 0, "with --data: 1 (gray) or 3 (RGB); 0: gray if the first images are, else RGB")
	fs.BoolVar(&f.skipBad, "skip-bad-images", false, "with --data: skip and count images that cannot be read, instead of stopping at the first")
	finiteFloatVar(fs, &f.valFrac, "validation-fraction", 0.1, "with --data and no DIR/val: the `fraction` of training images held out (a seeded choice)")
	fs.BoolVar(&f.stream, "stream", false, "with --data: read the images from their files as each batch needs them (decoded ahead on other goroutines) instead of holding them in memory; automatic when they would take more than half the memory available")
	fs.StringVar(&f.augment, "augment", "", "random changes to training images: crop=N (shift by up to N pixels, padding with the mean), flip (mirror half of them), or both: crop=4,flip (default none, right for digits)")
}

// parseAugment reads --augment.
func parseAugment(s string) (data.Augment, error) {
	var a data.Augment
	for _, part := range strings.Split(s, ",") {
		switch k, v, _ := strings.Cut(strings.TrimSpace(part), "="); k {
		case "", "none":
		case "flip":
			a.Flip = true
		case "crop":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return a, fmt.Errorf("--augment %q: crop=N wants a positive number of pixels", s)
			}
			a.Pad = n
		default:
			return a, fmt.Errorf("--augment %q: unknown %q (want crop=N, flip or both)", s, part)
		}
	}
	return a, nil
}

// registerEval adds what eval needs: the folder, and how it was split
// (the rest of the preprocessing comes from the checkpoint).
func (f *folderFlags) registerEval(fs *flag.FlagSet) {
	fs.StringVar(&f.dir, "data", "", "evaluate on the image folder the checkpoint was trained on (its val/ or held-out part, and test/) instead of MNIST")
	fs.BoolVar(&f.skipBad, "skip-bad-images", false, "with --data: skip and count images that cannot be read")
	fs.BoolVar(&f.stream, "stream", false, "with --data: read the images from their files batch by batch instead of holding them in memory (automatic when they would not fit)")
	finiteFloatVar(fs, &f.valFrac, "validation-fraction", 0.1, "with --data and no DIR/val: the `fraction` held out in training (default: the one the checkpoint stores)")
}

// forCheckpoint reads the folder as the checkpoint's training read it:
// its preprocessing, class names and seeded validation split; its
// training part is left out.
func (f *folderFlags) forCheckpoint(ctx context.Context, ck *checkpoint.Checkpoint) (*data.MNIST, error) {
	folder, err := f.folderFor(ctx, ck)
	if err != nil {
		return nil, err
	}
	return &data.MNIST{Validation: folder.Validation, Test: folder.Test}, nil
}

// folderFor is forCheckpoint with the training part.
func (f *folderFlags) folderFor(ctx context.Context, ck *checkpoint.Checkpoint) (*data.Folder, error) {
	s, ok := ck.Meta[data.PreprocessingKey]
	if !ok {
		return nil, fmt.Errorf("%s was not trained on an image folder: evaluate it without --data", ck.Path)
	}
	p, err := data.ParsePreprocessing(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Path, err)
	}
	h, err := train.HyperOf(ck)
	if err != nil {
		return nil, err
	}
	if stored, ok := ck.Meta[validationFractionKey]; ok && !f.valFracSet {
		if f.valFrac, err = strconv.ParseFloat(stored, 64); err != nil {
			return nil, fmt.Errorf("%s: validation fraction %q: %v", ck.Path, stored, err)
		}
	}
	f.channels, f.size, f.resizeShorter = p.Channels, fmt.Sprintf("%dx%d", p.Height, p.Width), p.ResizeShorter
	folder, err := f.loadWith(ctx, h.Seed, p.Mean, p.Std)
	if err != nil {
		return nil, err
	}
	labels, _ := json.Marshal(folder.Classes)
	if string(labels) != ck.Meta[data.LabelsKey] {
		return nil, fmt.Errorf("%s has the classes %s; %s was trained on %s", f.dir, labels, ck.Path, ck.Meta[data.LabelsKey])
	}
	return folder, nil
}

// load reads the folder, reporting progress on stderr.
func (f *folderFlags) load(ctx context.Context, seed uint64) (*data.Folder, error) {
	return f.loadWith(ctx, seed, nil, nil)
}

// loadWith reads the folder, normalising with mean and std when given.
func (f *folderFlags) loadWith(ctx context.Context, seed uint64, mean, std []float32) (*data.Folder, error) {
	o := data.FolderOptions{Channels: f.channels, SkipBad: f.skipBad, ValidationFraction: f.valFrac, Seed: seed, Mean: mean, Std: std, Stream: f.stream, ResizeShorter: f.resizeShorter}
	if f.channels != 0 && f.channels != 1 && f.channels != 3 {
		return nil, fmt.Errorf("--channels %d: want 1 (gray), 3 (RGB) or 0 (from the images)", f.channels)
	}
	if f.valFrac < 0 || f.valFrac >= 1 {
		return nil, fmt.Errorf("--validation-fraction %g: want a number in [0, 1)", f.valFrac)
	}
	if f.size != "" {
		h, w, ok := strings.Cut(f.size, "x")
		var err1, err2 error
		o.Height, err1 = strconv.Atoi(h)
		o.Width, err2 = strconv.Atoi(w)
		if !ok || err1 != nil || err2 != nil || o.Height < 1 || o.Width < 1 || o.Height > 4096 || o.Width > 4096 {
			return nil, fmt.Errorf("--image-size %q: want HxW, e.g. 32x32", f.size)
		}
	}
	var bar *progress
	var mu sync.Mutex // Progress is called from every decoding goroutine
	o.Progress = func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if bar == nil {
			bar = newProgress("reading "+f.dir, 0, int64(total), 1)
			bar.noun = "image"
		}
		bar.update(int64(done), "")
	}
	logf("reading images from %s", f.dir)
	folder, err := data.LoadFolder(f.dir, o)
	if ctx.Err() != nil {
		logf("interrupted while reading %s", f.dir)
		return nil, errInterrupted
	}
	if err != nil {
		return nil, err
	}
	if n := len(folder.Skipped); n > 0 {
		logf("skipped %d unreadable image(s); the first: %v", n, folder.Skipped[0])
	}
	test := 0
	if folder.Test != nil {
		test = folder.Test.N
	}
	logf("%s: %d classes (%s), %d training, %d validation and %d test images, %dx%dx%d", f.dir, len(folder.Classes),
		strings.Join(folder.Classes[:min(5, len(folder.Classes))], ", ")+map[bool]string{true: ", ...", false: ""}[len(folder.Classes) > 5],
		folder.Train.N, folder.Validation.N, test, folder.Prep.Channels, folder.Prep.Height, folder.Prep.Width)
	if folder.Streamed {
		why := "--stream"
		if !f.stream {
			why = "they would take " + model.FormatBytes(folder.Bytes) + " decoded, more than half the memory available"
		}
		logf("reading the images from their files batch by batch, a few batches ahead, instead of holding them in memory (%s)", why)
	}
	return folder, nil
}
