// Package backend defines the compute interface that every layer of resgo is
// written against: layer-level primitives (convolution forward/backward with a
// fused bias and ReLU, pooling, channel padding, fully connected, softmax
// cross-entropy, and the few vector operations optimisers need) acting on
// tensors whose memory the backend owns.
//
// Working at the level of whole layers, rather than scalar kernels, lets a
// backend choose its own memory layout and fuse operations (as oneDNN or a GPU
// library would), while the layers in package nn stay backend-agnostic.
//
// The pure-Go implementation lives in backend/native; its plain reference
// loops are the oracle every optimised path is tested against.
package backend
