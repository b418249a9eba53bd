package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/interop"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/train"
)

// ImageNet's per-channel mean and standard deviation, with which
// torchvision's models were trained.
var (
	imageNetMean = []float32{0.485, 0.456, 0.406}
	imageNetStd  = []float32{0.229, 0.224, 0.225}
)

func runImport(args []string) error {
	fs := newFlagSet("import", "Reads a PyTorch state_dict (torch.save's zip or legacy format, or safetensors) with\n"+
		"torchvision's names and writes it as a resgo checkpoint (step 0) in -o DIR, for predict, serve,\n"+
		"eval, export, or training on from it. The width, classes and input channels come from the\n"+
		"weights; every tensor must find its place.\n\n"+
		"  resgo import resnet50.pth --arch resnet50 -o rn50 --labels imagenet-classes.txt")
	var (
		arch, input, stride, stem, shortcut string
		out, name, labelsFile               string
	)
	fs.StringVar(&arch, "arch", "", "the architecture the weights are for: resnet18, resnet34, resnet50, resnet101, resnet152 (required)")
	fs.StringVar(&input, "input", "3x224x224", "the input shape CxHxW images are scaled to")
	fs.StringVar(&stride, "bottleneck-stride", model.BottleneckStride3x3, "resnet50/101/152: the convolution of a bottleneck that strides: 3x3 (torchvision's, \"v1.5\") or 1x1 (the paper's)")
	fs.StringVar(&stem, "stem", "", "the stem: imagenet (7x7/2 conv + max-pool) or small (3x3 conv); default: the one conv1's weights are for")
	fs.StringVar(&shortcut, "shortcut", "", "the shortcut option: B (torchvision's, default), A or C")
	fs.StringVar(&out, "o", "", "the checkpoint directory to write (required; must hold no checkpoint of that name yet)")
	fs.StringVar(&name, "checkpoint-name", "", "checkpoint file name prefix (default: the architecture)")
	fs.StringVar(&labelsFile, "labels", "", "a text file of class names, one per line, in the model's order (default: numbers)")
	files, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return fmt.Errorf("want one weights file, got %d (see %s import --help)", len(files), progName())
	}
	if arch == "" || out == "" {
		return fmt.Errorf("--arch and -o are required (%s import --help)", progName())
	}
	if name == "" {
		name = arch
	}
	mf := modelFlags{input: input, config: model.Config{Arch: arch, Stem: stem, Shortcut: shortcut, BottleneckStride: stride}}
	strideSet := false
	fs.Visit(func(f *flag.Flag) { strideSet = strideSet || f.Name == "bottleneck-stride" })
	if !model.HasBottlenecks(arch) && !strideSet {
		mf.config.BottleneckStride = "" // the default is for bottleneck nets only
	}
	src := files[0]
	sd, err := interop.ReadStateDict(src)
	if err != nil {
		return err
	}
	stemWeights, fc := sd.Tensors["conv1.weight"], sd.Tensors["fc.weight"]
	if len(stemWeights.Shape) != 4 || len(fc.Shape) != 2 {
		return fmt.Errorf("%s: no conv1.weight [out, in, kh, kw] or fc.weight [classes, features]: not a torchvision ResNet's state_dict", src)
	}
	mf.config.BaseDepth, mf.config.Classes = stemWeights.Shape[0], fc.Shape[0]
	if stem == "" {
		// The stem the weights were made for, whatever the input size.
		switch stemWeights.Shape[2] {
		case 7:
			mf.config.Stem = model.StemImageNet
		case 3:
			mf.config.Stem = model.StemSmall
		}
	}
	mc, err := mf.resolve()
	if err != nil {
		return err
	}
	if mc.Input[0] != stemWeights.Shape[1] {
		return fmt.Errorf("--input %s: the weights take %d input channels", input, stemWeights.Shape[1])
	}
	meta := map[string]string{"imported_from": filepath.Base(src)}
	if labelsFile != "" {
		labels, err := readLabels(labelsFile, mc.Classes)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(labels)
		meta[data.LabelsKey] = string(b)
	}
	if mc.Input[0] == 3 {
		// ImageNet's evaluation recipe: the shorter side to 256, the
		// centre 224x224 (scaled alike for other input sizes).
		shorter := int(math.Round(float64(max(mc.Input[1], mc.Input[2])) * 256 / 224))
		p := data.Preprocessing{Channels: 3, Height: mc.Input[1], Width: mc.Input[2], Mean: imageNetMean, Std: imageNetStd, ResizeShorter: shorter}
		meta[data.PreprocessingKey] = p.String()
	}
	be := native.New(1)
	m, err := model.Build(be, mc)
	if err != nil {
		return err
	}
	if err := interop.LoadStateDict(be, m, sd); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	store := &checkpoint.Store{Dir: out, Prefix: name}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	lock, err := store.Lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	// Under the lock: one writer decides what the directory holds.
	if _, found, err := store.Latest(); err != nil {
		return err
	} else if found {
		return fmt.Errorf("-o %s already holds %s checkpoints: import into a new directory (or choose --checkpoint-name)", out, name)
	}
	// A step-0 checkpoint whose moving averages are the weights
	// themselves: what eval, predict and serve load by default.
	tensors, ckMeta := train.NewTrainer(be, m, train.DefaultHyper(), 1).Snapshot()
	for k, v := range meta {
		ckMeta[k] = v
	}
	path, err := store.Save(0, tensors, ckMeta)
	if err != nil {
		return err
	}
	desc := mc.Arch
	if mc.BottleneckStride != "" {
		desc += ", bottleneck stride " + mc.BottleneckStride
	}
	logf("wrote %s: %s, base depth %d, %d classes, input %dx%dx%d (%d tensors; skipped %d counters: %s)", path, desc, mc.BaseDepth,
		mc.Classes, mc.Input[0], mc.Input[1], mc.Input[2], len(sd.Tensors), len(sd.Skipped), summarize(sd.Skipped, 2))
	return nil
}

// readLabels reads one class name per non-empty line; there must be one
// per class.
func readLabels(path string, classes int) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var labels []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			labels = append(labels, line)
		}
	}
	if len(labels) != classes {
		return nil, fmt.Errorf("%s: %d class names for %d classes", path, len(labels), classes)
	}
	return labels, nil
}

// summarize lists the first n names and how many more there are.
func summarize(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
