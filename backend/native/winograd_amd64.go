//go:build amd64 && !purego

package native

import (
	"math"

	"golang.org/x/sys/cpu"
)

//go:generate go run gen_winograd.go

//go:noescape
func winoInputAVX2(x *float32, offs *int32, c int, v *float32, planeStride int)

//go:noescape
func winoOutputAVX2(m *float32, planeStride, c int, y *float32, offs *int32, bias *float32, floor float32)

//go:noescape
func winoInputAVX512(x *float32, offs *int32, c int, v *float32, planeStride int)

//go:noescape
func winoOutputAVX512(m *float32, planeStride, c int, y *float32, offs *int32, bias *float32, floor float32)

//go:noescape
func winoGradAVX2(dy *float32, offs *int32, c int, v *float32, planeStride int)

//go:noescape
func winoGradAVX512(dy *float32, offs *int32, c int, v *float32, planeStride int)

// winoLanes is the vector width of the transforms: 16 with AVX-512, 8 with
// AVX2, 0 when they run in Go.
var winoLanes = func() int {
	switch {
	case kern.name == "avx512":
		return 16
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA && kern.name != "generic":
		return 8
	}
	return 0
}()

// vectorLanes is the vector width for c channels: winoLanes, or 8 where
// c is not a multiple of 16, or 0 (Go) where it is not one of 8.
func vectorLanes(c int) int {
	lanes := winoLanes
	if lanes == 16 && c%16 != 0 {
		lanes = 8
	}
	if lanes == 0 || c == 0 || c%lanes != 0 {
		return 0
	}
	return lanes
}

// winoInput is winoInputGo, in vectors when the CPU has them and c is a
// multiple of their width.
func winoInput(x []float32, offs *[36]int32, c int, v []float32, planeStride int) {
	lanes := vectorLanes(c)
	if lanes == 0 {
		winoInputGo(x, offs, c, v, planeStride)
		return
	}
	_ = v[35*planeStride+c-1] // bounds, checked here so the assembly cannot write past v
	for _, o := range offs {
		_ = x[int(o)+c-1]
	}
	if lanes == 16 {
		winoInputAVX512(&x[0], &offs[0], c, &v[0], planeStride)
		return
	}
	winoInputAVX2(&x[0], &offs[0], c, &v[0], planeStride)
}

// winoGrad is winoGradGo, in vectors when the CPU has them and c is a
// multiple of their width.
func winoGrad(dy []float32, offs *[16]int32, c int, v []float32, planeStride int) {
	lanes := vectorLanes(c)
	if lanes == 0 {
		winoGradGo(dy, offs, c, v, planeStride)
		return
	}
	_ = v[35*planeStride+c-1]
	for _, o := range offs {
		_ = dy[int(o)+c-1]
	}
	if lanes == 16 {
		winoGradAVX512(&dy[0], &offs[0], c, &v[0], planeStride)
		return
	}
	winoGradAVX2(&dy[0], &offs[0], c, &v[0], planeStride)
}

// winoOutput is winoOutputGo, in vectors when the CPU has them and c is a
// multiple of their width. bias is nil or has c values.
func winoOutput(m []float32, planeStride, c int, y []float32, offs *[16]int32, bias []float32, relu bool) {
	lanes := vectorLanes(c)
	if lanes == 0 || (bias == nil && len(zeroBias) < c) {
		winoOutputGo(m, planeStride, c, y, offs, bias, relu)
		return
	}
	_ = m[35*planeStride+c-1]
	for _, o := range offs {
		_ = y[int(o)+c-1]
	}
	if bias == nil {
		bias = zeroBias
	}
	_ = bias[c-1]
	floor := float32(math.Inf(-1))
	if relu {
		floor = 0
	}
	if lanes == 16 {
		winoOutputAVX512(&m[0], planeStride, c, &y[0], &offs[0], &bias[0], floor)
		return
	}
	winoOutputAVX2(&m[0], planeStride, c, &y[0], &offs[0], &bias[0], floor)
}

// zeroBias stands in for a missing bias (up to this many channels).
var zeroBias = make([]float32, 4096)
