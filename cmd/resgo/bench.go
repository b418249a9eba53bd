package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/quantize"
	"github.com/resgo/resgo/train"
)

// benchRow is one measured configuration.
type benchRow struct {
	Mode      string  `json:"mode"`
	Precision string  `json:"precision"`
	Batch     int     `json:"batch"`
	MsPerStep float64 `json:"ms_per_step"`
	ImagesPS  float64 `json:"images_per_s"`
	GFLOPS    float64 `json:"gflops"`
	PeakFrac  float64 `json:"peak_fraction"`
	RSSMiB    float64 `json:"peak_rss_mib"`
	// VsF32 is images/s over the f32 row of the same mode and batch, where
	// one was measured before this row (--precision f32 first).
	VsF32 float64 `json:"vs_f32,omitempty"`
}

type benchReport struct {
	Arch      string     `json:"arch"`
	Backend   string     `json:"backend"`
	Kernel    string     `json:"kernel,omitempty"`
	Threads   int        `json:"threads"`
	PeakGF    float64    `json:"fma_peak_gflops"`
	PeakISA   string     `json:"fma_peak_isa"`
	MACs      int64      `json:"macs_per_image"`
	Rows      []benchRow `json:"rows"`
	GoVersion string     `json:"go"`
}

func runBench(args []string) error {
	fs := newFlagSet("bench", "Measures training and inference throughput on random images (--input): ms per step,\n"+
		"images/s, GFLOP/s (2 FLOPs per multiply-add; training counts 3x the forward pass) and the\n"+
		"fraction of this machine's FMA peak, measured by a probe before the runs; and the peak RSS.\n"+
		"With several --precision (f32 first), a last column gives each row's images/s over f32's.")
	var bf backendFlags
	bf.register(fs)
	var mf modelFlags
	mf.register(fs, true, true)
	var (
		modes, batches string
		steps, warmup  int
		asJSON, layers bool
		interleave     bool
		cpuProfile     string
		traceFile      string
	)
	fs.StringVar(&modes, "modes", "train,infer", "what to measure: train, infer or both")
	fs.StringVar(&batches, "batch-sizes", "100,1", "comma-separated batch sizes (training skips batch 1)")
	fs.IntVar(&steps, "steps", 10, "timed steps per configuration")
	fs.IntVar(&warmup, "warmup", 2, "untimed steps first")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	fs.BoolVar(&layers, "layers", false, "also time each top-level layer (forward and backward) and print where the time goes")
	fs.BoolVar(&interleave, "interleave", false, "with several --precision: time their steps in turn (one step of each, then the next),\n"+
		"so that a machine whose speed drifts slows them all alike; the ratios between precisions are then\n"+
		"steadier than from configurations measured one after another")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the runs to this file (for go tool pprof); samples are labelled\n"+
		"phase (warmup, timed), mode, precision and batch: go tool pprof -tagfocus phase=timed shows the timed steps")
	fs.StringVar(&traceFile, "trace", "", "write a Go execution trace of the runs to this file (for go tool trace: where threads wait,\n"+
		"e.g. go tool trace -pprof=sync FILE > sync.prof for the waits at the ends of parallel regions)")
	if err := parse(fs, args); err != nil {
		return err
	}
	mc, err := mf.resolve()
	if err != nil {
		return err
	}
	if steps <= 0 || warmup < 0 {
		return fmt.Errorf("--steps %d / --warmup %d: need steps > 0 and warmup >= 0", steps, warmup)
	}
	var sizes []int
	for _, s := range strings.Split(batches, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || n > train.MaxBatchSize {
			return fmt.Errorf("--batch-sizes %q: %q is not an integer from 1 to %d", batches, s, train.MaxBatchSize)
		}
		sizes = append(sizes, n)
	}
	var doTrain, doInfer bool
	for _, m := range strings.Split(modes, ",") {
		switch strings.TrimSpace(m) {
		case "train":
			doTrain = true
		case "infer":
			doInfer = true
		default:
			return fmt.Errorf("--modes %q: unknown mode %q (train, infer)", modes, m)
		}
	}
	foot, err := model.Measure(mc)
	if err != nil {
		return err
	}
	for _, b := range sizes {
		need := foot.InferenceBytes(b)
		if doTrain && b > 1 {
			need = foot.TrainingBytes(b, false)
		}
		if err := model.CheckMemory(mc, fmt.Sprintf("benchmarking at batch %d", b), need); err != nil {
			return err
		}
	}
	// --precision may list several: each is measured in turn, on a backend
	// of its own, and reported in its own rows.
	var backends []backend.Backend
	var precisions []string
	for _, p := range strings.Split(bf.precision, ",") {
		b := bf
		b.precision = strings.TrimSpace(p)
		b.inference = true // int8 rows are inference rows
		be, err := b.open()
		if err != nil {
			return err
		}
		backends, precisions = append(backends, be), append(precisions, b.precision)
	}
	be := backends[0]
	rep := benchReport{Arch: mc.Arch, Backend: be.Name(), Threads: be.Threads(), GoVersion: goVersion()}
	if nb, ok := be.(*native.Backend); ok {
		rep.Kernel = string(nb.Options().ISA)
	}
	rep.PeakGF, rep.PeakISA = native.MeasurePeak(be.Threads())
	if !asJSON {
		kernel := ""
		if rep.Kernel != "" {
			kernel = " (" + rep.Kernel + " kernels)"
		}
		fmt.Printf("%s on %s%s, %d threads; measured FMA peak %.1f GFLOP/s (%s)\n\n",
			mc.Arch, be.Name(), kernel, be.Threads(), rep.PeakGF, rep.PeakISA)
		// GFLOP/s count the dense convolutions' multiply-adds: Winograd and
		// skipped zero-padding taps do fewer, so the fraction can pass 100%.
		fmt.Printf("GFLOP/s and %% of peak count a dense convolution's work (2 x multiply-adds); Winograd's\n" +
			"algorithm does fewer multiplies than that, so \"effective\" figures can pass 100%%. The peak is\n" +
			"float32's; bf16 products can run at twice it.\n\n")
		fmt.Printf("%-6s %-9s %6s %10s %10s %15s %15s %10s", "mode", "precision", "batch", "ms/step", "images/s", "eff. GFLOP/s", "eff. % of peak", "peak RSS")
		if len(precisions) > 1 {
			fmt.Printf(" %7s", "vs f32")
		}
		fmt.Println()
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if traceFile != "" {
		f, err := os.Create(traceFile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	var cases []benchCase
	for i, be := range backends {
		prec := precisions[i]
		if nb, ok := be.(*native.Backend); ok && !asJSON {
			if nb.Options().Precision == native.BF16 && !nb.BF16Native() {
				fmt.Println("(bf16 emulated in Go: this CPU has no AVX512-BF16)")
			}
			if prec == "int8" && !nb.U8S8Native() {
				fmt.Println("(int8: this CPU, or --isa, has no AVX512-VNNI, so its convolutions run in float32)")
			}
		}
		if prec == "int8" && doTrain && !asJSON {
			fmt.Println("(int8 is for inference: no training rows)")
		}
		cs, err := benchCases(be, mc, prec, sizes, doTrain, doInfer, steps, layers && !asJSON)
		if err != nil {
			return err
		}
		for _, c := range cs {
			rep.MACs = c.macs
		}
		cases = append(cases, cs...)
	}
	emit := func(c benchCase, seconds float64) {
		flops := 2 * float64(c.macs) * float64(c.batch)
		if c.mode == "train" {
			flops *= 3
		}
		row := benchRow{Mode: c.mode, Precision: c.prec, Batch: c.batch, MsPerStep: seconds * 1e3, ImagesPS: float64(c.batch) / seconds,
			GFLOPS: flops / seconds / 1e9, RSSMiB: peakRSSMiB()}
		row.PeakFrac = row.GFLOPS / rep.PeakGF
		for _, r := range rep.Rows {
			if r.Precision == "f32" && r.Mode == row.Mode && r.Batch == row.Batch {
				row.VsF32 = row.ImagesPS / r.ImagesPS
			}
		}
		if row.Precision == "f32" {
			row.VsF32 = 1
		}
		rep.Rows = append(rep.Rows, row)
		if !asJSON {
			fmt.Printf("%-6s %-9s %6d %10.1f %10.1f %15.1f %14.1f%% %6.0f MiB", c.mode, c.prec, c.batch, row.MsPerStep, row.ImagesPS,
				row.GFLOPS, 100*row.PeakFrac, row.RSSMiB)
			switch {
			case len(precisions) == 1:
			case row.VsF32 == 0:
				fmt.Printf(" %7s", "-")
			default:
				fmt.Printf(" %6.2fx", row.VsF32)
			}
			fmt.Println()
		}
	}
	if interleave {
		runInterleaved(cases, steps, warmup, emit)
	} else {
		for _, c := range cases {
			c.setup()
			emit(c, timeSteps(c, warmup, steps))
			if c.layers != nil {
				c.layers()
			}
		}
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return nil
}

// calibrateRandom gives m (random weights) int8 input maps calibrated on
// eight random images, for speed measurements.
func calibrateRandom(be backend.Backend, m *model.Model) error {
	mc := m.Config
	r := rand.New(rand.NewPCG(3, 4))
	images := make([]float32, 8*mc.Input[0]*mc.Input[1]*mc.Input[2])
	for i := range images {
		images[i] = r.Float32()
	}
	x := be.New(8, mc.Input[0], mc.Input[1], mc.Input[2])
	be.Upload(x, images)
	m.SetTraining(false)
	stats, err := quantize.Calibrate(be, m.Net, func() error { m.Forward(x); return nil })
	if err != nil {
		return err
	}
	maps := map[string]backend.InputQuant{}
	for _, s := range stats {
		maps[s.Conv] = s.Quant
	}
	return quantize.Apply(be, m.Net, maps)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// benchCase is one configuration to measure: a mode and batch size of
// one precision's model, whose step runs after setup (the model put in
// training or evaluation mode), and layers (with --layers) prints its
// time per layer.
type benchCase struct {
	mode, prec  string
	batch       int
	macs        int64
	setup, step func()
	layers      func()
	be          backend.Backend
}

// profileLabeler is implemented by backends whose worker goroutines need
// to be told the profile labels (native's pool: see SetProfileLabels).
type profileLabeler interface {
	SetProfileLabels(ctx context.Context)
}

// benchCases builds the model on be (one precision) and its configurations.
func benchCases(be backend.Backend, mc model.Config, prec string, sizes []int, doTrain, doInfer bool, steps int, layers bool) ([]benchCase, error) {
	m, err := model.Build(be, mc)
	if err != nil {
		return nil, err
	}
	m.Init(1)
	_, macs := m.Summary(discard{})
	int8 := prec == "int8"
	if int8 {
		if err := calibrateRandom(be, m); err != nil {
			return nil, err
		}
		doTrain = false
	}
	var cases []benchCase
	r := rand.New(rand.NewPCG(1, 2))
	per := mc.Input[0] * mc.Input[1] * mc.Input[2]
	for _, batch := range sizes {
		images := make([]float32, batch*per)
		labels := make([]int32, batch)
		for i := range images {
			images[i] = r.Float32()
		}
		for i := range labels {
			labels[i] = int32(r.IntN(mc.Classes))
		}
		c := benchCase{prec: prec, batch: batch, macs: macs, be: be}
		if doTrain && batch > 1 {
			h := train.DefaultHyper()
			h.BatchSize = batch
			tr := train.NewTrainer(be, m, h, 55000)
			c.mode = "train"
			c.setup = func() { m.SetTraining(true) }
			c.step = func() { tr.TrainStep(images, labels) }
			if layers {
				c.layers = func() { printLayerTimes(be, m, images, labels, true, steps) }
			}
			cases = append(cases, c)
		}
		if doInfer {
			x := be.New(batch, mc.Input[0], mc.Input[1], mc.Input[2])
			logits := make([]float32, batch*mc.Classes)
			c.mode = "infer"
			c.setup = func() { m.SetTraining(false) }
			c.step = func() {
				be.Upload(x, images)
				be.Download(m.Forward(x), logits)
			}
			c.layers = nil
			if layers {
				c.layers = func() { printLayerTimes(be, m, images, labels, false, steps) }
			}
			cases = append(cases, c)
		}
	}
	return cases, nil
}

// runStep runs one step of c under profile labels that tell the timed
// steps from the warm-up (which packs weights and allocates buffers) and
// the configurations apart, and returns how long it took.
func runStep(c benchCase, phase string) time.Duration {
	var el time.Duration
	labels := pprof.Labels("mode", c.mode, "precision", c.prec, "batch", strconv.Itoa(c.batch), "phase", phase)
	pprof.Do(context.Background(), labels, func(ctx context.Context) {
		if pl, ok := c.be.(profileLabeler); ok {
			pl.SetProfileLabels(ctx)
		}
		start := time.Now()
		c.step()
		el = time.Since(start)
	})
	return el
}

// timeSteps runs c's warm-up steps, then its timed ones, and returns the
// seconds per timed step.
func timeSteps(c benchCase, warmup, steps int) float64 {
	for range warmup {
		runStep(c, "warmup")
	}
	var total time.Duration
	for range steps {
		total += runStep(c, "timed")
	}
	return total.Seconds() / float64(steps)
}

// runInterleaved measures the cases of each mode and batch size together:
// after their warm-ups, one timed step of each in turn (the order
// rotating every round, so that none always runs first), steps rounds.
func runInterleaved(cases []benchCase, steps, warmup int, emit func(benchCase, float64)) {
	type group struct {
		mode  string
		batch int
	}
	var order []group
	members := map[group][]benchCase{}
	for _, c := range cases {
		g := group{c.mode, c.batch}
		if _, ok := members[g]; !ok {
			order = append(order, g)
		}
		members[g] = append(members[g], c)
	}
	for _, g := range order {
		cs := members[g]
		for _, c := range cs {
			c.setup()
			for range warmup {
				runStep(c, "warmup")
			}
		}
		totals := make([]time.Duration, len(cs))
		for round := range steps {
			for k := range cs {
				i := (round + k) % len(cs)
				totals[i] += runStep(cs[i], "timed")
			}
		}
		for i, c := range cs {
			emit(c, totals[i].Seconds()/float64(steps))
		}
		for _, c := range cs {
			if c.layers != nil {
				c.layers()
			}
		}
	}
}
