package native

import (
	"fmt"
	"testing"
)

// TestLayoutChanges checks toSlivers and fromRows, on every instruction
// set, against their definitions element by element: shapes with whole
// 8x8 blocks and with edges on both sides (positions fewer than 8 or not a
// multiple of 8; channels not a multiple of 8, and a sliver wider than
// the channels left), bias and ReLU on the way back.
func TestLayoutChanges(t *testing.T) { forEachISA(t, testLayoutChanges) }

func testLayoutChanges(t *testing.T, k *kernels) {
	be := mustNew(t, Options{Threads: 2, ISA: k.isa})
	for _, s := range []struct{ n, c, p, w int }{
		{3, 16, 16, 16}, {2, 64, 196, 64}, {3, 13, 49, 13}, {2, 20, 4, 8}, {2, 5, 3, 8}, {4, 24, 9, 16}, {1, 1, 1, 1},
	} {
		t.Run(fmt.Sprintf("n%d_c%d_p%d_w%d", s.n, s.c, s.p, s.w), func(t *testing.T) {
			n, c, p, w := s.n, s.c, s.p, s.w
			src := make([]float32, n*c*p)
			for i := range src {
				src[i] = float32(i + 1)
			}
			slivers := (c + w - 1) / w
			dst := make([]float32, slivers*p*n*w)
			for i := range dst {
				dst[i] = -1
			}
			be.toSlivers(src, n, c, p, w, dst)
			for sl := range slivers {
				for q := range p {
					for img := range n {
						for j := range w {
							want := float32(0)
							if ch := sl*w + j; ch < c {
								want = src[(img*c+ch)*p+q]
							}
							if got := dst[((sl*p+q)*n+img)*w+j]; got != want {
								t.Fatalf("toSlivers: sliver %d position %d image %d channel %d = %v, want %v", sl, q, img, j, got, want)
							}
						}
					}
				}
			}

			// Back: rows of ld >= c columns, the ones past c not copied.
			ld := c + 3
			rows := make([]float32, p*n*ld)
			for i := range rows {
				rows[i] = float32(i%29) - 14
			}
			bias := make([]float32, c)
			for i := range bias {
				bias[i] = float32(i%3) - 1
			}
			for _, relu := range []bool{false, true} {
				out := make([]float32, n*c*p)
				be.fromRows(rows, ld, n, c, p, out, bias, relu)
				for img := range n {
					for ch := range c {
						for q := range p {
							want := rows[(q*n+img)*ld+ch] + bias[ch]
							if relu {
								want = max(want, 0)
							}
							if got := out[(img*c+ch)*p+q]; got != want {
								t.Fatalf("fromRows relu %v: image %d channel %d position %d = %v, want %v", relu, img, ch, q, got, want)
							}
						}
					}
				}
			}
		})
	}
}
