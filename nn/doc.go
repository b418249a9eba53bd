// Package nn holds resgo's layers. Each layer pairs a Forward with a
// Backward written by hand (no general autograd is needed for feed-forward
// networks), keeps what its Backward needs from the last Forward, and owns
// its parameters under stable hierarchical names such as
// "resnet_layer/layer4-9-conv/Conv_1/weights" that double as checkpoint keys.
//
// All arithmetic goes through a backend.Backend, so the same layers run on
// every backend. In evaluation (SetTraining(false)), or on int8 values,
// a Sequential hands runs of residual blocks and pairs of convolutions to
// backends that chain them (chain.go) as one call; they keep nothing for
// a backward pass then, and Backward says so.
package nn
