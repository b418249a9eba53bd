package native

import (
	"math"

	"github.com/resgo/resgo/backend"
)

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

// maxPairsGo is the portable maxPairs.
func maxPairsGo(r0, r1, out []float32) {
	for px := range out {
		// Builtin max is branch-free; which cell wins is too random for
		// branches to predict.
		out[px] = max(max(r0[2*px], r0[2*px+1]), max(r1[2*px], r1[2*px+1]))
	}
}

// tiles2x2 reports whether a pooling is the common 2x2, stride-2 one that
// tiles an even map exactly (no padding, no overlap).
func tiles2x2(d backend.PoolDesc, h, w, oh, ow int) bool {
	return d.KH == 2 && d.KW == 2 && d.StrideH == 2 && d.StrideW == 2 &&
		d.PadTop == 0 && d.PadLeft == 0 && h == 2*oh && w == 2*ow
}

func (be *Backend) maxPoolForward(x, y backend.Tensor, d backend.PoolDesc) {
	n, c, h, w := dims4(x)
	_, _, oh, ow := dims4(y)
	xs, ys := data(x), data(y)
	if tiles2x2(d, h, w, oh, ow) {
		be.parallel(n*c, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				plane, out := xs[p*h*w:(p+1)*h*w], ys[p*oh*ow:(p+1)*oh*ow]
				for py := 0; py < oh; py++ {
					be.kern.maxPairs(plane[2*py*w:(2*py+1)*w], plane[(2*py+1)*w:(2*py+2)*w], out[py*ow:(py+1)*ow])
				}
			}
		})
		return
	}
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

func (be *Backend) maxPoolBackward(x, y, dy, dx backend.Tensor, d backend.PoolDesc) {
	n, c, h, w := dims4(x)
	_, _, oh, ow := dims4(dy)
	xs, ys, dys, dxs := data(x), data(y), data(dy), data(dx)
	if tiles2x2(d, h, w, oh, ow) {
		be.parallel(n*c, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				plane, grad := xs[p*h*w:(p+1)*h*w], dxs[p*h*w:(p+1)*h*w]
				g, m := dys[p*oh*ow:(p+1)*oh*ow], ys[p*oh*ow:(p+1)*oh*ow]
				for py := 0; py < oh; py++ {
					r0, r1 := plane[2*py*w:(2*py+1)*w], plane[(2*py+1)*w:(2*py+2)*w]
					d0, d1 := grad[2*py*w:(2*py+1)*w], grad[(2*py+1)*w:(2*py+2)*w]
					ms := m[py*ow : (py+1)*ow]
					for px, gv := range g[py*ow : (py+1)*ow] {
						a, b, c := r0[2*px], r0[2*px+1], r1[2*px]
						// The window's maximum, as the forward pass wrote it.
						v := ms[px]
						// The first maximum's cell takes the gradient, the
						// others zero, through bit masks: which cell wins is
						// too random for branches.
						ma, mb, mc := eqMask(a, v), eqMask(b, v), eqMask(c, v)
						mb &^= ma
						mc &^= ma | mb
						me := ^(ma | mb | mc)
						bits := math.Float32bits(gv)
						d0[2*px], d0[2*px+1] = math.Float32frombits(bits&ma), math.Float32frombits(bits&mb)
						d1[2*px], d1[2*px+1] = math.Float32frombits(bits&mc), math.Float32frombits(bits&me)
					}
				}
			}
		})
		return
	}
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

// avgPoolForward: the reference semantics (the mean over the window's
// cells inside the map, summed in float64) without a callback per cell,
// planes spread over goroutines.
func (be *Backend) avgPoolForward(x, y backend.Tensor, d backend.PoolDesc) {
	n, c, h, w := dims4(x)
	_, _, oh, ow := dims4(y)
	xs, ys := data(x), data(y)
	be.parallel(n*c, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane, out := xs[p*h*w:(p+1)*h*w], ys[p*oh*ow:(p+1)*oh*ow]
			for py := 0; py < oh; py++ {
				y0, y1 := window(py, d.StrideH, d.PadTop, d.KH, h)
				for px := 0; px < ow; px++ {
					x0, x1 := window(px, d.StrideW, d.PadLeft, d.KW, w)
					var sum float64
					for iy := y0; iy < y1; iy++ {
						for _, v := range plane[iy*w+x0 : iy*w+max(x0, x1)] {
							sum += float64(v)
						}
					}
					if cnt := (y1 - y0) * (x1 - x0); y1 > y0 && x1 > x0 {
						sum /= float64(cnt)
					}
					out[py*ow+px] = float32(sum)
				}
			}
		}
	})
}

func (be *Backend) avgPoolBackward(dy, dx backend.Tensor, d backend.PoolDesc) {
	n, c, h, w := dims4(dx)
	_, _, oh, ow := dims4(dy)
	dys, dxs := data(dy), data(dx)
	be.parallel(n*c, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			grad, g := dxs[p*h*w:(p+1)*h*w], dys[p*oh*ow:(p+1)*oh*ow]
			clear(grad)
			for py := 0; py < oh; py++ {
				y0, y1 := window(py, d.StrideH, d.PadTop, d.KH, h)
				for px := 0; px < ow; px++ {
					x0, x1 := window(px, d.StrideW, d.PadLeft, d.KW, w)
					if y1 <= y0 || x1 <= x0 {
						continue
					}
					v := g[py*ow+px] / float32((y1-y0)*(x1-x0))
					for iy := y0; iy < y1; iy++ {
						row := grad[iy*w+x0 : iy*w+x1]
						for i := range row {
							row[i] += v
						}
					}
				}
			}
		}
	})
}

// eqMask is all ones where a == b, else zero, without a branch.
func eqMask(a, b float32) uint32 {
	var m uint32
	if a == b {
		m = 1
	}
	return -m
}
