// Package dnnl is resgo's oneDNN backend (Debian: libdnnl-dev), built only
// with the build tag "dnnl" since it needs cgo and the library.
//
// Tensors live in memory oneDNN allocates, in whatever layout the
// primitives that produce them prefer (nChw16c for activations, blocked
// weights): a tensor's layout changes the first time a primitive wants
// another one, so after the first step activations, weights, gradients and
// moving averages all stay blocked and only the model's edges (uploading a
// batch, reading logits, saving a checkpoint) reorder to plain NCHW.
// Convolutions fuse their bias and ReLU; primitives are created once per
// shape and layout and reused.
package dnnl
