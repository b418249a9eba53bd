package native

// transpose8x8Go transposes blocks 8x8 blocks laid side by side: for
// b < blocks, dst[(8b+j)*dstStride+i] = src[i*srcStride+8b+j].
func transpose8x8Go(src []float32, srcStride int, dst []float32, dstStride, blocks int) {
	for b := 0; b < blocks; b++ {
		for i := 0; i < 8; i++ {
			row := src[i*srcStride+8*b : i*srcStride+8*b+8]
			for j, v := range row {
				dst[(8*b+j)*dstStride+i] = v
			}
		}
	}
}

// transpose8x8StepsGo transposes blocks 8x8 blocks, block b at
// src[b*srcStep:] into dst[b*dstStep:]: dst[b*dstStep+j*dstStride+i] =
// src[b*srcStep+i*srcStride+j]. Blocks stacked down src's rows (srcStep
// 8*srcStride) go side by side along dst's (dstStep 8), as the layout
// changes want; a weight pack steps from one output channel to the next.
func transpose8x8StepsGo(src []float32, srcStride, srcStep int, dst []float32, dstStride, dstStep, blocks int) {
	for b := 0; b < blocks; b++ {
		transposeEdgeGo(src[b*srcStep:], srcStride, dst[b*dstStep:], dstStride, 8, 8)
	}
}

// transposeEdgeGo transposes one rows x cols block (at most 8x8, the edges
// of a layout change): dst[j*dstStride+i] = src[i*srcStride+j] for
// i < rows, j < cols.
func transposeEdgeGo(src []float32, srcStride int, dst []float32, dstStride, rows, cols int) {
	for i := 0; i < rows; i++ {
		for j, v := range src[i*srcStride : i*srcStride+cols] {
			dst[j*dstStride+i] = v
		}
	}
}

// biasReLUGo adds bias to every element of x, then applies the ReLU when
// relu.
func biasReLUGo(x []float32, bias float32, relu bool) {
	if relu {
		for i, v := range x {
			x[i] = max(v+bias, 0)
		}
		return
	}
	for i, v := range x {
		x[i] = v + bias
	}
}

// addGo is the portable add: dst[i] += src[i] for i < len(dst).
func addGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// addReLUGo is dst[i] = a[i] + b[i] (a nil: +0 + b[i], the sum with a
// zero-padded channel), then Go's max(0, dst[i]) when relu: the residual
// block's merge, exactly as a sum onto a (zero-padded) copy of the
// shortcut and then the ReLU compute it.
func addReLUGo(dst, a, b []float32, relu bool) {
	b = b[:len(dst)]
	if a != nil {
		a = a[:len(dst)]
	}
	for i, v := range b {
		sum := 0 + v
		if a != nil {
			sum = a[i] + v
		}
		if relu {
			sum = max(0, sum)
		}
		dst[i] = sum
	}
}
