package native

import "github.com/resgo/resgo/backend"

// The fast pooling loops: the reference semantics (padded cells never
// count; the first maximum wins ties) with window bounds computed once per
// output cell and planes spread over goroutines.

// window returns the input rows or columns [lo, hi) that output index o
// covers along one axis.
func window(o, stride, pad, k, size int) (lo, hi int) {
	lo = o*stride - pad
	hi = min(lo+k, size)
	return max(lo, 0), hi
}

// argmax returns the plane offset of the first maximum in rows [y0, y1)
// and columns [x0, x1), or -1 for an empty window.
func argmax(plane []float32, w, y0, y1, x0, x1 int) int {
	best := -1
	for iy := y0; iy < y1; iy++ {
		for ix := x0; ix < x1; ix++ {
			if best < 0 || plane[iy*w+ix] > plane[best] {
				best = iy*w + ix
			}
		}
	}
	return best
}

func (be *Backend) maxPoolForward(x, y backend.Tensor, d backend.PoolDesc) {
	n, c, h, w := dims4(x)
	_, _, oh, ow := dims4(y)
	xs, ys := data(x), data(y)
	be.parallel(n*c, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := xs[p*h*w : (p+1)*h*w]
			out := ys[p*oh*ow : (p+1)*oh*ow]
			for py := 0; py < oh; py++ {
				y0, y1 := window(py, d.StrideH, d.PadTop, d.KH, h)
				for px := 0; px < ow; px++ {
					x0, x1 := window(px, d.StrideW, d.PadLeft, d.KW, w)
					best := argmax(plane, w, y0, y1, x0, x1)
					v := float32(0)
					if best >= 0 {
						v = plane[best]
					}
					out[py*ow+px] = v
				}
			}
		}
	})
}

func (be *Backend) maxPoolBackward(x, dy, dx backend.Tensor, d backend.PoolDesc) {
	n, c, h, w := dims4(x)
	_, _, oh, ow := dims4(dy)
	xs, dys, dxs := data(x), data(dy), data(dx)
	be.parallel(n*c, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := xs[p*h*w : (p+1)*h*w]
			grad := dxs[p*h*w : (p+1)*h*w]
			clear(grad)
			g := dys[p*oh*ow : (p+1)*oh*ow]
			for py := 0; py < oh; py++ {
				y0, y1 := window(py, d.StrideH, d.PadTop, d.KH, h)
				for px := 0; px < ow; px++ {
					x0, x1 := window(px, d.StrideW, d.PadLeft, d.KW, w)
					best := argmax(plane, w, y0, y1, x0, x1)
					if best >= 0 {
						grad[best] += g[py*ow+px]
					}
				}
			}
		}
	})
}
