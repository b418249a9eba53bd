package native

import (
	"fmt"

	"github.com/resgo/resgo/backend"
)

// This file is the one place where the native backend decides how to
// compute a convolution: chooseConv, below, takes a geometry (shapes,
// stride, padding) and a pass and returns the algorithm, with the reason.
// `resgo bench --layers` prints its choice for every layer, and
// backendtest's conformance cases each name the algorithm they exercise
// and check that it is the one chosen, on every instruction set.

// Algorithm is a way of computing a convolution pass.
type Algorithm string

// The algorithms, fastest first where several apply.
const (
	// Winograd's F(4x4, 3x3) (winograd.go): 3x3, stride 1, one pixel of
	// padding; 2.5-4x fewer multiply-adds; all three passes.
	Winograd Algorithm = "winograd"
	// Direct tile kernels over position-major activations (direct.go):
	// taps that only read padding are skipped; all three passes.
	Direct Algorithm = "direct"
	// Planar (planar.go): outputs computed in NCHW planes, the tile kernel
	// over output channels x neighbouring pixels; forward only, stride 1,
	// few input channels (the 28x28 stem).
	Planar Algorithm = "planar"
	// Rows (rows.go): one product over unrolled rows of C*taps values
	// (im2row); forward only, few input channels (strided stems).
	Rows Algorithm = "rows"
	// Im2col unrolls the input into columns and runs the packed GEMM
	// (im2col.go): every geometry, every pass.
	Im2col Algorithm = "im2col"
)

// ConvMode limits the algorithms a backend may choose.
type ConvMode string

// The modes: ConvAuto (or "") lets chooseConv pick; ConvNoWinograd leaves
// Winograd's algorithm out (its transforms cost a few parts in 10^5, the
// others sum the reference loops' products in another order); ConvIm2col
// sends every convolution through im2col + GEMM.
const (
	ConvAuto       ConvMode = "auto"
	ConvNoWinograd ConvMode = "direct"
	ConvIm2col     ConvMode = "im2col"
)

// The thresholds, with the measurements behind them (seed-resnet34's
// layers at batch 100 on 2 cores of an AVX-512 machine unless stated).
const (
	// minDirectChannels is the fewest input and output channels for the
	// tile kernels (direct, Winograd; planar and rows need as many output
	// channels): with fewer (the stem's one input channel) the per-tap
	// set-up of the kernel outweighs its few multiply-adds, and im2col's
	// copy is small.
	minDirectChannels = 16
	// winoMinTiles is how many of the tile kernel's row blocks the rows of
	// a Winograd pass (4x4 tiles x images) must fill: fewer leave most of
	// each kernel call's rows empty. 4 blocks is 48 rows with AVX-512's
	// 12-row tiles. Measured 2026-12-02 (resgo bench, seed-resnet34,
	// against 8 blocks, which sent the 4x4 stage to the direct kernels
	// below batch 96): 1 thread at batch 50 (a rank of a 2-process job at
	// the tutorial's batch) train +9-13%, inference +19-23%; 2 threads at
	// batch 64 train +11-13%, inference +9-25%, at batch 50 +6-7% and
	// +14-16%. Batches of 96 and more choose as before.
	winoMinTiles = 4
	// maxPlanEntries bounds a direct plan's table (4 bytes each): beyond
	// it (ImageNet sizes at large batches) convolutions go through im2col.
	maxPlanEntries = 1 << 23
	// maxUnrolled bounds C*taps for rows: the rows must stay small.
	maxUnrolled = 1024
	// smallWidth is the output width below which im2col unrolls through a
	// precomputed table: on 2x2 to 7x7 maps the per-row set-up of
	// unrollTap costs more than the copying.
	smallWidth = 8
)

// chooseConv returns the algorithm for pass of convolution g on this
// backend (its mode and kernels' tile size), and why. The rules are tried
// in order; the first that fits wins.
//
//  1. Winograd: forward, backward-data and backward-filter of a 3x3,
//     stride-1, pad-1 convolution on a map of 4x4 or more with at least
//     minDirectChannels in and out, and rows enough (winoMinTiles).
//     2x2 maps gain nothing (one tile, mostly padding) and stay direct.
//  2. Direct: kernels larger than 1x1 with at least minDirectChannels in
//     and out (a 1x1 convolution's im2col is a cheap copy of the input).
//  3. Planar (forward): stride 1, few input channels, enough output
//     channels, a kernel wider than one pixel: the 28x28 stem (1 channel,
//     7x7), with no unrolled copy of its 49 taps per pixel.
//  4. Rows (forward): few input channels, C*taps <= maxUnrolled (strided
//     stems). Its backward-filter stays on im2col: unrolling into the
//     micro-kernel's slivers measured 13 ms against 8 ms for the stem.
//  5. Im2col: everything else (1x1, few channels, backward passes of the
//     stems, anything too large for a plan).
func (be *Backend) chooseConv(g convGeom, pass backend.ConvPass) (Algorithm, string) {
	mode := be.opts.Conv
	var not []string
	try := func(a Algorithm, why string, ok bool) bool {
		if !ok {
			not = append(not, fmt.Sprintf("not %s: %s", a, why))
		}
		return ok
	}
	if mode == ConvIm2col {
		return Im2col, "every convolution on im2col (ConvIm2col)"
	}
	if mode == ConvNoWinograd {
		not = append(not, "not winograd: switched off (ConvNoWinograd)")
	} else if why, ok := g.winogradFits(be.kern.tileRows); try(Winograd, why, ok) {
		return Winograd, why
	}
	if why, ok := g.directFits(be.kern.tileRows); try(Direct, why, ok) {
		return Direct, joinReasons(why, not)
	}
	switch pass {
	case backend.Forward:
		if why, ok := g.planarFits(); try(Planar, why, ok) {
			return Planar, joinReasons(why, not)
		}
		if why, ok := g.rowsFits(be.kern.tileRows); try(Rows, why, ok) {
			return Rows, joinReasons(why, not)
		}
	case backend.BackwardFilter:
		if why, ok := g.rowsFits(be.kern.tileRows); try(Rows, why, ok) {
			return Rows, joinReasons(why, not)
		}
	default:
		not = append(not, "planar and rows compute no backward-data")
	}
	return Im2col, joinReasons("no other algorithm fits", not)
}

func joinReasons(why string, not []string) string {
	for _, n := range not {
		why += "; " + n
	}
	return why
}

// winogradFits reports whether g fits Winograd's algorithm (for any pass:
// backward-data is the same convolution with x and y swapped).
func (g convGeom) winogradFits(tileRows int) (string, bool) {
	d := g.d
	switch {
	case g.kh != 3 || g.kw != 3 || d.StrideH != 1 || d.StrideW != 1:
		return fmt.Sprintf("%dx%d stride %dx%d (needs 3x3, stride 1)", g.kh, g.kw, d.StrideH, d.StrideW), false
	case d.PadTop != 1 || d.PadBottom != 1 || d.PadLeft != 1 || d.PadRight != 1:
		return "padding is not one pixel on every side", false
	case g.h < 4 || g.w < 4:
		return fmt.Sprintf("%dx%d map (needs 4x4 or more)", g.h, g.w), false
	case min(g.c, g.o) < minDirectChannels:
		return fmt.Sprintf("%d -> %d channels (needs %d each)", g.c, g.o, minDirectChannels), false
	}
	rows := g.n * ((g.h + 3) / 4) * ((g.w + 3) / 4)
	if need := winoMinTiles * tileRows; rows < need {
		return fmt.Sprintf("%d rows (4x4 tiles x images), needs %d", rows, need), false
	}
	if winoPoints*(rows+tileRows)*max(g.c, g.o) >= 1<<31-1 || (g.n*g.h*g.w+1)*max(g.c, g.o) >= 1<<31-1 {
		return "too large for 32-bit offsets", false
	}
	return fmt.Sprintf("3x3 stride 1 on %dx%d, %d rows (4x4 tiles x images) >= %d", g.h, g.w, rows, winoMinTiles*tileRows), true
}

// directFits reports whether g fits the direct tile kernels.
func (g convGeom) directFits(tileRows int) (string, bool) {
	switch {
	case g.kh*g.kw == 1:
		return "1x1 (im2col's copy is the input itself)", false
	case min(g.c, g.o) < minDirectChannels:
		return fmt.Sprintf("%d -> %d channels (needs %d each)", g.c, g.o, minDirectChannels), false
	}
	tiles := (g.n*g.p() + tileRows - 1) / tileRows
	if tiles*g.kh*g.kw*(tileRows+1) > maxPlanEntries || (g.n*g.h*g.w+1)*max(g.c, g.o) >= 1<<31-1 {
		return "plan too large", false
	}
	return fmt.Sprintf("%dx%d on %d -> %d channels", g.kh, g.kw, g.c, g.o), true
}

// planarFits reports whether the forward pass of g fits the planar path.
func (g convGeom) planarFits() (string, bool) {
	d := g.d
	switch {
	case d.StrideH != 1 || d.StrideW != 1:
		return "strided", false
	case g.c >= minDirectChannels || g.o < minDirectChannels:
		return fmt.Sprintf("%d -> %d channels (needs fewer than %d in, %d or more out)", g.c, g.o, minDirectChannels, minDirectChannels), false
	case g.kw == 1:
		return "kernel one pixel wide", false
	case g.c*(g.h+d.PadTop+d.PadBottom)*(g.w+d.PadLeft+d.PadRight) >= 1<<24 || g.o*g.c*g.kh*g.kw >= 1<<30:
		return "too large", false
	}
	return fmt.Sprintf("stride 1, %d input channels, %dx%d kernel", g.c, g.kh, g.kw), true
}

// rowsFits reports whether the forward pass of g fits a product over
// unrolled rows.
func (g convGeom) rowsFits(tileRows int) (string, bool) {
	k := g.c * g.kh * g.kw
	rows := g.n * g.p()
	switch {
	case g.c >= minDirectChannels || g.o < minDirectChannels:
		return fmt.Sprintf("%d -> %d channels (needs fewer than %d in, %d or more out)", g.c, g.o, minDirectChannels, minDirectChannels), false
	case g.kh*g.kw == 1:
		return "1x1", false
	case k > maxUnrolled:
		return fmt.Sprintf("rows of %d values (at most %d)", k, maxUnrolled), false
	case (rows+1)*k >= 1<<31-1 || (rows+tileRows-1)/tileRows*(tileRows+1) > maxPlanEntries:
		return "too large", false
	}
	return fmt.Sprintf("%d input channels, rows of %d values", g.c, k), true
}

// ConvAlgorithm implements backend.ConvExplainer.
func (be *Backend) ConvAlgorithm(x, w []int, d backend.ConvDesc, pass backend.ConvPass) (string, string) {
	g, err := geometry(x, w, d)
	if err != nil {
		return "", err.Error()
	}
	a, why := be.chooseConv(g, pass)
	return string(a), why
}
