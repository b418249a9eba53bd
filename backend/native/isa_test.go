package native

import (
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/reference"
)

// forEachISA runs f as a subtest for every instruction set this CPU runs,
// so that one `go test` covers the assembly and the portable kernels.
func forEachISA(t *testing.T, f func(t *testing.T, k *kernels)) {
	for _, isa := range ISAs() {
		k, err := kernelsFor(isa)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(string(isa), func(t *testing.T) { f(t, k) })
	}
}

// mustNew is NewWith for tests.
func mustNew(t testing.TB, o Options) *Backend {
	t.Helper()
	be, err := NewWith(o)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// oracle runs the reference loops on copies of native tensors.
type oracle struct{ be *reference.Backend }

func (o oracle) of(t *Tensor) backend.Tensor {
	if t == nil {
		return nil
	}
	r := o.be.New(t.Shape()...)
	o.be.Upload(r, t.Data)
	return r
}

func (o oracle) values(r backend.Tensor) []float32 {
	v := make([]float32, backend.Len(r.Shape()))
	o.be.Download(r, v)
	return v
}

// convForward returns the reference y of x, w and b.
func (o oracle) convForward(x, w, b *Tensor, yShape []int, d backend.ConvDesc) []float32 {
	y := o.be.New(yShape...)
	o.be.ConvForward(o.of(x), o.of(w), o.of(b), y, d)
	return o.values(y)
}

// convBackwardData returns the reference dx.
func (o oracle) convBackwardData(dy, w *Tensor, xShape []int, d backend.ConvDesc) []float32 {
	dx := o.be.New(xShape...)
	o.be.ConvBackwardData(o.of(dy), o.of(w), dx, d)
	return o.values(dx)
}

// convBackwardFilter returns the reference dw and db.
func (o oracle) convBackwardFilter(x, dy *Tensor, wShape []int, d backend.ConvDesc) (dw, db []float32) {
	rdw, rdb := o.be.New(wShape...), o.be.New(wShape[0])
	o.be.ConvBackwardFilter(o.of(x), o.of(dy), rdw, rdb, d)
	return o.values(rdw), o.values(rdb)
}

// TestOptions: options (precision included) are validated, defaults filled in, and an
// instruction set the CPU lacks is refused by name.
func TestOptions(t *testing.T) {
	be := mustNew(t, Options{})
	if o := be.Options(); o.Threads < 1 || o.Conv != ConvAuto || o.ISA != ISAs()[0] || o.Precision != F32 {
		t.Fatalf("defaults %+v", o)
	}
	for _, o := range []Options{{Threads: -1}, {Conv: "fast"}, {ISA: "sse9"}, {Precision: "fp8"}, {Precision: "BF16"}} {
		if _, err := NewWith(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	for _, isa := range ISAs() {
		if got := mustNew(t, Options{ISA: isa}).Options().ISA; got != isa {
			t.Errorf("asked for %s, got %s", isa, got)
		}
	}
	t.Logf("this CPU runs: %v", ISAs())
}
