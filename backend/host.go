package backend

import (
	"fmt"
	"math"
)

// SoftmaxCrossEntropyHost is the softmax cross-entropy of row-major logits
// [n, k] in host memory, for backends to share: it returns the mean loss
// and, when dlogits is not nil, writes the gradient (softmax - one-hot)/n.
// It is O(n*k), so every backend runs it on the host, in float64.
func SoftmaxCrossEntropyHost(logits []float32, n, k int, labels []int32, dlogits []float32) float64 {
	if len(labels) != n {
		panic(fmt.Sprintf("backend: softmax cross-entropy of %d rows with %d labels", n, len(labels)))
	}
	var total float64
	for i := 0; i < n; i++ {
		row := logits[i*k : (i+1)*k]
		maxv := math.Inf(-1)
		for _, v := range row {
			maxv = math.Max(maxv, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - maxv)
		}
		lse := maxv + math.Log(sum)
		total += lse - float64(row[labels[i]])
		if dlogits != nil {
			for j, v := range row {
				p := math.Exp(float64(v) - lse)
				if j == int(labels[i]) {
					p--
				}
				dlogits[i*k+j] = float32(p / float64(n))
			}
		}
	}
	return total / float64(n)
}
