package native

import "unsafe"

// Int8 products (groundwork for int8 inference): unsigned bytes (the
// activations after a ReLU, quantized) times signed bytes (the weights),
// four channels at a time, summed in int32 as AVX512-VNNI's VPDPBUSD
// does. These are the plain versions of internal/asm's TileU8S8* kernels,
// which the tests compare bit for bit.

// tileU8S8Go is the portable u8 x s8 tile kernel for tiles of mr x nr: the
// table as tileFunc's, its offsets counting bytes (kq quads past each
// row's start); w holds quads of signed bytes (channel 4q+i of column j in
// byte i of word q*ldb+j); ldb and tapStride in words; c gets the int32
// sums, wrapping as the instruction's do.
func tileU8S8Go(mr, nr int, tbl *int32, taps, kq int, x *uint8, w *uint32, c *int32, ldc, ldb, tapStride int) {
	entries := unsafe.Slice(tbl, taps*(mr+1))
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	var buf [12 * 32]int32 // the largest tile
	acc := buf[:mr*nr]
	for t := 0; t < taps; t++ {
		e := entries[t*(mr+1) : (t+1)*(mr+1)]
		bs := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(w), 4*int(e[mr])*tapStride)), max(0, (kq-1)*ldb+nr))
		for r := 0; r < mr; r++ {
			xs := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(x), int(e[r])-4*kq)), kq)
			a := acc[r*nr : (r+1)*nr]
			for q, xv := range xs {
				for j, bv := range bs[q*ldb : q*ldb+nr] {
					a[j] += dotU8S8(xv, bv)
				}
			}
		}
	}
	for r := 0; r < mr; r++ {
		copy(cs[r*ldc:r*ldc+nr], acc[r*nr:(r+1)*nr])
	}
}

// dotU8S8 is the sum of the products of x's four unsigned bytes with w's
// four signed ones.
func dotU8S8(x, w uint32) int32 {
	var s int32
	for i := 0; i < 32; i += 8 {
		s += int32(uint8(x>>i)) * int32(int8(w>>i))
	}
	return s
}
