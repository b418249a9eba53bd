//go:build dnnl

package backendtest

import (
	"testing"

	"github.com/resgo/resgo/backend/dnnl"
)

func TestDNNL(t *testing.T) {
	for _, threads := range []int{1, 2} {
		be, err := dnnl.New(threads)
		if err != nil {
			t.Fatal(err)
		}
		Run(t, be)
	}
}
