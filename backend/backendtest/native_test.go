package backendtest

import (
	"testing"

	"github.com/resgo/resgo/backend/native"
)

func TestNativeFast(t *testing.T) {
	for _, threads := range []int{1, 2, 3} {
		Run(t, native.New(threads))
	}
}

// TestNativeDirect: the same suite without Winograd's algorithm, so that
// the direct kernels stay covered where Winograd takes over by default.
func TestNativeDirect(t *testing.T) {
	for _, threads := range []int{1, 2} {
		Run(t, native.NewDirect(threads))
	}
}
