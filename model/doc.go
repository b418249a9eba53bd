// Package model builds resgo's networks from configurations and gives them
// their initial weights. The default, "seed-resnet34", is exactly the
// ResNet-34 of the TensorFlow tutorial resgo reproduces (no batch norm,
// zero-padding shortcuts, 1x1 stride-2 down-sampling convolutions), with
// TF-slim's parameter names and initialisers.
package model
