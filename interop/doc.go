// Package interop moves resgo's models to and from other tools: it reads
// PyTorch state_dicts (ReadStateDict, through gopickle, and safetensors
// files) into resgo's models by torchvision's names (LoadStateDict), and
// exports a model as ONNX (ExportONNX), the format most inference runtimes
// read, with message types generated from ONNX's own onnx.proto
// (internal/onnxpb).
package interop
