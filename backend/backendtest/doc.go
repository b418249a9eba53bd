// Package backendtest is the conformance suite every backend must pass: each
// primitive is run on a table of shapes (1x1 kernels, odd sizes, stride 2,
// TensorFlow SAME padding with its extra bottom/right row, 2x2 spatial
// inputs, batch 1) and compared with the native backend's reference loops.
package backendtest
