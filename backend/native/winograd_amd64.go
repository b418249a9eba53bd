//go:build amd64 && !purego

package native

import "golang.org/x/sys/cpu"

//go:generate go run gen_winograd.go

//go:noescape
func winoInputAVX2(x *float32, offs *int32, c int, v *float32, planeStride int)

//go:noescape
func winoOutputAVX2(m *float32, planeStride, c int, y *float32, offs *int32)

// winoAVX2 says the transforms run on AVX2 (eight channels at a time).
var winoAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && kern.name != "generic"

// winoInput is winoInputGo, on AVX2 when the CPU has it and c is a
// multiple of 8.
func winoInput(x []float32, offs *[36]int32, c int, v []float32, planeStride int) {
	if !winoAVX2 || c%8 != 0 || c == 0 {
		winoInputGo(x, offs, c, v, planeStride)
		return
	}
	_ = v[35*planeStride+c-1] // bounds, checked here so the assembly cannot write past v
	for _, o := range offs {
		_ = x[int(o)+c-1]
	}
	winoInputAVX2(&x[0], &offs[0], c, &v[0], planeStride)
}

// winoOutput is winoOutputGo, on AVX2 when the CPU has it and c is a
// multiple of 8.
func winoOutput(m []float32, planeStride, c int, y []float32, offs *[16]int32) {
	if !winoAVX2 || c%8 != 0 || c == 0 {
		winoOutputGo(m, planeStride, c, y, offs)
		return
	}
	_ = m[35*planeStride+c-1]
	for _, o := range offs {
		_ = y[int(o)+c-1]
	}
	winoOutputAVX2(&m[0], planeStride, c, &y[0], &offs[0])
}
