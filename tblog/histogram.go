package tblog

import (
	"errors"
	"math"
	"sort"
	"sync"
)

// ErrEmptyHistogram is returned by Writer.Histogram when no finite value is
// given.
var ErrEmptyHistogram = errors.New("tblog: histogram has no finite values")

var (
	defaultLimitsOnce sync.Once
	defaultLimitsVal  []float64
)

// defaultBucketLimits returns TensorFlow's default histogram bucket limits
// (tensorflow/core/lib/histogram/histogram.cc): 1e-12 growing by a factor
// of 1.1 while below 1e20, then DBL_MAX; the negated mirror image; and 0
// between them. The slice is shared and must not be modified.
func defaultBucketLimits() []float64 {
	defaultLimitsOnce.Do(func() {
		var pos []float64
		for v := 1.0e-12; v < 1.0e20; v *= 1.1 {
			pos = append(pos, v)
		}
		pos = append(pos, math.MaxFloat64)
		limits := make([]float64, 0, 2*len(pos)+1)
		for i := len(pos) - 1; i >= 0; i-- {
			limits = append(limits, -pos[i])
		}
		limits = append(limits, 0)
		limits = append(limits, pos...)
		defaultLimitsVal = limits
	})
	return defaultLimitsVal
}

// histogram is the content of a HistogramProto.
type histogram struct {
	min, max, num, sum, sumSquares float64
	bucketLimit, bucket            []float64
}

// bucketIndex returns the bucket of v: the first i with limits[i] > v (as
// TensorFlow's std::upper_bound), clamped to the last bucket so that
// v == DBL_MAX is counted there.
func bucketIndex(limits []float64, v float64) int {
	i := sort.Search(len(limits), func(i int) bool { return limits[i] > v })
	if i == len(limits) {
		i = len(limits) - 1
	}
	return i
}

// newHistogram builds a histogram of the finite values in values using
// TensorFlow's default buckets. Non-finite values (NaN, ±Inf) are left out.
// Only the buckets from the first to the last non-empty one are kept, with
// each run of empty buckets between them merged into one bucket (TF's
// compact encoding).
func newHistogram(values []float32) (*histogram, error) {
	limits := defaultBucketLimits()
	counts := make([]float64, len(limits))
	h := &histogram{min: math.Inf(1), max: math.Inf(-1)}
	first, last := len(limits), -1
	for _, f := range values {
		v := float64(f)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		h.num++
		h.sum += v
		h.sumSquares += v * v
		h.min = math.Min(h.min, v)
		h.max = math.Max(h.max, v)
		i := bucketIndex(limits, v)
		counts[i]++
		first = min(first, i)
		last = max(last, i)
	}
	if h.num == 0 {
		return nil, ErrEmptyHistogram
	}
	for i := first; i <= last; {
		end, c := limits[i], counts[i]
		j := i + 1
		for c == 0 && j <= last && counts[j] == 0 {
			end = limits[j]
			j++
		}
		h.bucketLimit = append(h.bucketLimit, end)
		h.bucket = append(h.bucket, c)
		i = j
	}
	return h, nil
}
