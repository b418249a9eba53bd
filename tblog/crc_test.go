package tblog

import "testing"

// refCRC32C is a plain bitwise CRC-32C (reflected polynomial 0x82F63B78),
// independent of hash/crc32's tables.
func refCRC32C(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for k := 0; k < 8; k++ {
			if c&1 != 0 {
				c = c>>1 ^ 0x82F63B78
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

// refMask is the TFRecord mask, written out separately from maskCRC.
func refMask(c uint32) uint32 {
	rot := c>>15 | c<<17
	return rot + 0xa282ead8
}

func TestCRC32CCheckValue(t *testing.T) {
	in := []byte("123456789")
	if got := refCRC32C(in); got != 0xE3069283 {
		t.Fatalf("reference CRC-32C(123456789) = %#08x, want 0xe3069283", got)
	}
	if got := crc32c(in); got != 0xE3069283 {
		t.Fatalf("crc32c(123456789) = %#08x, want 0xe3069283", got)
	}
	// Masked by hand: rotr15(0xE3069283) = 0x2507C60D; + 0xa282ead8 = 0xC78AB0E5.
	if got := maskedCRC32C(in); got != 0xC78AB0E5 {
		t.Fatalf("maskedCRC32C(123456789) = %#08x, want 0xc78ab0e5", got)
	}
	// Empty input: CRC 0, masked value is the mask constant.
	if got := maskedCRC32C(nil); got != 0xa282ead8 {
		t.Fatalf("maskedCRC32C(empty) = %#08x, want 0xa282ead8", got)
	}
}

func TestCRC32CAgainstReference(t *testing.T) {
	inputs := [][]byte{
		{},
		{0},
		{0xff},
		[]byte("a"),
		[]byte("brain.Event:2"),
		make([]byte, 32),
		{0x1a, 0, 0, 0, 0, 0, 0, 0},
	}
	long := make([]byte, 1000)
	for i := range long {
		long[i] = byte(i*7 + 3)
	}
	inputs = append(inputs, long)
	for _, in := range inputs {
		if got, want := crc32c(in), refCRC32C(in); got != want {
			t.Errorf("crc32c(% x) = %#08x, reference %#08x", in, got, want)
		}
		if got, want := maskedCRC32C(in), refMask(refCRC32C(in)); got != want {
			t.Errorf("maskedCRC32C(% x) = %#08x, reference %#08x", in, got, want)
		}
	}
}
