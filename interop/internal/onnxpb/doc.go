// Package onnxpb holds the Go types of ONNX's protobuf messages, generated
// from onnx.proto (ONNX 1.12.0, IR version 8, Apache-2.0; the copy Debian's
// libonnx-dev installs as /usr/include/onnx/onnx.proto) by protoc-gen-go.
// Regenerate with `go generate` (protoc 3.21 and protoc-gen-go v1.36.12 on
// PATH); do not edit onnx.pb.go.
package onnxpb

//go:generate protoc -I . --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/resgo/resgo/interop/internal/onnxpb;onnxpb onnx.proto
