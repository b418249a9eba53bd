package reference

import (
	"math"

	"github.com/resgo/resgo/backend"
)

// The reference loops: direct transcriptions of each primitive's definition,
// accumulating in float64. They are deliberately unoptimised; they are the
// oracle for the fast path and for other backends.

func refConvForward(x, w, b, y backend.Tensor, d backend.ConvDesc) {
	n, c, h, wd := dims4(x)
	o, _, kh, kw := dims4(w)
	_, _, oh, ow := dims4(y)
	xs, ws, bs, ys := data(x), data(w), data(b), data(y)
	for in := 0; in < n; in++ {
		for io := 0; io < o; io++ {
			for py := 0; py < oh; py++ {
				for px := 0; px < ow; px++ {
					var sum float64
					if bs != nil {
						sum = float64(bs[io])
					}
					for ic := 0; ic < c; ic++ {
						for ky := 0; ky < kh; ky++ {
							iy := py*d.StrideH - d.PadTop + ky
							if iy < 0 || iy >= h {
								continue
							}
							for kx := 0; kx < kw; kx++ {
								ix := px*d.StrideW - d.PadLeft + kx
								if ix < 0 || ix >= wd {
									continue
								}
								sum += float64(xs[((in*c+ic)*h+iy)*wd+ix]) * float64(ws[((io*c+ic)*kh+ky)*kw+kx])
							}
						}
					}
					if d.ReLU && sum < 0 {
						sum = 0
					}
					ys[((in*o+io)*oh+py)*ow+px] = float32(sum)
				}
			}
		}
	}
}

func refConvBackwardData(dy, w, dx backend.Tensor, d backend.ConvDesc) {
	n, c, h, wd := dims4(dx)
	o, _, kh, kw := dims4(w)
	_, _, oh, ow := dims4(dy)
	dys, ws, dxs := data(dy), data(w), data(dx)
	acc := make([]float64, len(dxs))
	for in := 0; in < n; in++ {
		for io := 0; io < o; io++ {
			for py := 0; py < oh; py++ {
				for px := 0; px < ow; px++ {
					g := float64(dys[((in*o+io)*oh+py)*ow+px])
					for ic := 0; ic < c; ic++ {
						for ky := 0; ky < kh; ky++ {
							iy := py*d.StrideH - d.PadTop + ky
							if iy < 0 || iy >= h {
								continue
							}
							for kx := 0; kx < kw; kx++ {
								ix := px*d.StrideW - d.PadLeft + kx
								if ix < 0 || ix >= wd {
									continue
								}
								acc[((in*c+ic)*h+iy)*wd+ix] += g * float64(ws[((io*c+ic)*kh+ky)*kw+kx])
							}
						}
					}
				}
			}
		}
	}
	for i, v := range acc {
		dxs[i] = float32(v)
	}
}

func refConvBackwardFilter(x, dy, dw, db backend.Tensor, d backend.ConvDesc) {
	n, c, h, wd := dims4(x)
	o, _, kh, kw := dims4(dw)
	_, _, oh, ow := dims4(dy)
	xs, dys, dws, dbs := data(x), data(dy), data(dw), data(db)
	for io := 0; io < o; io++ {
		for ic := 0; ic < c; ic++ {
			for ky := 0; ky < kh; ky++ {
				for kx := 0; kx < kw; kx++ {
					var sum float64
					for in := 0; in < n; in++ {
						for py := 0; py < oh; py++ {
							iy := py*d.StrideH - d.PadTop + ky
							if iy < 0 || iy >= h {
								continue
							}
							for px := 0; px < ow; px++ {
								ix := px*d.StrideW - d.PadLeft + kx
								if ix < 0 || ix >= wd {
									continue
								}
								sum += float64(dys[((in*o+io)*oh+py)*ow+px]) * float64(xs[((in*c+ic)*h+iy)*wd+ix])
							}
						}
					}
					dws[((io*c+ic)*kh+ky)*kw+kx] = float32(sum)
				}
			}
		}
		if dbs != nil {
			var sum float64
			for in := 0; in < n; in++ {
				for p := 0; p < oh*ow; p++ {
					sum += float64(dys[(in*o+io)*oh*ow+p])
				}
			}
			dbs[io] = float32(sum)
		}
	}
}

// poolWindow calls visit for every input cell of the window of output cell
// (py, px) that lies inside the h x w input.
func poolWindow(d backend.PoolDesc, h, w, py, px int, visit func(iy, ix int)) {
	for ky := 0; ky < d.KH; ky++ {
		iy := py*d.StrideH - d.PadTop + ky
		if iy < 0 || iy >= h {
			continue
		}
		for kx := 0; kx < d.KW; kx++ {
			ix := px*d.StrideW - d.PadLeft + kx
			if ix < 0 || ix >= w {
				continue
			}
			visit(iy, ix)
		}
	}
}

// refMaxArg returns the flat index (within one h x w plane) of the first
// maximum of the window, or -1 for an empty window.
func refMaxArg(plane []float32, d backend.PoolDesc, h, w, py, px int) int {
	best := -1
	poolWindow(d, h, w, py, px, func(iy, ix int) {
		if best < 0 || plane[iy*w+ix] > plane[best] {
			best = iy*w + ix
		}
	})
	return best
}

func refMaxPoolForward(x, y backend.Tensor, d backend.PoolDesc) {
	n, c, h, w := dims4(x)
	_, _, oh, ow := dims4(y)
	xs, ys := data(x), data(y)
	for p := 0; p < n*c; p++ {
		plane := xs[p*h*w : (p+1)*h*w]
		for py := 0; py < oh; py++ {
			for px := 0; px < ow; px++ {
				v := float32(0)
				if a := refMaxArg(plane, d, h, w, py, px); a >= 0 {
					v = plane[a]
				}
				ys[(p*oh+py)*ow+px] = v
			}
		}
	}
}

func refMaxPoolBackward(x, dy, dx backend.Tensor, d backend.PoolDesc) {
	n, c, h, w := dims4(x)
	_, _, oh, ow := dims4(dy)
	xs, dys, dxs := data(x), data(dy), data(dx)
	clear(dxs)
	for p := 0; p < n*c; p++ {
		plane := xs[p*h*w : (p+1)*h*w]
		for py := 0; py < oh; py++ {
			for px := 0; px < ow; px++ {
				if a := refMaxArg(plane, d, h, w, py, px); a >= 0 {
					dxs[p*h*w+a] += dys[(p*oh+py)*ow+px]
				}
			}
		}
	}
}

func refAvgPoolForward(x, y backend.Tensor, d backend.PoolDesc) {
	n, c, h, w := dims4(x)
	_, _, oh, ow := dims4(y)
	xs, ys := data(x), data(y)
	for p := 0; p < n*c; p++ {
		for py := 0; py < oh; py++ {
			for px := 0; px < ow; px++ {
				var sum float64
				cnt := 0
				poolWindow(d, h, w, py, px, func(iy, ix int) {
					sum += float64(xs[(p*h+iy)*w+ix])
					cnt++
				})
				if cnt > 0 {
					sum /= float64(cnt)
				}
				ys[(p*oh+py)*ow+px] = float32(sum)
			}
		}
	}
}

func refAvgPoolBackward(dy, dx backend.Tensor, d backend.PoolDesc) {
	n, c, h, w := dims4(dx)
	_, _, oh, ow := dims4(dy)
	dys, dxs := data(dy), data(dx)
	clear(dxs)
	for p := 0; p < n*c; p++ {
		for py := 0; py < oh; py++ {
			for px := 0; px < ow; px++ {
				cnt := 0
				poolWindow(d, h, w, py, px, func(int, int) { cnt++ })
				if cnt == 0 {
					continue
				}
				g := dys[(p*oh+py)*ow+px] / float32(cnt)
				poolWindow(d, h, w, py, px, func(iy, ix int) { dxs[(p*h+iy)*w+ix] += g })
			}
		}
	}
}

func refLinearForward(x, w, b, y backend.Tensor) {
	xs, ws, bs, ys := data(x), data(w), data(b), data(y)
	n, k := x.Shape()[0], x.Shape()[1]
	m := w.Shape()[0]
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			var sum float64
			if bs != nil {
				sum = float64(bs[j])
			}
			for p := 0; p < k; p++ {
				sum += float64(xs[i*k+p]) * float64(ws[j*k+p])
			}
			ys[i*m+j] = float32(sum)
		}
	}
}

func refLinearBackward(x, w, dy, dx, dw, db backend.Tensor) {
	xs, ws, dys, dxs, dws, dbs := data(x), data(w), data(dy), data(dx), data(dw), data(db)
	n, k := x.Shape()[0], x.Shape()[1]
	m := w.Shape()[0]
	if dxs != nil {
		for i := 0; i < n; i++ {
			for p := 0; p < k; p++ {
				var sum float64
				for j := 0; j < m; j++ {
					sum += float64(dys[i*m+j]) * float64(ws[j*k+p])
				}
				dxs[i*k+p] = float32(sum)
			}
		}
	}
	for j := 0; j < m; j++ {
		for p := 0; p < k; p++ {
			var sum float64
			for i := 0; i < n; i++ {
				sum += float64(dys[i*m+j]) * float64(xs[i*k+p])
			}
			dws[j*k+p] = float32(sum)
		}
		if dbs != nil {
			var sum float64
			for i := 0; i < n; i++ {
				sum += float64(dys[i*m+j])
			}
			dbs[j] = float32(sum)
		}
	}
}

// softmaxCrossEntropy is shared by both paths.

// refBatchNormForward is the textbook formula in float64, one element at
// a time.
func refBatchNormForward(x, gamma, beta, mean, variance, y backend.Tensor, d backend.BatchNormDesc) {
	n, c, h, w := dims4(x)
	xs, ys := data(x), data(y)
	gs, bs, ms, vs := data(gamma), data(beta), data(mean), data(variance)
	at := func(i, ch, j int) int { return (i*c+ch)*h*w + j }
	count := float64(n * h * w)
	for ch := 0; ch < c; ch++ {
		if d.Training {
			var s float64
			for i := 0; i < n; i++ {
				for j := 0; j < h*w; j++ {
					s += float64(xs[at(i, ch, j)])
				}
			}
			m := s / count
			var q float64
			for i := 0; i < n; i++ {
				for j := 0; j < h*w; j++ {
					v := float64(xs[at(i, ch, j)]) - m
					q += v * v
				}
			}
			ms[ch], vs[ch] = float32(m), float32(q/count)
		}
		std := math.Sqrt(float64(vs[ch]) + float64(d.Epsilon))
		for i := 0; i < n; i++ {
			for j := 0; j < h*w; j++ {
				v := float64(gs[ch])*(float64(xs[at(i, ch, j)])-float64(ms[ch]))/std + float64(bs[ch])
				if d.ReLU {
					v = math.Max(0, v)
				}
				ys[at(i, ch, j)] = float32(v)
			}
		}
	}
}

// refBatchNormBackward is the gradient of the training-mode forward in
// float64: dx = gamma/std * (dy - mean(dy) - xhat * mean(dy * xhat)).
func refBatchNormBackward(x, dy, gamma, mean, variance, dx, dgamma, dbeta backend.Tensor, d backend.BatchNormDesc) {
	n, c, h, w := dims4(x)
	xs, dys, dxs := data(x), data(dy), data(dx)
	gs, ms, vs, dgs, dbs := data(gamma), data(mean), data(variance), data(dgamma), data(dbeta)
	at := func(i, ch, j int) int { return (i*c+ch)*h*w + j }
	count := float64(n * h * w)
	for ch := 0; ch < c; ch++ {
		std := math.Sqrt(float64(vs[ch]) + float64(d.Epsilon))
		xhat := func(k int) float64 { return (float64(xs[k]) - float64(ms[ch])) / std }
		var sumDy, sumDyXhat float64
		for i := 0; i < n; i++ {
			for j := 0; j < h*w; j++ {
				k := at(i, ch, j)
				sumDy += float64(dys[k])
				sumDyXhat += float64(dys[k]) * xhat(k)
			}
		}
		dbs[ch], dgs[ch] = float32(sumDy), float32(sumDyXhat)
		for i := 0; i < n; i++ {
			for j := 0; j < h*w; j++ {
				k := at(i, ch, j)
				dxs[k] = float32(float64(gs[ch]) / std * (float64(dys[k]) - sumDy/count - xhat(k)*sumDyXhat/count))
			}
		}
	}
}

// refConvForwardU8S8 is refConvForward on quantized values (see
// backend.QuantizedConv): bytes multiplied and summed exactly, then scaled.
func refConvForwardU8S8(x, w, b, y backend.Tensor, d backend.ConvDesc, in backend.InputQuant) {
	n, c, h, wd := dims4(x)
	o, _, kh, kw := dims4(w)
	_, _, oh, ow := dims4(y)
	xs, ws, bs, ys := data(x), data(w), data(b), data(y)
	steps := backend.WeightSteps(ws, o)
	zero := int64(in.Zero)
	for img := 0; img < n; img++ {
		for io := 0; io < o; io++ {
			for py := 0; py < oh; py++ {
				for px := 0; px < ow; px++ {
					var sum int64
					for ic := 0; ic < c; ic++ {
						for ky := 0; ky < kh; ky++ {
							iy := py*d.StrideH - d.PadTop + ky
							if iy < 0 || iy >= h {
								continue
							}
							for kx := 0; kx < kw; kx++ {
								ix := px*d.StrideW - d.PadLeft + kx
								if ix < 0 || ix >= wd {
									continue
								}
								q := int64(in.Quantize(xs[((img*c+ic)*h+iy)*wd+ix])) - zero
								sum += q * int64(backend.QuantizeS8(ws[((io*c+ic)*kh+ky)*kw+kx], steps[io]))
							}
						}
					}
					v := backend.Int8Output(int32(sum), in.Step, steps[io])
					if bs != nil {
						v += bs[io]
					}
					if d.ReLU && v < 0 {
						v = 0
					}
					ys[((img*o+io)*oh+py)*ow+px] = v
				}
			}
		}
	}
}
