//go:build amd64 && !purego

package asm

//go:generate go run gen_kernels.go
//go:generate go run gen_winograd.go
//go:generate go run gen_bf16.go
//go:generate go run gen_int8.go

// GEMM micro-kernels. A is packed as kc groups of mr values (one per row),
// B as kc groups of nr values (one per column); C has row stride ldc:
//
//	for r := 0; r < mr; r++ {
//		for j := 0; j < nr; j++ {
//			for k := 0; k < kc; k++ {
//				c[r*ldc+j] += a[k*mr+r] * b[k*nr+j]
//			}
//		}
//	}
//
// Kernel12x32AVX512 has mr 12, nr 32; Kernel6x16AVX2 has mr 6, nr 16.
//
//go:noescape
func Kernel12x32AVX512(kc int, a, b, c *float32, ldc int)

// Kernel6x16AVX2 is Kernel12x32AVX512 with mr 6, nr 16.
//
//go:noescape
func Kernel6x16AVX2(kc int, a, b, c *float32, ldc int)

// Kernel12x32AVX512Set is Kernel12x32AVX512 overwriting C (c[r*ldc+j] = the
// sum) instead of adding to it.
//
//go:noescape
func Kernel12x32AVX512Set(kc int, a, b, c *float32, ldc int)

// Kernel6x16AVX2Set is Kernel6x16AVX2 overwriting C.
//
//go:noescape
func Kernel6x16AVX2Set(kc int, a, b, c *float32, ldc int)

// Kernel12x32AVX512Strided reads A and B unpacked, with row strides lda and
// ldb, and overwrites C:
//
//	c[r*ldc+j] = sum over k < kc of a[k*lda+r] * b[k*ldb+j]   (r < 12, j < 32)
//
//go:noescape
func Kernel12x32AVX512Strided(kc int, a, b, c *float32, ldc, lda, ldb int)

// Kernel12x32AVX512StridedAdd is Kernel12x32AVX512Strided adding to C.
//
//go:noescape
func Kernel12x32AVX512StridedAdd(kc int, a, b, c *float32, ldc, lda, ldb int)

// Kernel6x16AVX2Strided is Kernel12x32AVX512Strided with r < 6, j < 16.
//
//go:noescape
func Kernel6x16AVX2Strided(kc int, a, b, c *float32, ldc, lda, ldb int)

// Kernel6x16AVX2StridedAdd is Kernel6x16AVX2Strided adding to C.
//
//go:noescape
func Kernel6x16AVX2StridedAdd(kc int, a, b, c *float32, ldc, lda, ldb int)

// Direct-convolution tile kernels (see backend/native/direct.go): a table
// of taps entries, each mr+1 int32 (mr row offsets into x, each already kc
// past its row's start, then the tap's index), gives the rows of x each
// tap reads:
//
//	for r := 0; r < mr; r++ {
//		for j := 0; j < nr; j++ {
//			var s float32
//			for t := 0; t < taps; t++ {
//				e := tbl[t*(mr+1):]
//				for k := 0; k < kc; k++ {
//					s += x[e[r]-kc+k] * w[e[mr]*tapStride+k*ldb+j]
//				}
//			}
//			c[r*ldc+j] = s
//		}
//	}
//
// Tile12x32AVX512 has mr 12, nr 32.
//
//go:noescape
func Tile12x32AVX512(tbl *int32, taps, kc int, x, w, c *float32, ldc, ldb, tapStride int)

// Tile6x32AVX512Half is Tile12x32AVX512 computing only rows r < 6 of a
// table made for 12 (entries 13 int32 apart): a last tile at most half full.
//
//go:noescape
func Tile6x32AVX512Half(tbl *int32, taps, kc int, x, w, c *float32, ldc, ldb, tapStride int)

// Tile6x16AVX2 is Tile12x32AVX512 with mr 6, nr 16.
//
//go:noescape
func Tile6x16AVX2(tbl *int32, taps, kc int, x, w, c *float32, ldc, ldb, tapStride int)

// PeakLoopAVX512 runs n iterations of 12 independent 16-lane FMAs: the
// probe of the machine's FMA peak, computing nothing.
//
//go:noescape
func PeakLoopAVX512(n int)

// PeakLoopAVX2 is PeakLoopAVX512 with 8-lane FMAs.
//
//go:noescape
func PeakLoopAVX2(n int)

// Winograd F(4x4, 3x3) transforms, 16 (AVX512) or 8 (AVX2) channels at a
// time; c must be a multiple of that width.
//
// WinoInputAVX512 is, for k < c, with d[i][j] = x[offs[6i+j]+k]:
//
//	V = Bᵀ d B;  v[(6i+j)*planeStride+k] = V[i][j]   (i, j < 6)
//
//go:noescape
func WinoInputAVX512(x *float32, offs *int32, c int, v *float32, planeStride int)

// WinoInputBF16AVX512 is WinoInputAVX512 storing V rounded to bfloat16 (to
// nearest even, as VCVTNEPS2BF16 rounds; planeStride in elements): the
// input of the bf16 products, with no float32 copy of the planes. The CPU
// must have AVX512-BF16.
//
//go:noescape
func WinoInputBF16AVX512(x *float32, offs *int32, c int, v *uint16, planeStride int)

// WinoInputAVX2 is WinoInputAVX512, 8 channels at a time.
//
//go:noescape
func WinoInputAVX2(x *float32, offs *int32, c int, v *float32, planeStride int)

// WinoOutputAVX512 is, for k < c, with M[i][j] = m[(6i+j)*planeStride+k]:
//
//	Y = Aᵀ M A;  y[offs[4i+j]+k] = max(Y[i][j] + bias[k], floor)   (i, j < 4)
//
// (floor is 0 for a ReLU, -Inf for none).
//
//go:noescape
func WinoOutputAVX512(m *float32, planeStride, c int, y *float32, offs *int32, bias *float32, floor float32)

// WinoOutputAVX2 is WinoOutputAVX512, 8 channels at a time.
//
//go:noescape
func WinoOutputAVX2(m *float32, planeStride, c int, y *float32, offs *int32, bias *float32, floor float32)

// WinoGradAVX512 is, for k < c, with d[i][j] = dy[offs[4i+j]+k] (i, j < 4):
//
//	D = A d Aᵀ;  v[(6i+j)*planeStride+k] = D[i][j]   (i, j < 6)
//
//go:noescape
func WinoGradAVX512(dy *float32, offs *int32, c int, v *float32, planeStride int)

// WinoGradAVX2 is WinoGradAVX512, 8 channels at a time.
//
//go:noescape
func WinoGradAVX2(dy *float32, offs *int32, c int, v *float32, planeStride int)

// Transpose8x8AVX transposes blocks 8x8 blocks, the b-th at src +
// b*srcStep into dst + b*dstStep (AVX):
//
//	for b := 0; b < blocks; b++ {
//		for i := 0; i < 8; i++ {
//			for j := 0; j < 8; j++ {
//				dst[b*dstStep+j*dstStride+i] = src[b*srcStep+i*srcStride+j]
//			}
//		}
//	}
//
//go:noescape
func Transpose8x8AVX(src *float32, srcStride, srcStep int, dst *float32, dstStride, dstStep int, blocks int)

// TransposeEdgeAVX transposes one rows x cols block (1 <= rows, cols <= 8)
// with masked loads and stores, touching nothing outside it (AVX):
// dst[j*dstStride+i] = src[i*srcStride+j] for i < rows, j < cols.
//
//go:noescape
func TransposeEdgeAVX(src *float32, srcStride int, dst *float32, dstStride int, rows, cols int)

// BiasReLUAVX is, for i < n (a multiple of 8), x[i] += bias, then
// x[i] = max(x[i], 0) when relu (AVX).
//
//go:noescape
func BiasReLUAVX(x *float32, n int, bias float32, relu bool)

// AddAVX is, for i < n (a multiple of 8), dst[i] += src[i] (AVX).
//
//go:noescape
func AddAVX(dst, src *float32, n int)

// ReLUGradAVX is, for i < n (a multiple of 8), dx[i] = dy[i] where y[i]
// > 0 (its bits, as an int32, positive), else 0 (AVX2).
//
//go:noescape
func ReLUGradAVX(y, dy, dx *float32, n int)

// AddReLUAVX is, for i < n (a multiple of 8), dst[i] = a[i] + b[i] (a
// nil: +0 + b[i]), then dst[i] = max(0, dst[i]) as Go's max computes it
// when relu (AVX).
//
//go:noescape
func AddReLUAVX(dst, a, b *float32, n int, relu bool)

// UpdateAVX is, for i < n (a multiple of 8), one optimizer step with c =
// {l2, alpha, momentum, ema}: grad[i] += l2*w[i] (l2 not ±0), vel[i] =
// vel[i]*momentum + grad[i] (vel not nil; the step is then vel[i], else
// grad[i]), w[i] += alpha*step, avg[i] += ema*(w[i] - avg[i]) (avg not
// nil), every operation rounded on its own (AVX).
//
//go:noescape
func UpdateAVX(w, grad, vel, avg *float32, n int, c *[4]float32)

// MaxPairsAVX is, for i < n (a multiple of 8),
// out[i] = max(r0[2i], r0[2i+1], r1[2i], r1[2i+1]): a 2x2, stride-2 max
// pool of two rows (AVX2).
//
//go:noescape
func MaxPairsAVX(r0, r1, out *float32, n int)

// AVX512-BF16 kernels (bf16_amd64.s; the CPU must have AVX512_BF16).
//
// F32ToBF16AVX512 rounds n floats (a multiple of 32) to bfloat16 as
// VCVTNE2PS2BF16 does: to nearest even, denormals to zero of their sign,
// NaNs quiet:
//
//	for i := 0; i < n; i++ {
//		dst[i] = bf16(src[i])
//	}
//
//go:noescape
func F32ToBF16AVX512(n int, src *float32, dst *uint16)

// PairRowsBF16AVX512 rounds two float32 rows to bfloat16 and interleaves
// them into pairs, 32 columns a row, rows times: the layout in which the
// bf16 kernels read B (row k in each word's low half):
//
//	for i := 0; i < rows; i++ {
//		for j := 0; j < 32; j++ {
//			dst[i*ldd+j] = uint32(bf16(lo[i*ld+j])) | uint32(bf16(hi[i*ld+j]))<<16
//		}
//	}
//
//go:noescape
func PairRowsBF16AVX512(rows int, lo, hi *float32, ld int, dst *uint32, ldd int)

// TileBF16x12x32AVX512 is Tile12x32AVX512 on bfloat16 pairs with float32
// sums: x holds rows of bfloat16 channels (the table's offsets count
// 2-byte elements, each kp pairs past its row's start), w pairs of
// weights (b[2p][j] low, b[2p+1][j] high), ldb and tapStride in words;
// each pair of products is added as DotBF16Kernel12x32AVX512 adds it.
//
//go:noescape
func TileBF16x12x32AVX512(tbl *int32, taps, kp int, x *uint16, w *uint32, c *float32, ldc, ldb, tapStride int)

// TileBF16x6x32AVX512Half is TileBF16x12x32AVX512 computing only rows
// r < 6 of a table made for 12.
//
//go:noescape
func TileBF16x6x32AVX512Half(tbl *int32, taps, kp int, x *uint16, w *uint32, c *float32, ldc, ldb, tapStride int)

// TileU8S8x12x32AVX512 is Tile12x32AVX512 on bytes (AVX512-VNNI): x
// holds rows of unsigned bytes (the table's offsets count bytes, each kq
// quads past its row's start), w quads of signed bytes (b[4q+i][j] in
// byte i of word q*ldb+j), ldb and tapStride in words. The int32 sums
// (wrapping, as VPDPBUSD adds) become float32 as they are stored: for
// column j, with comp[j] the sum of zw[t*32+j] over the taps t the tile
// runs,
//
//	c[r*ldc+j] = relu(float32(sum[r][j]-comp[j])*scale[j] + bias[j])
//
// (multiply and add rounded apart; relu only when relu is set).
//
//go:noescape
func TileU8S8x12x32AVX512(tbl *int32, taps, kq int, x *uint8, w *uint32, c *float32, ldc, ldb, tapStride int, zw *int32, scale, bias *float32, relu bool)

// TileU8S8x12x32AVX512Bytes is TileU8S8x12x32AVX512 storing each output
// as the next convolution's byte (ldc in bytes), quantized as
// backend.InputQuant.Quantize does with the inverse step inv:
//
//	c[r*ldc+j] = backend.QuantizeScaled(relu(...)*inv, uint8(zero))
//
//go:noescape
func TileU8S8x12x32AVX512Bytes(tbl *int32, taps, kq int, x *uint8, w *uint32, c *uint8, ldc, ldb, tapStride int, zw *int32, scale, bias *float32, relu bool, inv float32, zero int32)

// PeakLoopVNNIAVX512 runs n iterations of 12 independent VPDPBUSD (64
// byte products each): the core's int8 peak.
//
//go:noescape
func PeakLoopVNNIAVX512(n int)

// DotBF16Kernel12x32AVX512 is the bf16 GEMM micro-kernel: mr 12, nr 32,
// over kp pairs of k, with float32 sums. A is packed as kp groups of 12
// words, each two bfloat16 of one row (k even in the low half); B as kp
// groups of 32 words, each two bfloat16 of one column:
//
//	for r := 0; r < 12; r++ {
//		for j := 0; j < 32; j++ {
//			for p := 0; p < kp; p++ {
//				c[r*ldc+j] += hi(a[p*12+r])*hi(b[p*32+j])
//				c[r*ldc+j] += lo(a[p*12+r])*lo(b[p*32+j])
//			}
//		}
//	}
//
// each += rounded to float32 (the products of two bfloat16 are exact), as
// VDPBF16PS computes them; the sums over p are made in registers and
// added to C at the end.
//
//go:noescape
func DotBF16Kernel12x32AVX512(kp int, a, b *uint32, c *float32, ldc int)

// DotBF16Kernel12x32AVX512Set is DotBF16Kernel12x32AVX512 overwriting C.
//
//go:noescape
func DotBF16Kernel12x32AVX512Set(kp int, a, b *uint32, c *float32, ldc int)

// DotBF16Kernel12x32AVX512Strided reads A and B unpacked, with row
// strides lda and ldb in words, and overwrites C:
//
//	c[r*ldc+j] = sum over p < kp of the pair products of a[p*lda+r] and b[p*ldb+j]
//
// (r < 12, j < 32), each pair added as DotBF16Kernel12x32AVX512 adds it.
//
//go:noescape
func DotBF16Kernel12x32AVX512Strided(kp int, a, b *uint32, c *float32, ldc, lda, ldb int)

// DotBF16Kernel12x32AVX512StridedAdd is DotBF16Kernel12x32AVX512Strided
// adding to C.
//
//go:noescape
func DotBF16Kernel12x32AVX512StridedAdd(kp int, a, b *uint32, c *float32, ldc, lda, ldb int)

// PeakLoopBF16AVX512 runs n iterations of 12 independent VDPBF16PS (32
// multiply-adds each): the core's bf16 peak.
//
//go:noescape
func PeakLoopBF16AVX512(n int)

// Int8 conversions (int8_amd64.s; AVX-512F/BW).
//
// QuantizeU8AVX512 takes n floats (a multiple of 64) to bytes as
// backend.InputQuant.Quantize does, given the inverse step:
//
//	for i := 0; i < n; i++ {
//		dst[i] = backend.QuantizeScaled(src[i]*inv, uint8(zero))
//	}
//
//go:noescape
func QuantizeU8AVX512(n int, src *float32, dst *uint8, inv float32, zero int32)

// QuantizeQuadsAVX512 quantizes four float32 planes (plane floats apart;
// n positions, the last n%16 under a mask) as QuantizeU8AVX512 does and
// packs each position's four bytes into one word, the first plane's
// lowest:
//
//	for i := 0; i < n; i++ {
//		var word uint32
//		for k := 0; k < 4; k++ {
//			word |= uint32(backend.QuantizeScaled(src[k*plane+i]*inv, uint8(zero))) << (8 * k)
//		}
//		dst[i] = word
//	}
//
//go:noescape
func QuantizeQuadsAVX512(n int, src *float32, plane int, dst *uint32, inv float32, zero int32)
