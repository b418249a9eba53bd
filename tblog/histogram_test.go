package tblog

import (
	"math"
	"testing"
)

func TestDefaultBucketLimits(t *testing.T) {
	l := defaultBucketLimits()
	n := len(l)
	if n%2 != 1 {
		t.Fatalf("%d limits, want odd", n)
	}
	mid := n / 2
	if l[mid] != 0 || l[mid+1] != 1e-12 || l[mid-1] != -1e-12 {
		t.Fatalf("limits around 0: %v", l[mid-1:mid+2])
	}
	if l[n-1] != math.MaxFloat64 || l[0] != -math.MaxFloat64 {
		t.Fatalf("end limits %v %v", l[0], l[n-1])
	}
	if l[n-2] >= 1e20 || l[n-2]*1.1 < 1e20 {
		t.Fatalf("last finite limit %v", l[n-2])
	}
	for i := 1; i < n; i++ {
		if !(l[i] > l[i-1]) {
			t.Fatalf("not increasing at %d", i)
		}
		if l[i] != -l[n-1-i] {
			t.Fatalf("not symmetric at %d", i)
		}
	}
	for i := mid + 2; i < n-1; i++ {
		if r := l[i] / l[i-1]; math.Abs(r-1.1) > 1e-9 {
			t.Fatalf("ratio %v at %d", r, i)
		}
	}
	// ln(1e32)/ln(1.1) = 773.2: 774 positive finite limits.
	if mid != 775 {
		t.Errorf("%d positive limits, want 775 (774 finite + DBL_MAX)", mid)
	}
}

func TestBucketIndex(t *testing.T) {
	l := defaultBucketLimits()
	mid := len(l) / 2
	cases := []struct {
		v    float64
		want int
	}{
		{0, mid + 1},     // [0, 1e-12)
		{1e-13, mid + 1}, // [0, 1e-12)
		{1e-12, mid + 2}, // [1e-12, 1.1e-12)
		{-1e-12, mid},    // [-1e-12, 0)
		{-1e-13, mid},    // [-1e-12, 0)
		{math.MaxFloat64, len(l) - 1},
		{-math.MaxFloat64, 1},
	}
	for _, c := range cases {
		if got := bucketIndex(l, c.v); got != c.want {
			t.Errorf("bucketIndex(%v) = %d, want %d", c.v, got, c.want)
		}
	}
	for _, v := range []float64{1, 3.5, -2, 1e10, -1e-5, 123.456} {
		i := bucketIndex(l, v)
		if !(l[i-1] <= v && v < l[i]) {
			t.Errorf("%v in bucket %d [%v, %v)", v, i, l[i-1], l[i])
		}
	}
}

func TestHistogramSingleValueAndExtremes(t *testing.T) {
	h, err := newHistogram([]float32{3, 3, 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.bucket) != 1 || h.bucket[0] != 3 || h.min != 3 || h.max != 3 || h.num != 3 || h.sum != 9 || h.sumSquares != 27 {
		t.Fatalf("%+v", h)
	}
	if !(h.bucketLimit[0] > 3 && h.bucketLimit[0] < 3.3001) {
		t.Fatalf("limit %v", h.bucketLimit[0])
	}
	vals := []float32{math.MaxFloat32, -math.MaxFloat32, 0, float32(math.Inf(-1))}
	h, err = newHistogram(vals)
	if err != nil {
		t.Fatal(err)
	}
	checkHisto(t, (*tHisto)(h), vals[:3])
	if h.bucketLimit[len(h.bucketLimit)-1] != math.MaxFloat64 {
		t.Errorf("last limit %v", h.bucketLimit[len(h.bucketLimit)-1])
	}
}
