//go:build onnxruntime

package interop

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/model"
	ort "github.com/yalue/onnxruntime_go"
)

// TestExportRunsInONNXRuntime: onnxruntime (Microsoft's C library, through
// github.com/yalue/onnxruntime_go) computes from the exported file the
// logits resgo computes: the tutorial's seed-resnet34 (zero-padding
// shortcuts), resnet18 and resnet50 at 3x224x224 with batch norm, and a
// small net with TensorFlow's asymmetric SAME padding, at batch 1 and 7
// (one file: the batch is dynamic), within 1e-4 of the largest logit. Needs cgo and the library:
// RESGO_ONNXRUNTIME_LIB=/path/libonnxruntime.so.1 go test -tags onnxruntime ./interop
func TestExportRunsInONNXRuntime(t *testing.T) {
	lib := os.Getenv("RESGO_ONNXRUNTIME_LIB")
	if lib == "" {
		t.Fatal("set RESGO_ONNXRUNTIME_LIB to onnxruntime's shared library (.ci/run shows where to get it)")
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(); err != nil {
		t.Fatal(err)
	}
	defer ort.DestroyEnvironment()
	t.Logf("onnxruntime %s", ort.GetVersion())
	be := native.New(2)
	for _, c := range []model.Config{
		model.DefaultConfig(),
		{Arch: "resnet18", BaseDepth: 64, Classes: 1000, Input: [3]int{3, 224, 224}},
		{Arch: "resnet50", BaseDepth: 64, Classes: 1000, Input: [3]int{3, 224, 224}},
		{Arch: "asymmetric"},
	} {
		var m *model.Model
		if c.Arch == "asymmetric" {
			m = asymmetricModel(t, be, 3)
			c = m.Config
		} else {
			m = randomModel(t, be, c, 3)
		}
		path := filepath.Join(t.TempDir(), c.Arch+".onnx")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := ExportONNX(be, m, f, ONNXOptions{}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		opts, err := ort.NewSessionOptions()
		if err != nil {
			t.Fatal(err)
		}
		opts.SetIntraOpNumThreads(2)
		sess, err := ort.NewDynamicAdvancedSession(path, []string{ONNXInput}, []string{ONNXOutput}, opts)
		opts.Destroy()
		if err != nil {
			t.Fatalf("%s: %v", c.Arch, err)
		}
		for _, n := range []int{1, 7} {
			per := c.Input[0] * c.Input[1] * c.Input[2]
			x := make([]float32, n*per)
			r := rand.New(rand.NewPCG(uint64(n), 5))
			for i := range x {
				x[i] = r.Float32()
			}
			in, err := ort.NewTensor(ort.NewShape(int64(n), int64(c.Input[0]), int64(c.Input[1]), int64(c.Input[2])), x)
			if err != nil {
				t.Fatal(err)
			}
			outputs := []ort.Value{nil}
			if err := sess.Run([]ort.Value{in}, outputs); err != nil {
				t.Fatalf("%s batch %d: %v", c.Arch, n, err)
			}
			got := outputs[0].(*ort.Tensor[float32]).GetData()
			xt := be.New(n, c.Input[0], c.Input[1], c.Input[2])
			be.Upload(xt, x)
			want := make([]float32, n*c.Classes)
			be.Download(m.Forward(xt), want)
			if len(got) != len(want) {
				t.Fatalf("%s batch %d: %d logits from onnxruntime, %d from resgo", c.Arch, n, len(got), len(want))
			}
			var diff, scale float64
			for i := range want {
				diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
				scale = math.Max(scale, math.Abs(float64(want[i])))
			}
			t.Logf("%s batch %d: max |onnxruntime - resgo| = %.3g, largest logit %.3g (%.2g relative)", c.Arch, n, diff, scale, diff/scale)
			if !(diff <= 1e-4*scale) {
				t.Errorf("%s batch %d: logits differ by %.3g, %.3g of the largest", c.Arch, n, diff, diff/scale)
			}
			in.Destroy()
			outputs[0].Destroy()
		}
		sess.Destroy()
	}
}
