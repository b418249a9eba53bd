package interop

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/interop/internal/onnxpb"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/nn"
	"google.golang.org/protobuf/proto"
)

// randomModel builds a model with random weights, biases and, where it
// has batch norm, statistics and scales (not the 0 and 1 of a fresh
// model), so that an export that drops or misplaces any of them shows.
func randomModel(t testing.TB, be backend.Backend, c model.Config, seed uint64) *model.Model {
	t.Helper()
	m, err := model.Build(be, c)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(seed)
	r := rand.New(rand.NewPCG(seed, 99))
	for _, p := range m.State() {
		v := make([]float32, backend.Len(p.Shape))
		be.Download(p.Value, v)
		for i := range v {
			switch {
			case strings.HasSuffix(p.Name, ".running_var"):
				v[i] = 0.5 + r.Float32()
			case len(p.Shape) == 1: // biases, batch norm's scales, shifts and means
				v[i] = v[i]*(0.8+0.4*r.Float32()) + 0.1*float32(r.NormFloat64())
			}
		}
		be.Upload(p.Value, v)
	}
	m.SetTraining(false)
	return m
}

// asymmetricModel is a small network whose convolution and pooling pad
// more at the bottom and right than at the top and left (TensorFlow's
// SAME at stride 2 on even sizes), which none of the family's models do:
// an export that gets ONNX's pads order wrong computes other values.
func asymmetricModel(t testing.TB, be backend.Backend, seed uint64) *model.Model {
	t.Helper()
	net := &nn.Sequential{Name: "asymmetric", Layers: []nn.Layer{
		nn.NewConv2D(be, "conv", 2, 6, 3, 2, nn.Same, true),         // 10x10 -> 5x5, pads 0,0,1,1
		nn.NewMaxPool(be, "pool", 2, 2, nn.Same),                    // 5x5 -> 3x3, pads 0,0,1,1
		nn.NewConvWithBias(be, "conv2", 6, 4, 3, 2, nn.Same, false), // 3x3 -> 2x2, pads 1,1,1,1
		nn.NewAvgPool(be, "avg", 3, 1, nn.Same),                     // 2x2 -> 2x2, pads 1,1,1,1 (counts only real cells)
		nn.NewLinear(be, "fc", 4*2*2, 3),
	}}
	m := &model.Model{Config: model.Config{Arch: "asymmetric", Input: [3]int{2, 10, 10}, Classes: 3}, Net: net, Params: net.Params()}
	r := rand.New(rand.NewPCG(seed, 7))
	for _, p := range m.Params {
		v := make([]float32, backend.Len(p.Shape))
		for i := range v {
			v[i] = float32(r.NormFloat64()) * 0.5
		}
		be.Upload(p.Value, v)
	}
	return m
}

// exportConfigs are every architecture, small, with each stem and
// shortcut option somewhere.
var exportConfigs = []model.Config{
	{Arch: "seed-resnet34", BaseDepth: 8, Classes: 10, Input: [3]int{1, 28, 28}},
	{Arch: "resnet18", BaseDepth: 8, Classes: 10, Input: [3]int{3, 64, 64}},
	{Arch: "resnet18", BaseDepth: 8, Classes: 5, Input: [3]int{1, 28, 28}, Stem: model.StemSmall, Shortcut: model.ShortcutA},
	{Arch: "resnet34", BaseDepth: 4, Classes: 7, Input: [3]int{3, 32, 32}, Stem: model.StemSmall, Shortcut: model.ShortcutC},
	{Arch: "resnet50", BaseDepth: 4, Classes: 10, Input: [3]int{3, 64, 64}},
	{Arch: "resnet50", BaseDepth: 4, Classes: 10, Input: [3]int{3, 64, 64}, BottleneckStride: model.BottleneckStride3x3},
	{Arch: "resnet101", BaseDepth: 4, Classes: 3, Input: [3]int{3, 32, 32}, Stem: model.StemSmall},
	{Arch: "resnet152", BaseDepth: 4, Classes: 3, Input: [3]int{3, 32, 32}, Stem: model.StemSmall},
	{Arch: "plain18", BaseDepth: 4, Classes: 10, Input: [3]int{1, 28, 28}},
	{Arch: "plain34", BaseDepth: 4, Classes: 10, Input: [3]int{3, 64, 64}},
	{Arch: "vgg19", BaseDepth: 4, Classes: 10, Input: [3]int{3, 32, 32}},
}

// TestExportONNXStructure: every architecture exports; the file decodes
// as an ONNX model with a dynamic batch, the model's input and classes,
// every parameter and statistic as an initializer, and the metadata.
func TestExportONNXStructure(t *testing.T) {
	be := native.New(2)
	for _, c := range exportConfigs {
		m := randomModel(t, be, c, 1)
		var buf bytes.Buffer
		if err := ExportONNX(be, m, &buf, ONNXOptions{Version: "test", Metadata: map[string]string{"labels": `["a"]`, "step": "7"}}); err != nil {
			t.Fatalf("%s: %v", c.Arch, err)
		}
		var mp onnxpb.ModelProto
		if err := proto.Unmarshal(buf.Bytes(), &mp); err != nil {
			t.Fatalf("%s: %v", c.Arch, err)
		}
		g := mp.GetGraph()
		in := g.GetInput()[0].GetType().GetTensorType().GetShape().GetDim()
		out := g.GetOutput()[0].GetType().GetTensorType().GetShape().GetDim()
		if len(in) != 4 || in[0].GetDimParam() != "N" || in[1].GetDimValue() != int64(c.Input[0]) || in[3].GetDimValue() != int64(c.Input[2]) ||
			len(out) != 2 || out[0].GetDimParam() != "N" || out[1].GetDimValue() != int64(c.Classes) {
			t.Errorf("%s: input %v, output %v", c.Arch, in, out)
		}
		floats := 0 // (the others are Pad's pads)
		for _, init := range g.GetInitializer() {
			if init.GetDataType() == int32(onnxpb.TensorProto_FLOAT) {
				floats++
			}
		}
		if floats != len(m.State()) {
			t.Errorf("%s: %d float initializers for %d tensors", c.Arch, floats, len(m.State()))
		}
		if mp.GetIrVersion() != onnxIRVersion || mp.GetOpsetImport()[0].GetVersion() != onnxOpset || len(mp.GetMetadataProps()) != 2 ||
			mp.GetMetadataProps()[0].GetKey() != "labels" {
			t.Errorf("%s: IR %d, opset %v, metadata %v", c.Arch, mp.GetIrVersion(), mp.GetOpsetImport(), mp.GetMetadataProps())
		}
		if last := g.GetNode()[len(g.GetNode())-1]; last.GetOutput()[0] != ONNXOutput || last.GetOpType() != "Gemm" {
			t.Errorf("%s: last node %v", c.Arch, last)
		}
	}
}

// TestExportONNXPassesChecker: ONNX's own checker (Debian's python3-onnx),
// with full shape inference, accepts every architecture's export: the
// shapes it infers node by node end in the declared [N, classes].
func TestExportONNXPassesChecker(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import onnx").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must check exports with ONNX's checker: apt-get install python3-onnx")
		}
		t.Skip("no python3-onnx here (apt-get install python3-onnx)")
	}
	be := native.New(2)
	dir := t.TempDir()
	var files []string
	for i, c := range exportConfigs {
		m := randomModel(t, be, c, 2)
		path := filepath.Join(dir, c.Arch+"-"+string(rune('a'+i))+".onnx")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := ExportONNX(be, m, f, ONNXOptions{}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		files = append(files, path)
	}
	script := `
import sys, onnx
from onnx import shape_inference
for path in sys.argv[1:]:
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    inferred = shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    out = inferred.graph.output[0].type.tensor_type.shape.dim
    print(path, [d.dim_param or d.dim_value for d in out])
`
	asym := filepath.Join(dir, "asymmetric.onnx")
	f, err := os.Create(asym)
	if err != nil {
		t.Fatal(err)
	}
	if err := ExportONNX(be, asymmetricModel(t, be, 1), f, ONNXOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command("/usr/bin/python3", append([]string{"-c", script, asym}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx checker: %v\n%s", err, out)
	}
	for i, c := range exportConfigs {
		want := files[i] + " ['N', " + strconv.Itoa(c.Classes) + "]"
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: checker said\n%s\nwant %q", c.Arch, out, want)
		}
	}
	if !strings.Contains(string(out), asym+" ['N', 3]") {
		t.Errorf("asymmetric padding: checker said\n%s", out)
	}
}
