// Package asm holds the native backend's assembly kernels (amd64, AVX2 and
// AVX-512), apart from the algorithms that call them, as gonum keeps its
// internal/asm. Each declaration says what it computes as the plain loop
// it replaces; the portable Go versions of those loops live in
// backend/native, which chooses between them (Options.ISA), and the tests
// there compare every kernel here with its Go version.
//
// kernel_amd64.s, winograd_amd64.s and bf16_amd64.s are generated: `go
// generate ./backend/native/internal/asm` runs gen_kernels.go,
// gen_winograd.go and gen_bf16.go, and CI checks that it reproduces the
// committed files byte for byte. Instructions Go's assembler does not
// know yet (AVX512-BF16's) are emitted as bytes by package evex, whose
// test checks each form against GNU objdump.
// transpose_amd64.s is written by hand.
//
// Pointers are to the first element; lengths are the callers' to check
// (the wrappers in backend/native slice-check the last element each kernel
// touches before calling).
package asm
