//go:build dnnl

package dnnl

import "github.com/resgo/resgo/backend"

// The pair table of conv2x2.go, its only user. A 3x3, stride-1, padding-1
// convolution on 2x2 maps reads zero padding through 5 of its 9 taps on
// average: each output pixel p sees each of the four input pixels q
// through exactly one tap. Matrix products per tap over the (p, q) pairs
// it joins do 4/9 of the multiply-adds. With activations as rows of
// pixels (NHWC: pixel n*4+y*2+x of the batch is row n*4+y*2+x), the pairs
// of one tap are evenly strided rows: the centre tap joins every pixel to
// itself (all 4N rows), a horizontal neighbour tap joins two pixels per
// image at stride 2, and the other taps one pixel per image (stride 4).

// pairRun is the rows of one such product: output rows P0, P0+Stride, ...
// and input rows Q0, Q0+Stride, ..., 4N/Stride of each, joined by kernel
// tap Tap (ky*3+kx).
type pairRun struct {
	Tap, P0, Q0, Stride int
}

// pairRuns2x2 lists the 11 products, the centre tap first: it covers every
// output row, so it can overwrite where the others accumulate.
var pairRuns2x2 = func() []pairRun {
	runs := []pairRun{{Tap: 4, P0: 0, Q0: 0, Stride: 1}}
	for t := 0; t < 9; t++ {
		dy, dx := t/3-1, t%3-1
		switch {
		case t == 4:
		case dy == 0:
			// Pixels (y, x0) -> (y, x0+dx) for both rows y: stride 2.
			x0 := max(0, -dx)
			runs = append(runs, pairRun{Tap: t, P0: x0, Q0: x0 + dx, Stride: 2})
		default:
			for py := 0; py < 2; py++ {
				for px := 0; px < 2; px++ {
					qy, qx := py+dy, px+dx
					if qy < 0 || qy > 1 || qx < 0 || qx > 1 {
						continue
					}
					runs = append(runs, pairRun{Tap: t, P0: py*2 + px, Q0: qy*2 + qx, Stride: 4})
				}
			}
		}
	}
	return runs
}()

// is2x2Conv reports whether a convolution of h x w maps with a kh x kw
// kernel and descriptor d is one that pairRuns2x2 covers.
func is2x2Conv(h, w, kh, kw int, d backend.ConvDesc) bool {
	return h == 2 && w == 2 && kh == 3 && kw == 3 && d.StrideH == 1 && d.StrideW == 1 &&
		d.PadTop == 1 && d.PadBottom == 1 && d.PadLeft == 1 && d.PadRight == 1
}
