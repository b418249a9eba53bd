// Package native is resgo's pure-Go compute backend. Tensors are plain
// row-major NCHW float32 slices.
//
// It has two paths. The reference path (ref.go) is a set of short, obvious
// loops written for clarity: it is the oracle that every optimised kernel, in
// this package or another backend, is tested against. The fast path lowers
// convolutions to matrix multiplication (im2col / col2im) and runs a
// cache-blocked, packed GEMM whose inner micro-kernel is written in assembly
// for AVX-512 or AVX2+FMA when the CPU has them, with a portable Go kernel
// everywhere else; work is spread over goroutines.
//
// Set RESGO_KERNEL=generic in the environment to force the portable kernel.
package native
