//go:build !amd64 || purego

package native

// vectorKernels: no assembly on this platform (or with -tags purego).
func vectorKernels(ISA) *kernels { return nil }

func peakProbe() (func(int), float64, string) { return peakLoopGo, 8 * 2, "scalar" }
