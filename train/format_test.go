package train_test

import (
	"fmt"
	"testing"

	"github.com/resgo/resgo/train"
)

func fmtSscanf(line string, step *int, loss *float64) (int, error) {
	return fmt.Sscanf(line, "After %d training step(s), loss on training batch is %g.", step, loss)
}

// TestFormatLossLikePython: the tutorial prints with Python's "%g".
func TestFormatLossLikePython(t *testing.T) {
	for v, want := range map[float64]string{
		2.30636:     "2.30636",
		2.306361234: "2.30636",
		0.0895806:   "0.0895806",
		0.01064459:  "0.0106446",
		2.5:         "2.5",
		1e-05:       "1e-05",
		0.000123456: "0.000123456",
		1234567:     "1.23457e+06",
	} {
		if got := train.FormatLoss(v); got != want {
			t.Errorf("FormatLoss(%v) = %q, want %q", v, got, want)
		}
	}
}
