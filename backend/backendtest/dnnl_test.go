//go:build dnnl

package backendtest

import (
	"testing"

	"github.com/resgo/resgo/backend/dnnl"
)

func TestDNNL(t *testing.T) {
	for _, o := range []dnnl.Options{{Threads: 1}, {Threads: 2}, {Threads: 2, Winograd: true}} {
		be, err := dnnl.NewWithOptions(o)
		if err != nil {
			t.Fatal(err)
		}
		Run(t, be)
	}
}

// BenchmarkConvDNNL is BenchmarkConv on the oneDNN backend.
func BenchmarkConvDNNL(b *testing.B) {
	be, err := dnnl.New(0)
	if err != nil {
		b.Fatal(err)
	}
	BenchConvs(b, be)
}

// BenchmarkOtherDNNL is BenchmarkOther on the oneDNN backend.
func BenchmarkOtherDNNL(b *testing.B) {
	be, err := dnnl.New(0)
	if err != nil {
		b.Fatal(err)
	}
	BenchOthers(b, be)
}
