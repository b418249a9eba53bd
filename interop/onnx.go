package interop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/interop/internal/onnxpb"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/nn"
	"google.golang.org/protobuf/proto"
)

// The ONNX versions written: IR 8 and operator set 13, which every
// maintained runtime reads (ONNX 1.12's checker accepts up to IR 8 and
// opset 17).
const (
	onnxIRVersion = 8
	onnxOpset     = 13
)

// ONNX names of the model's input and output.
const (
	ONNXInput  = "input"
	ONNXOutput = "logits"
)

// ONNXOptions describe the exported file beyond the network.
type ONNXOptions struct {
	// Metadata is stored as the model's metadata_props (e.g. class names,
	// preprocessing, the checkpoint's step), in key order.
	Metadata map[string]string
	// Version is the producer version recorded in the file.
	Version string
}

// ExportONNX writes m as an ONNX model: input "input" of shape [N, C, H, W]
// (N dynamic, C x H x W the model's input), output "logits" [N, classes].
// The weights are those m holds now (load the moving averages first for
// what eval uses). Every padding is explicit, TensorFlow's asymmetric SAME
// included: the spatial size is fixed by the model's input.
func ExportONNX(be backend.Backend, m *model.Model, w io.Writer, o ONNXOptions) error {
	if m == nil || m.Net == nil {
		return errors.New("interop: no model to export")
	}
	b := &onnxBuilder{be: be, graph: &onnxpb.GraphProto{Name: proto.String(m.Config.Arch)}}
	in := m.Config.Input
	b.graph.Input = []*onnxpb.ValueInfoProto{valueInfo(ONNXInput, in[:]...)}
	out, shape, err := b.layer(m.Net, ONNXInput, in[:])
	if err != nil {
		return err
	}
	if len(shape) != 1 || shape[0] != m.Config.Classes {
		return fmt.Errorf("interop: the network ends in shape %v, not %d logits", shape, m.Config.Classes)
	}
	// The last node writes the graph's output under its public name.
	last := b.graph.Node[len(b.graph.Node)-1]
	if last.Output[0] != out {
		return fmt.Errorf("interop: internal error: the last node does not make %s", out)
	}
	last.Output[0] = ONNXOutput
	b.graph.Output = []*onnxpb.ValueInfoProto{valueInfo(ONNXOutput, m.Config.Classes)}
	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(onnxIRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(onnxOpset)}},
		ProducerName:    proto.String("resgo"),
		ProducerVersion: proto.String(o.Version),
		Graph:           b.graph,
	}
	keys := make([]string, 0, len(o.Metadata))
	for k := range o.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(o.Metadata[k])})
	}
	data, err := proto.Marshal(mp)
	if err != nil {
		return fmt.Errorf("interop: encoding the ONNX model: %w", err)
	}
	_, err = w.Write(data)
	return err
}

// onnxBuilder adds nodes and initializers to a graph, naming each value
// after the layer that makes it.
type onnxBuilder struct {
	be    backend.Backend
	graph *onnxpb.GraphProto
	used  map[string]bool
}

// name returns a value name not used before, from a layer's name.
func (b *onnxBuilder) name(base string) string {
	if b.used == nil {
		b.used = map[string]bool{ONNXInput: true, ONNXOutput: true}
	}
	if base == "" {
		base = "value" // an empty name means "no value" in ONNX
	}
	name := base
	for i := 2; b.used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	b.used[name] = true
	return name
}

// node adds one operator and returns its output's name.
func (b *onnxBuilder) node(op, name string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	out := b.name(name)
	b.graph.Node = append(b.graph.Node, &onnxpb.NodeProto{
		OpType: proto.String(op), Name: proto.String(out), Input: inputs, Output: []string{out}, Attribute: attrs,
	})
	return out
}

// param adds a parameter's values as an initializer under its own name.
func (b *onnxBuilder) param(p *nn.Param) string {
	values := make([]float32, backend.Len(p.Shape))
	b.be.Download(p.Value, values)
	return b.floats(p.Name, p.Shape, values)
}

// floats adds float32 values as an initializer (raw little-endian data).
func (b *onnxBuilder) floats(name string, shape []int, values []float32) string {
	raw := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	name = b.name(name)
	b.graph.Initializer = append(b.graph.Initializer, &onnxpb.TensorProto{
		Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw,
	})
	return name
}

// ints adds int64 values as an initializer (Pad's pads).
func (b *onnxBuilder) ints(name string, values []int64) string {
	name = b.name(name)
	b.graph.Initializer = append(b.graph.Initializer, &onnxpb.TensorProto{
		Name: proto.String(name), Dims: []int64{int64(len(values))}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: values,
	})
	return name
}

// layer adds the nodes of l applied to x (of shape in, without the batch
// axis) and returns the output's name and shape.
func (b *onnxBuilder) layer(l nn.Layer, x string, in []int) (string, []int, error) {
	out := l.Describe(in).Out
	switch l := l.(type) {
	case *nn.Sequential:
		shape := in
		for _, sub := range l.Layers {
			var err error
			if x, shape, err = b.layer(sub, x, shape); err != nil {
				return "", nil, err
			}
		}
		return x, shape, nil
	case *nn.Conv2D:
		d := l.ConvDesc(in)
		inputs := []string{x, b.param(l.Weights)}
		if l.Biases != nil {
			inputs = append(inputs, b.param(l.Biases))
		}
		y := b.node("Conv", l.Name, inputs,
			intsAttr("kernel_shape", l.KH, l.KW), intsAttr("strides", d.StrideH, d.StrideW),
			intsAttr("pads", d.PadTop, d.PadLeft, d.PadBottom, d.PadRight))
		if l.ReLU {
			y = b.node("Relu", l.Name+"/relu", []string{y})
		}
		return y, out, nil
	case *nn.BatchNorm:
		y := b.node("BatchNormalization", l.Name,
			[]string{x, b.param(l.Gamma), b.param(l.Beta), b.param(l.RunningMean), b.param(l.RunningVar)},
			floatAttr("epsilon", l.Epsilon))
		if l.ReLU {
			y = b.node("Relu", l.Name+"/relu", []string{y})
		}
		return y, out, nil
	case *nn.ReLU:
		return b.node("Relu", l.Name, []string{x}), out, nil
	case *nn.Pool2D:
		if l.Global {
			if l.Max {
				return b.node("GlobalMaxPool", l.Name, []string{x}), out, nil
			}
			return b.node("GlobalAveragePool", l.Name, []string{x}), out, nil
		}
		d := l.PoolDesc(in)
		op := "AveragePool" // count_include_pad 0: padded cells do not count, as in resgo
		if l.Max {
			op = "MaxPool"
		}
		return b.node(op, l.Name, []string{x},
			intsAttr("kernel_shape", d.KH, d.KW), intsAttr("strides", d.StrideH, d.StrideW),
			intsAttr("pads", d.PadTop, d.PadLeft, d.PadBottom, d.PadRight)), out, nil
	case *nn.Linear:
		flat := x
		if len(in) != 1 { // [N, C, H, W] (a pool's output) to [N, C*H*W], as Linear flattens
			flat = b.node("Flatten", l.Name+"/flatten", []string{x}, intAttr("axis", 1))
		}
		return b.node("Gemm", l.Name, []string{flat, b.param(l.Weight), b.param(l.Bias)}, intAttr("transB", 1)), out, nil
	case *nn.Residual:
		body, bodyShape, err := b.layer(l.Body, x, in)
		if err != nil {
			return "", nil, err
		}
		short, shortShape := x, in
		if l.Shortcut != nil {
			if short, shortShape, err = b.layer(l.Shortcut, x, in); err != nil {
				return "", nil, err
			}
		}
		if extra := bodyShape[0] - shortShape[0]; extra != 0 {
			// He et al.'s option A: the shortcut zero-padded on the
			// channel axis, half before and half after.
			before := int64(extra / 2)
			pads := b.ints(l.Name+"/pads", []int64{0, before, 0, 0, 0, int64(extra) - before, 0, 0})
			short = b.node("Pad", l.Name+"/pad", []string{short, pads}, stringAttr("mode", "constant"))
		}
		y := b.node("Add", l.Name+"/add", []string{body, short})
		if l.ReLU {
			y = b.node("Relu", l.Name+"/relu", []string{y})
		}
		return y, bodyShape, nil
	}
	return "", nil, fmt.Errorf("interop: no ONNX form for layer %q (%T)", l.Describe(in).Name, l)
}

// valueInfo describes a float tensor [N, dims...] with N dynamic.
func valueInfo(name string, dims ...int) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
	}}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: shape,
		}},
	}}
}

func intsAttr(name string, v ...int) *onnxpb.AttributeProto {
	ints := make([]int64, len(v))
	for i, x := range v {
		ints[i] = int64(x)
	}
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: ints}
}

func intAttr(name string, v int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(v))}
}

func floatAttr(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func stringAttr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}
