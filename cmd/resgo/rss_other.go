//go:build !linux

package main

import "runtime"

// peakRSSMiB is not measured outside Linux.
func peakRSSMiB() float64 { return 0 }

func goVersion() string { return runtime.Version() }
