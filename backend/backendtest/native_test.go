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
