//go:build amd64 && !purego

#include "textflag.h"

// TRANSPOSE8X8 transposes the 8x8 block in rows Y0-Y7 into rows Y8-Y15
// (Y0-Y7 clobbered): unpack, shuffle and 128-bit permute, as usual.
#define TRANSPOSE8X8 \
	VUNPCKLPS Y1, Y0, Y8; \
	VUNPCKHPS Y1, Y0, Y9; \
	VUNPCKLPS Y3, Y2, Y10; \
	VUNPCKHPS Y3, Y2, Y11; \
	VUNPCKLPS Y5, Y4, Y12; \
	VUNPCKHPS Y5, Y4, Y13; \
	VUNPCKLPS Y7, Y6, Y14; \
	VUNPCKHPS Y7, Y6, Y15; \
	VSHUFPS $0x44, Y10, Y8, Y0; \
	VSHUFPS $0xEE, Y10, Y8, Y1; \
	VSHUFPS $0x44, Y11, Y9, Y2; \
	VSHUFPS $0xEE, Y11, Y9, Y3; \
	VSHUFPS $0x44, Y14, Y12, Y4; \
	VSHUFPS $0xEE, Y14, Y12, Y5; \
	VSHUFPS $0x44, Y15, Y13, Y6; \
	VSHUFPS $0xEE, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8; \
	VPERM2F128 $0x20, Y5, Y1, Y9; \
	VPERM2F128 $0x20, Y6, Y2, Y10; \
	VPERM2F128 $0x20, Y7, Y3, Y11; \
	VPERM2F128 $0x31, Y4, Y0, Y12; \
	VPERM2F128 $0x31, Y5, Y1, Y13; \
	VPERM2F128 $0x31, Y6, Y2, Y14; \
	VPERM2F128 $0x31, Y7, Y3, Y15

// func Transpose8x8AVX(src *float32, srcStride, srcStep int, dst *float32, dstStride, dstStep int, blocks int)
//
// For b < blocks, transposes the 8x8 block at src + b*srcStep (rows
// srcStride floats apart) into dst + b*dstStep (rows dstStride floats
// apart): dst[j][i] = src[i][j].
TEXT ·Transpose8x8AVX(SB), NOSPLIT, $0-56
	MOVQ src+0(FP), SI
	MOVQ srcStride+8(FP), AX
	SHLQ $2, AX
	MOVQ srcStep+16(FP), DX
	SHLQ $2, DX
	MOVQ dst+24(FP), DI
	MOVQ dstStride+32(FP), BX
	SHLQ $2, BX
	MOVQ dstStep+40(FP), R12
	SHLQ $2, R12
	MOVQ blocks+48(FP), CX
	LEAQ (AX)(AX*2), R8 // 3 rows
	LEAQ (BX)(BX*2), R9
	TESTQ CX, CX
	JEQ done

loop:
	MOVQ SI, R10
	VMOVUPS (R10), Y0
	VMOVUPS (R10)(AX*1), Y1
	VMOVUPS (R10)(AX*2), Y2
	VMOVUPS (R10)(R8*1), Y3
	LEAQ (R10)(AX*4), R10
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(AX*1), Y5
	VMOVUPS (R10)(AX*2), Y6
	VMOVUPS (R10)(R8*1), Y7

	TRANSPOSE8X8


	MOVQ DI, R11
	VMOVUPS Y8, (R11)
	VMOVUPS Y9, (R11)(BX*1)
	VMOVUPS Y10, (R11)(BX*2)
	VMOVUPS Y11, (R11)(R9*1)
	LEAQ (R11)(BX*4), R11
	VMOVUPS Y12, (R11)
	VMOVUPS Y13, (R11)(BX*1)
	VMOVUPS Y14, (R11)(BX*2)
	VMOVUPS Y15, (R11)(R9*1)

	ADDQ DX, SI
	ADDQ R12, DI
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET

// The first 8 lanes set, the next 8 clear: the 32 bytes at
// edgeMask+4(8-n) enable the first n lanes of a VMASKMOVPS.
DATA edgeMask<>+0(SB)/8, $-1
DATA edgeMask<>+8(SB)/8, $-1
DATA edgeMask<>+16(SB)/8, $-1
DATA edgeMask<>+24(SB)/8, $-1
DATA edgeMask<>+32(SB)/8, $0
DATA edgeMask<>+40(SB)/8, $0
DATA edgeMask<>+48(SB)/8, $0
DATA edgeMask<>+56(SB)/8, $0
GLOBL edgeMask<>(SB), RODATA|NOPTR, $64

// func TransposeEdgeAVX(src *float32, srcStride int, dst *float32, dstStride int, rows, cols int)
//
// Transposes the rows x cols block at src (1 <= rows, cols <= 8) into
// dst: masked loads of cols floats from each of rows rows (the missing
// rows zero), the 8x8 network, masked stores of rows floats to each of
// cols rows. Nothing outside the block is read or written.
TEXT ·TransposeEdgeAVX(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ srcStride+8(FP), AX
	SHLQ $2, AX
	MOVQ dst+16(FP), DI
	MOVQ dstStride+24(FP), BX
	SHLQ $2, BX
	MOVQ rows+32(FP), CX
	MOVQ cols+40(FP), DX
	LEAQ edgeMask<>(SB), R10
	MOVQ $8, R11
	SUBQ DX, R11
	VMOVDQU (R10)(R11*4), Y8 // the first cols lanes
	MOVQ $8, R11
	SUBQ CX, R11 // the first rows lanes: the stores' mask, loaded after the network

	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VMASKMOVPS (SI), Y8, Y0
	CMPQ CX, $2
	JLT loaded
	ADDQ AX, SI
	VMASKMOVPS (SI), Y8, Y1
	CMPQ CX, $3
	JLT loaded
	ADDQ AX, SI
	VMASKMOVPS (SI), Y8, Y2
	CMPQ CX, $4
	JLT loaded
	ADDQ AX, SI
	VMASKMOVPS (SI), Y8, Y3
	CMPQ CX, $5
	JLT loaded
	ADDQ AX, SI
	VMASKMOVPS (SI), Y8, Y4
	CMPQ CX, $6
	JLT loaded
	ADDQ AX, SI
	VMASKMOVPS (SI), Y8, Y5
	CMPQ CX, $7
	JLT loaded
	ADDQ AX, SI
	VMASKMOVPS (SI), Y8, Y6
	CMPQ CX, $8
	JLT loaded
	ADDQ AX, SI
	VMASKMOVPS (SI), Y8, Y7

loaded:
	TRANSPOSE8X8


	VMOVDQU (R10)(R11*4), Y0
	VMASKMOVPS Y8, Y0, (DI)
	CMPQ DX, $2
	JLT stored
	ADDQ BX, DI
	VMASKMOVPS Y9, Y0, (DI)
	CMPQ DX, $3
	JLT stored
	ADDQ BX, DI
	VMASKMOVPS Y10, Y0, (DI)
	CMPQ DX, $4
	JLT stored
	ADDQ BX, DI
	VMASKMOVPS Y11, Y0, (DI)
	CMPQ DX, $5
	JLT stored
	ADDQ BX, DI
	VMASKMOVPS Y12, Y0, (DI)
	CMPQ DX, $6
	JLT stored
	ADDQ BX, DI
	VMASKMOVPS Y13, Y0, (DI)
	CMPQ DX, $7
	JLT stored
	ADDQ BX, DI
	VMASKMOVPS Y14, Y0, (DI)
	CMPQ DX, $8
	JLT stored
	ADDQ BX, DI
	VMASKMOVPS Y15, Y0, (DI)

stored:
	VZEROUPPER
	RET

// func BiasReLUAVX(x *float32, n int, bias float32, relu bool)
//
// x[i] = x[i] + bias for i < n (n a multiple of 8), then max(x[i], 0) when
// relu.
TEXT ·BiasReLUAVX(SB), NOSPLIT, $0-21
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS bias+16(FP), Y1
	VXORPS Y2, Y2, Y2
	MOVBLZX relu+20(FP), AX
	SHRQ $3, CX
	JEQ brdone
	TESTQ AX, AX
	JEQ biasonly

brloop:
	VADDPS (SI), Y1, Y0
	VMAXPS Y2, Y0, Y0
	VMOVUPS Y0, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ brloop
	JMP brdone

biasonly:
	VADDPS (SI), Y1, Y0
	VMOVUPS Y0, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ biasonly

brdone:
	VZEROUPPER
	RET

// func AddAVX(dst, src *float32, n int)
//
// dst[i] += src[i] for i < n (a multiple of 8), four vectors a round
// while they last.
TEXT ·AddAVX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JEQ adddone

add4:
	CMPQ CX, $4
	JLT add1
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $128, SI
	SUBQ $4, CX
	JMP add4

add1:
	TESTQ CX, CX
	JEQ adddone
	VMOVUPS (DI), Y0
	VADDPS (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	DECQ CX
	JMP add1

adddone:
	VZEROUPPER
	RET

// func AddReLUAVX(dst, a, b *float32, n int, relu bool)
//
// dst[i] = a[i] + b[i] (a nil: 0 + b[i]) for i < n (a multiple of 8),
// then, when relu, Go's max(0, dst[i]): VMAXPS returns its second source
// (the sum) where either is NaN or both are zeros, and adding +0 turns a
// -0 into +0, so NaN stays NaN and -0 becomes 0, as max does.
TEXT ·AddReLUAVX(SB), NOSPLIT, $0-33
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVBLZX relu+32(FP), AX
	VXORPS Y2, Y2, Y2
	SHRQ $3, CX
	JEQ arldone

arlloop:
	VMOVUPS (DX), Y0
	TESTQ SI, SI
	JEQ arlzero
	VADDPS (SI), Y0, Y0
	ADDQ $32, SI
	JMP arlsum

arlzero:
	VADDPS Y2, Y0, Y0

arlsum:
	TESTQ AX, AX
	JEQ arlstore
	VMAXPS Y0, Y2, Y0 // Intel: vmaxps ymm0, ymm2(0), ymm0(sum)
	VADDPS Y2, Y0, Y0

arlstore:
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ CX
	JNZ arlloop

arldone:
	VZEROUPPER
	RET

// func MaxPairsAVX(r0, r1, out *float32, n int)
//
// out[i] = max(r0[2i], r0[2i+1], r1[2i], r1[2i+1]) for i < n (n a multiple
// of 8): the 2x2, stride-2 max-pool of two rows. Vertical maxima first,
// then even and odd lanes side by side (VSHUFPS), the lanes back in order
// (VPERMPD).
TEXT ·MaxPairsAVX(SB), NOSPLIT, $0-32
	MOVQ r0+0(FP), SI
	MOVQ r1+8(FP), DX
	MOVQ out+16(FP), DI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JEQ mpdone

mploop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMAXPS (DX), Y0, Y0
	VMAXPS 32(DX), Y1, Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xDD, Y1, Y0, Y3
	VMAXPS Y3, Y2, Y2
	VPERMPD $0xD8, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $32, DI
	DECQ CX
	JNZ mploop

mpdone:
	VZEROUPPER
	RET

// func ReLUGradAVX(y, dy, dx *float32, n int)
//
// dx[i] = dy[i] where y[i] > 0, else 0, for i < n (a multiple of 8): y's
// bits compared as int32 against 0 (so -0 and NaNs with the sign set give
// 0, as activeMask does), the mask ANDed with dy (AVX2).
TEXT ·ReLUGradAVX(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), SI
	MOVQ dy+8(FP), DX
	MOVQ dx+16(FP), DI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JEQ rgdone
	VPXOR Y15, Y15, Y15

rg4:
	CMPQ CX, $4
	JLT rg1
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1
	VMOVDQU 64(SI), Y2
	VMOVDQU 96(SI), Y3
	VPCMPGTD Y15, Y0, Y0
	VPCMPGTD Y15, Y1, Y1
	VPCMPGTD Y15, Y2, Y2
	VPCMPGTD Y15, Y3, Y3
	VANDPS (DX), Y0, Y0
	VANDPS 32(DX), Y1, Y1
	VANDPS 64(DX), Y2, Y2
	VANDPS 96(DX), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, DI
	SUBQ $4, CX
	JMP rg4

rg1:
	TESTQ CX, CX
	JEQ rgdone
	VMOVDQU (SI), Y0
	VPCMPGTD Y15, Y0, Y0
	VANDPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JMP rg1

rgdone:
	VZEROUPPER
	RET

// func UpdateAVX(w, grad, vel, avg *float32, n int, c *[4]float32)
//
// One optimizer step on i < n (a multiple of 8), c holding l2, alpha,
// momentum and ema: grad[i] += l2*w[i] where l2 is not ±0; vel[i] =
// vel[i]*momentum + grad[i] where vel is not nil, the step being vel[i]
// then, else grad[i]; w[i] += alpha*step; avg[i] += ema*(w[i] - avg[i])
// where avg is not nil. Each product and sum is rounded on its own (no
// FMA), as the Go loops round them.
TEXT ·UpdateAVX(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ vel+16(FP), DX
	MOVQ avg+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), AX
	VBROADCASTSS 0(AX), Y12  // l2
	VBROADCASTSS 4(AX), Y13  // alpha
	VBROADCASTSS 8(AX), Y14  // momentum
	VBROADCASTSS 12(AX), Y15 // ema
	MOVL 0(AX), R9
	ANDL $0x7fffffff, R9     // 0 when l2 is ±0: no penalty
	SHRQ $3, CX
	JEQ upddone

updloop:
	VMOVUPS (DI), Y0
	VMOVUPS (SI), Y1
	TESTL R9, R9
	JEQ updnol2
	VMULPS Y0, Y12, Y2
	VADDPS Y2, Y1, Y1
	VMOVUPS Y1, (SI)

updnol2:
	TESTQ DX, DX
	JEQ updnov
	VMOVUPS (DX), Y3
	VMULPS Y14, Y3, Y3
	VADDPS Y1, Y3, Y1
	VMOVUPS Y1, (DX)
	ADDQ $32, DX

updnov:
	VMULPS Y1, Y13, Y2
	VADDPS Y2, Y0, Y0
	VMOVUPS Y0, (DI)
	TESTQ R8, R8
	JEQ updnoe
	VMOVUPS (R8), Y4
	VSUBPS Y4, Y0, Y5
	VMULPS Y5, Y15, Y5
	VADDPS Y5, Y4, Y4
	VMOVUPS Y4, (R8)
	ADDQ $32, R8

updnoe:
	ADDQ $32, DI
	ADDQ $32, SI
	DECQ CX
	JNZ updloop

upddone:
	VZEROUPPER
	RET
