// Command resgo trains, evaluates and describes residual networks. Its
// defaults reproduce the TensorFlow tutorial "train a ResNet-34 on MNIST".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/backend/reference"
	"github.com/resgo/resgo/data"
	"github.com/resgo/resgo/model"
)

type command struct {
	name, summary string
	run           func(args []string) error
}

var commands = []command{
	{"train", "train a model (default: the tutorial's ResNet-34 on MNIST)", runTrain},
	{"eval", "evaluate a checkpoint on the validation and test sets", runEval},
	{"predict", "classify image files with a trained checkpoint (top classes and probabilities)", runPredict},
	{"serve", "serve a checkpoint over HTTP (KServe v2 routes, dynamic batching, Prometheus metrics)", runServe},
	{"quantize", "make an int8 copy of a checkpoint, calibrated on training images, for --precision int8", runQuantize},
	{"export", "write a checkpoint's model as ONNX for other runtimes", runExport},
	{"import", "turn a PyTorch state_dict (torchvision's ResNets) into a resgo checkpoint", runImport},
	{"summary", "print a model's layers, output shapes, parameters and multiply-adds", runSummary},
	{"compare", "train several models under one budget and plot their error curves (He et al.'s Figure 4)", runCompare},
	{"plot", "draw the training and validation curves of TensorBoard log directories as PNG/SVG", runPlot},
	{"bench", "measure training and inference speed (images/s, GFLOP/s, fraction of FMA peak, memory)", runBench},
	{"version", "print resgo's version, the Go version and the compute kernels this CPU gets", runVersion},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "resgo: train, evaluate and inspect residual networks in pure Go.\n\nUsage:\n  resgo <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'resgo help <command>' (or 'resgo <command> --help') for a command's flags.\n")
}

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	name := os.Args[1]
	args := os.Args[2:]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(os.Args) < 3 {
			usage(os.Stdout)
			return
		}
		// "resgo help train" is "resgo train --help".
		name, args = os.Args[2], []string{"--help"}
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands {
		if c.name == name {
			err := c.run(args)
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return
			case errors.Is(err, errInterrupted):
				os.Exit(130)
			default:
				fmt.Fprintf(os.Stderr, "resgo %s: %v\n", name, err)
				os.Exit(1)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "resgo: unknown command %q (commands: %s; see resgo --help)\n", name, commandNames())
	os.Exit(2)
}

var errInterrupted = errors.New("interrupted")

func commandNames() string {
	var n []string
	for _, c := range commands {
		n = append(n, c.name)
	}
	return strings.Join(n, ", ")
}

// newFlagSet makes a flag set whose parse errors come back as one line.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// The flag package calls Usage on every parse error; help is printed
	// only when asked for (see parse).
	fs.Usage = func() {}
	synopses[fs] = synopsis
	return fs
}

var synopses = map[*flag.FlagSet]string{}

func printHelp(fs *flag.FlagSet) {
	fmt.Fprintf(os.Stdout, "Usage: resgo %s [flags]\n\n%s\n\nFlags:\n", fs.Name(), synopses[fs])
	fs.SetOutput(os.Stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parse parses args, turning errors into one line that points at --help.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(fs)
		return err
	}
	if err != nil {
		return fmt.Errorf("%v (see resgo %s --help)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see resgo %s --help)", fs.Arg(0), fs.Name())
	}
	return nil
}

// parseWithArgs parses flags and positional arguments, in any order (as
// in "resgo predict a.png --json"), and returns the positional ones; after
// "--" everything is positional.
func parseWithArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printHelp(fs)
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%v (see resgo %s --help)", err, fs.Name())
		}
		rest := fs.Args()
		// Parse stops at the first positional argument, or after "--".
		if len(rest) == 0 || len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
}

// progName is how the user ran resgo, for the commands a hint suggests:
// run.sh sets RESGO_PROG to itself, since its binary is not on PATH.
func progName() string {
	if p := os.Getenv("RESGO_PROG"); p != "" {
		return p
	}
	if p, err := exec.LookPath("resgo"); err == nil {
		if self, err := os.Executable(); err == nil && sameFile(p, self) {
			return "resgo"
		}
	}
	switch arg0 := os.Args[0]; {
	case strings.Contains(arg0, "go-build"):
		return "go run ./cmd/resgo"
	case strings.ContainsRune(arg0, os.PathSeparator):
		return arg0
	}
	return "resgo"
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// logf prints a progress or status line on stderr.
func logf(format string, a ...any) {
	if !logQuiet {
		fmt.Fprintf(os.Stderr, "resgo: "+format+"\n", a...)
	}
}

// logQuiet silences logf: on the ranks of a data-parallel job but the
// first, which speaks for all.
var logQuiet bool

// dataFlags locate MNIST and its validation split.
type dataFlags struct {
	dir        string
	validation int
}

func (d *dataFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.dir, "data-dir", "MNIST_data", "where the MNIST files are (fetched there when missing)")
	fs.IntVar(&d.validation, "validation-size", 5000, "training images held out for validation")
}

// load fetches MNIST when missing, verifies it and splits it. An
// interruption (ctx cancelled) while it works returns errInterrupted once
// the step under way ends.
func (d *dataFlags) load(ctx context.Context) (*data.MNIST, error) {
	if err := data.EnsureMNIST(d.dir, logf); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		logf("interrupted while fetching MNIST")
		return nil, errInterrupted
	}
	logf("loading MNIST from %s", d.dir)
	ds, err := data.LoadMNIST(d.dir, d.validation)
	if ctx.Err() != nil {
		logf("interrupted while loading MNIST")
		return nil, errInterrupted
	}
	return ds, err
}

// loadTraining opens the backend and loads MNIST, keeping the first limit
// training images (0: all), and checks that a batch fits in them.
func loadTraining(ctx context.Context, bf *backendFlags, df *dataFlags, limit, batch int) (backend.Backend, *data.MNIST, error) {
	be, err := bf.open()
	if err != nil {
		return nil, nil, err
	}
	ds, err := df.load(ctx)
	if err != nil {
		return nil, nil, err
	}
	if limit > 0 && limit < ds.Train.N {
		ds.Train = ds.Train.Subset(0, limit)
	}
	if batch > ds.Train.N {
		return nil, nil, fmt.Errorf("--batch-size %d: larger than the %d training images", batch, ds.Train.N)
	}
	return be, ds, nil
}

// checkpointFlags locate a checkpoint directory.
type checkpointFlags struct{ dir, prefix string }

func (c *checkpointFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "checkpoint-dir", "MNIST_model", "checkpoint directory")
	fs.StringVar(&c.prefix, "checkpoint-name", "mnist_model", "checkpoint file name prefix")
}

// backendFlags are shared by every command that computes.
type backendFlags struct {
	name    string
	threads int
	// conv, isa and precision are the native backends' options.
	conv, isa, precision string
	// inference is set by the commands that take --precision int8: those
	// that only infer (eval, predict, serve) and bench (its int8 rows).
	inference bool
}

// int8 reports whether --precision int8 was asked for: the convolutions
// of a checkpoint calibrated by resgo quantize computed on bytes.
func (b *backendFlags) int8() bool { return b.precision == "int8" }

func (b *backendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.name, "backend", defaultBackend, "compute backend: "+strings.Join(backendNames(), ", "))
	fs.IntVar(&b.threads, "threads", 0, "compute threads (0: one per CPU core)")
	fs.StringVar(&b.conv, "conv", envOr("RESGO_CONV", "auto"),
		"native backends' convolution algorithms: auto (chosen per layer: see bench --layers), direct (no Winograd)\nor im2col (every convolution on im2col + GEMM); default $RESGO_CONV, else auto")
	fs.StringVar(&b.isa, "isa", envOr("RESGO_KERNEL", "auto"),
		"native backends' instruction set: auto (the widest this CPU has), "+strings.Join(isaNames(), ", ")+"; default $RESGO_KERNEL, else auto")
	fs.StringVar(&b.precision, "precision", "f32",
		"number format for convolution products: f32; bf16 (native backends: both factors rounded to bfloat16,\n"+
			"products summed in float32; weights, gradients and optimizer state stay float32). bf16 runs on\n"+
			"AVX512-BF16 where the CPU has it"+bf16Note()+"; it covers the direct and Winograd convolutions'\n"+
			"three passes (with even channel counts) and the stem's forward pass; the stem's weight gradient,\n"+
			"1x1 and fully connected layers stay f32;\n"+
			"or int8 (eval, predict, serve, bench: inference only, with a checkpoint calibrated by resgo quantize;\n"+
			"bytes multiplied on AVX512-VNNI"+int8Note()+"). bench takes a list (f32,bf16,int8) and measures\n"+
			"each. See docs/precision.md")
}

// bf16Note says what bf16 runs on here when the CPU lacks the instructions.
func bf16Note() string {
	if bf16Emulated() {
		return " (this one has not: bf16 here runs on Go loops that give the same results many times more slowly)"
	}
	return ""
}

// bf16Emulated reports whether the native backend's bf16 products run on
// Go loops here (the CPU, or the build, has no AVX512-BF16 kernels).
func bf16Emulated() bool {
	be, err := native.NewWith(native.Options{Threads: 1, Precision: native.BF16})
	return err != nil || !be.BF16Native()
}

// int8Note says what int8 runs on here when the CPU lacks AVX512-VNNI.
func int8Note() string {
	be, err := native.NewWith(native.Options{Threads: 1})
	if err != nil || !be.U8S8Native() {
		return " (this CPU has not: the convolutions then run in float32, no faster)"
	}
	return ""
}

// envOr returns the environment variable key, or def when it is unset or empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func isaNames() []string {
	var names []string
	for _, isa := range native.ISAs() {
		names = append(names, string(isa))
	}
	return names
}

// backends maps a --backend name to its constructor; build-tagged files
// add theirs (see backend_dnnl.go).
var backends = map[string]func(b backendFlags) (backend.Backend, error){
	"native":        func(b backendFlags) (backend.Backend, error) { return openNative(b, "") },
	"native-direct": func(b backendFlags) (backend.Backend, error) { return openNative(b, native.ConvNoWinograd) },
	"reference":     func(backendFlags) (backend.Backend, error) { return reference.New(), nil },
}

// openNative opens the pure-Go backend with --conv (or conv, when set:
// native-direct) and --isa.
func openNative(b backendFlags, conv native.ConvMode) (backend.Backend, error) {
	o := native.Options{Threads: b.threads, Conv: native.ConvMode(b.conv)}
	if conv != "" {
		if o.Conv != native.ConvAuto && o.Conv != conv {
			return nil, fmt.Errorf("--backend %s and --conv %s disagree", b.name, b.conv)
		}
		o.Conv = conv
	}
	if b.isa != "auto" {
		o.ISA = native.ISA(b.isa)
	}
	o.Precision = native.Precision(b.precision)
	be, err := native.NewWith(o)
	if err != nil {
		return nil, fmt.Errorf("--conv %s --isa %s --precision %s: %w", b.conv, b.isa, b.precision, err)
	}
	return be, nil
}

// defaultBackend is the pure-Go backend: with Winograd convolutions it
// trains as fast as the oneDNN one on this project's machine and infers
// faster (see the README), deterministically, and it is always built in.
var defaultBackend = "native"

func backendNames() []string {
	var names []string
	for n := range backends {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (b *backendFlags) open() (backend.Backend, error) {
	if b.threads < 0 {
		return nil, fmt.Errorf("--threads %d: must be 0 (all cores) or more", b.threads)
	}
	open, ok := backends[b.name]
	if !ok {
		return nil, fmt.Errorf("--backend %q: unknown backend (available: %s)", b.name, strings.Join(backendNames(), ", "))
	}
	if b.int8() {
		if !b.inference {
			return nil, errors.New("--precision int8: for inference only (eval, predict, serve, bench); train in f32 or bf16, then make an int8 checkpoint with resgo quantize")
		}
		f32 := *b
		f32.precision = string(native.F32)
		be, err := open(f32)
		if err != nil {
			return nil, err
		}
		if _, ok := be.(backend.QuantizedConv); !ok {
			return nil, fmt.Errorf("--precision int8: backend %s has no int8 convolutions (native and reference have)", b.name)
		}
		if nb, ok := be.(*native.Backend); ok && !nb.U8S8Native() {
			logf("warning: --precision int8: no AVX512-VNNI here (this CPU, or --isa %s), so the convolutions run in float32", nb.Options().ISA)
		}
		return be, nil
	}
	if p := b.precision; p != "" && p != string(native.F32) && !strings.HasPrefix(b.name, "native") {
		return nil, fmt.Errorf("--precision %s: only the native backends compute in it, not %s", p, b.name)
	}
	return open(*b)
}

// describeBackend names be, its threads and, for the native backends, the
// kernels and convolution mode.
func describeBackend(be backend.Backend) string {
	s := fmt.Sprintf("backend %s, %d threads", be.Name(), be.Threads())
	if nb, ok := be.(*native.Backend); ok {
		o := nb.Options()
		s += fmt.Sprintf(", %s kernels, convolutions %s", o.ISA, o.Conv)
		if o.Precision != native.F32 {
			s += fmt.Sprintf(", %s products", o.Precision)
			if !nb.BF16Native() {
				s += " (emulated in Go: no AVX512-BF16 here)"
			}
		}
	}
	return s
}

// modelFlags choose and size a model.
type modelFlags struct {
	config model.Config
	input  string
}

// register adds the model flags: --arch when withArch (compare takes a
// list instead), and --input and --classes when withShape, for commands
// that do not read them from a data set.
func (m *modelFlags) register(fs *flag.FlagSet, withArch, withShape bool) {
	m.config = model.DefaultConfig()
	if withArch {
		fs.StringVar(&m.config.Arch, "arch", m.config.Arch, "model architecture: "+strings.Join(model.Archs(), ", "))
	}
	fs.IntVar(&m.config.BaseDepth, "base-depth", m.config.BaseDepth, "channels of the first stage (the width; 64 in the paper)")
	fs.StringVar(&m.config.Shortcut, "shortcut", "", "residual nets' shortcut option: A (zero-padding), B (projection where shapes change; default), C (projection everywhere)")
	fs.StringVar(&m.config.BottleneckStride, "bottleneck-stride", "", "resnet50/101/152: the convolution of a bottleneck that strides: 1x1 (the paper's, default) or 3x3 (torchvision's, \"v1.5\")")
	fs.StringVar(&m.config.Stem, "stem", "", "residual and plain nets' stem: imagenet (7x7/2 conv + max-pool) or small (3x3 conv); default by input size")
	if withShape {
		fs.StringVar(&m.input, "input", "1x28x28", "input shape CxHxW")
		fs.IntVar(&m.config.Classes, "classes", m.config.Classes, "number of classes")
	}
}

// resolve parses --input and fills in the architecture's defaults.
func (m *modelFlags) resolve() (model.Config, error) {
	c := m.config
	if m.input != "" {
		parts := strings.Split(m.input, "x")
		ok := len(parts) == 3
		for i := 0; ok && i < 3; i++ {
			n, err := strconv.Atoi(parts[i])
			ok = err == nil && n > 0
			c.Input[i] = n
		}
		if !ok {
			return c, fmt.Errorf("--input %q: want CxHxW with positive sizes, e.g. 3x224x224", m.input)
		}
	}
	if err := c.Normalize(); err != nil {
		return c, err
	}
	return c, nil
}
