package native

import (
	"math"

	"github.com/resgo/resgo/backend"
)

// BatchNormForward implements backend.Backend.
func (be *Backend) BatchNormForward(x, gamma, beta, mean, variance, y backend.Tensor, d backend.BatchNormDesc) {
	written(mean, variance, y)
	n, c, h, w := dims4(x)
	xs, ys := data(x), data(y)
	gs, bs, ms, vs := data(gamma), data(beta), data(mean), data(variance)
	plane := h * w
	be.parallel(c, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			if d.Training {
				ms[ch], vs[ch] = channelMoments(xs, n, c, plane, ch)
			}
			scale := gs[ch] / float32(math.Sqrt(float64(vs[ch])+float64(d.Epsilon)))
			shift := bs[ch] - ms[ch]*scale
			for i := 0; i < n; i++ {
				off := (i*c + ch) * plane
				src, dst := xs[off:off+plane], ys[off:off+plane]
				if d.ReLU {
					for j, v := range src {
						dst[j] = max(0, v*scale+shift)
					}
				} else {
					for j, v := range src {
						dst[j] = v*scale + shift
					}
				}
			}
		}
	})
}

// channelMoments returns the mean and biased variance of one channel, in
// two passes so that a large mean does not swamp the variance.
func channelMoments(xs []float32, n, c, plane, ch int) (float32, float32) {
	var sum float64
	for i := 0; i < n; i++ {
		off := (i*c + ch) * plane
		var s float32
		for _, v := range xs[off : off+plane] {
			s += v
		}
		sum += float64(s)
	}
	count := float64(n * plane)
	m := sum / count
	var sq float64
	for i := 0; i < n; i++ {
		off := (i*c + ch) * plane
		var s float32
		for _, v := range xs[off : off+plane] {
			d := v - float32(m)
			s += d * d
		}
		sq += float64(s)
	}
	return float32(m), float32(sq / count)
}

// BatchNormBackward implements backend.Backend.
func (be *Backend) BatchNormBackward(x, dy, gamma, mean, variance, dx, dgamma, dbeta backend.Tensor, d backend.BatchNormDesc) {
	written(dx, dgamma, dbeta)
	n, c, h, w := dims4(x)
	xs, dys, dxs := data(x), data(dy), data(dx)
	gs, ms, vs, dgs, dbs := data(gamma), data(mean), data(variance), data(dgamma), data(dbeta)
	plane := h * w
	count := float32(n * plane)
	be.parallel(c, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			m := ms[ch]
			inv := float32(1 / math.Sqrt(float64(vs[ch])+float64(d.Epsilon)))
			var sumDy, sumDyXc float64
			for i := 0; i < n; i++ {
				off := (i*c + ch) * plane
				var a, b float32
				for j, g := range dys[off : off+plane] {
					a += g
					b += g * (xs[off+j] - m)
				}
				sumDy += float64(a)
				sumDyXc += float64(b)
			}
			dbs[ch] = float32(sumDy)
			dgs[ch] = float32(sumDyXc) * inv
			// dx = gamma*inv * (dy - mean(dy) - xhat*mean(dy*xhat))
			k := gs[ch] * inv
			meanDy := float32(sumDy) / count
			proj := float32(sumDyXc) * inv * inv / count
			for i := 0; i < n; i++ {
				off := (i*c + ch) * plane
				for j, g := range dys[off : off+plane] {
					dxs[off+j] = k * (g - meanDy - (xs[off+j]-m)*proj)
				}
			}
		}
	})
}
