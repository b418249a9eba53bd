package backendtest

import (
	"fmt"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
)

// nativeBackend opens the native backend with o.
func nativeBackend(t *testing.T, o native.Options) *native.Backend {
	t.Helper()
	be, err := native.NewWith(o)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// TestNative runs the suite on the native backend with every instruction
// set this CPU has and every convolution mode: by default (each case on
// the algorithm it names), without Winograd (the direct kernels where
// Winograd takes over by default), and with im2col everywhere.
func TestNative(t *testing.T) {
	for _, isa := range native.ISAs() {
		for _, mode := range []native.ConvMode{native.ConvAuto, native.ConvNoWinograd, native.ConvIm2col} {
			threads := []int{1, 2, 3}
			if testing.Short() || mode != native.ConvAuto {
				threads = []int{2}
			}
			for _, th := range threads {
				be := nativeBackend(t, native.Options{Threads: th, ISA: isa, Conv: mode})
				t.Run(fmt.Sprintf("%s/%s/%dthreads", isa, mode, th), func(t *testing.T) { Run(t, be) })
			}
		}
	}
}

// TestCasesExerciseTheirAlgorithm: every conformance case runs, by
// default and on every instruction set, the native algorithm its Native
// field names (the backward passes of the forward-only planar and rows
// run on im2col), so that no case checks another path than it claims.
func TestCasesExerciseTheirAlgorithm(t *testing.T) {
	for _, isa := range native.ISAs() {
		be := nativeBackend(t, native.Options{ISA: isa})
		for _, c := range ConvCases {
			for _, pass := range []backend.ConvPass{backend.Forward, backend.BackwardData, backend.BackwardFilter} {
				want := c.Native
				if want == string(native.Planar) || want == string(native.Rows) {
					switch pass {
					case backend.BackwardData:
						want = string(native.Im2col)
					case backend.BackwardFilter:
						want = string(native.Rows)
					}
				}
				got, why := be.ConvAlgorithm([]int{c.N, c.C, c.H, c.W}, []int{c.O, c.C, c.KH, c.KW}, c.Desc(), pass)
				if got != want {
					t.Errorf("%s, %s, %s: runs %s (%s), the case is there for %s", isa, c.Name, pass, got, why, want)
				}
			}
		}
	}
}

// TestModesNarrowTheChoice: ConvNoWinograd never picks Winograd and
// ConvIm2col picks only im2col, on every case.
func TestModesNarrowTheChoice(t *testing.T) {
	noWino := nativeBackend(t, native.Options{Conv: native.ConvNoWinograd})
	im2col := nativeBackend(t, native.Options{Conv: native.ConvIm2col})
	for _, c := range ConvCases {
		x, w := []int{c.N, c.C, c.H, c.W}, []int{c.O, c.C, c.KH, c.KW}
		if got, _ := noWino.ConvAlgorithm(x, w, c.Desc(), backend.Forward); got == string(native.Winograd) {
			t.Errorf("%s: Winograd without Winograd", c.Name)
		}
		if got, _ := im2col.ConvAlgorithm(x, w, c.Desc(), backend.BackwardFilter); got != string(native.Im2col) {
			t.Errorf("%s: %s with im2col everywhere", c.Name, got)
		}
	}
}

// TestNativeBF16 runs the bfloat16 suite on every instruction set: the
// AVX512-BF16 kernels where the CPU has them, the Go loops elsewhere.
func TestNativeBF16(t *testing.T) {
	for _, isa := range native.ISAs() {
		be := nativeBackend(t, native.Options{Threads: 2, ISA: isa, Precision: native.BF16})
		t.Run(fmt.Sprintf("%s/bf16native=%v", isa, be.BF16Native()), func(t *testing.T) { RunBF16(t, be) })
	}
}

// TestNativeU8S8 runs the int8 suite on every instruction set: the
// AVX512-VNNI kernel where the CPU has it, the Go loop elsewhere; with
// every shape on bytes (Int8Everywhere), and as configured by default
// (the small ones in float32).
func TestNativeU8S8(t *testing.T) {
	for _, isa := range native.ISAs() {
		be := nativeBackend(t, native.Options{Threads: 2, ISA: isa, Int8Everywhere: true})
		t.Run(fmt.Sprintf("%s/vnni=%v", isa, be.U8S8Native()), func(t *testing.T) { RunU8S8(t, be) })
	}
	be := nativeBackend(t, native.Options{Threads: 2})
	t.Run("default", func(t *testing.T) { RunU8S8(t, be) })
}

// TestNativeU8S8Chain runs the chained int8 suite on every instruction
// set, every shape on bytes.
func TestNativeU8S8Chain(t *testing.T) {
	for _, isa := range native.ISAs() {
		be := nativeBackend(t, native.Options{Threads: 2, ISA: isa, Int8Everywhere: true})
		t.Run(fmt.Sprintf("%s/vnni=%v", isa, be.U8S8Native()), func(t *testing.T) { RunU8S8Chain(t, be, true) })
	}
}

// TestNativeConvChain runs the chained float32 and bfloat16 suites on
// every instruction set, with and without Winograd's algorithm.
func TestNativeConvChain(t *testing.T) {
	for _, isa := range native.ISAs() {
		for _, prec := range []native.Precision{native.F32, native.BF16} {
			be := nativeBackend(t, native.Options{Threads: 2, ISA: isa, Precision: prec})
			t.Run(fmt.Sprintf("%s/%s", isa, prec), func(t *testing.T) { RunConvChain(t, be, false) })
			be = nativeBackend(t, native.Options{Threads: 2, ISA: isa, Precision: prec, Conv: native.ConvNoWinograd})
			t.Run(fmt.Sprintf("%s/%s/direct", isa, prec), func(t *testing.T) { RunConvChain(t, be, true) })
		}
	}
}
