// Package interop moves resgo's models to and from other tools. Today it
// exports a model as ONNX (ExportONNX), the format most inference runtimes
// read; the message types are generated from ONNX's own onnx.proto
// (internal/onnxpb).
package interop
