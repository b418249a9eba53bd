//go:build !amd64 || purego

package native

func selectKernel() microKernel { return genericKernel }

func peakProbe() (func(int), float64, string) { return peakLoopGo, 8 * 2, "scalar" }
