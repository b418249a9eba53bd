package native

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func naiveGemm(m, n, k int, a, b matrix) []float64 {
	c := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a.at(i, p)) * float64(b.at(p, j))
			}
			c[i*n+j] = s
		}
	}
	return c
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// TestGemm checks the packed GEMM against plain loops over shapes that hit
// every edge: sizes below, at and above the micro-tile and cache blocks,
// both transposes, beta 0 and 1, and several thread counts.
func TestGemm(t *testing.T) { forEachISA(t, testGemm) }

func testGemm(t *testing.T, kern *kernels) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {12, 32, 8}, {13, 33, 9}, {64, 400, 576}, {145, 70, 300}, {7, 2100, 260}, {300, 5, 513}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, threads := range []int{1, 2, 3} {
					for _, beta := range []float32{0, 1} {
						name := fmt.Sprintf("%dx%dx%d/ta=%v/tb=%v/t=%d/beta=%v", m, n, k, ta, tb, threads, beta)
						a := matrix{data: randSlice(r, m*k), stride: k, trans: ta}
						if ta {
							a.stride = m
						}
						b := matrix{data: randSlice(r, k*n), stride: n, trans: tb}
						if tb {
							b.stride = k
						}
						ldc := n + 3
						c := randSlice(r, m*ldc)
						c0 := append([]float32(nil), c...)
						gemm(kern, threads, m, n, k, a, b, beta, c, ldc)
						want := naiveGemm(m, n, k, a, b)
						for i := 0; i < m; i++ {
							for j := 0; j < ldc; j++ {
								got := float64(c[i*ldc+j])
								if j >= n {
									if c[i*ldc+j] != c0[i*ldc+j] {
										t.Fatalf("%s: wrote outside C at (%d,%d)", name, i, j)
									}
									continue
								}
								w := want[i*n+j] + float64(beta)*float64(c0[i*ldc+j])
								if math.Abs(got-w) > 1e-4*math.Sqrt(float64(k))*(1+math.Abs(w)) {
									t.Fatalf("%s: C(%d,%d) = %v, want %v", name, i, j, got, w)
								}
							}
						}
					}
				}
			}
		}
	}
}

func BenchmarkGemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range [][3]int{{64, 19600, 576}, {512, 400, 4608}, {256, 1600, 2304}} {
		m, n, k := s[0], s[1], s[2]
		a := matrix{data: randSlice(r, m*k), stride: k}
		bm := matrix{data: randSlice(r, k*n), stride: n}
		c := make([]float32, m*n)
		kern, _ := kernelsFor("")
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/m=%d,n=%d,k=%d/threads=%d", kern.isa, m, n, k, threads), func(b *testing.B) {
				for b.Loop() {
					gemm(kern, threads, m, n, k, a, bm, 0, c, n)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestMeasurePeak: the probe gives a plausible figure, and the GEMM kernel
// cannot beat it by much (which would mean the probe undercounts).
func TestMeasurePeak(t *testing.T) {
	peak, isa := MeasurePeak(1)
	t.Logf("one-thread FMA peak: %.1f GFLOP/s (%s)", peak, isa)
	if peak < 0.5 || peak > 1000 {
		t.Fatalf("implausible peak %v", peak)
	}
}

// TestStridedKernel: the unpacked micro-kernels (set, then add) against
// plain loops, with row strides wider than their block.
func TestStridedKernel(t *testing.T) { forEachISA(t, testStridedKernel) }

func testStridedKernel(t *testing.T, kern *kernels) {
	random := randomTensors(5)
	mr, nr := kern.mr, kern.nr
	const kc, lda, ldb, ldc = 37, 50, 70, 90
	a, b := random(kc*lda).Data, random(kc*ldb).Data
	c := make([]float32, mr*ldc)
	kern.strided(kc, &a[3], &b[5], &c[0], ldc, lda, ldb)
	kern.stridedAdd(kc, &a[3], &b[5], &c[0], ldc, lda, ldb) // c is now twice the product
	for r := 0; r < mr; r++ {
		for j := 0; j < nr; j++ {
			want := 0.0
			for k := 0; k < kc; k++ {
				want += 2 * float64(a[3+k*lda+r]) * float64(b[5+k*ldb+j])
			}
			if got := c[r*ldc+j]; math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
				t.Fatalf("%s: c[%d][%d] = %v, want %v", kern.isa, r, j, got, want)
			}
		}
	}
}
