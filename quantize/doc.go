// Package quantize turns a trained float32 model into one whose
// convolutions compute on int8 values (post-training, static): it
// calibrates one affine byte map per convolution input on sample images
// (Calibrate: the clip range that minimises the squared error, found on a
// histogram), folds batch norms into the convolutions before them
// (nn.FoldBatchNorm), and stores the maps as a section of a checkpoint
// (Section, Read) that Apply sets on a built model. The weights are
// quantized by the backend (one step per output channel; see
// backend.QuantizedConv).
package quantize
