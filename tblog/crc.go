package tblog

import "hash/crc32"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c returns the CRC-32C (Castagnoli) checksum of b.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// maskCRC applies the TFRecord mask to a CRC-32C value.
func maskCRC(c uint32) uint32 { return ((c >> 15) | (c << 17)) + 0xa282ead8 }

// maskedCRC32C is the masked CRC-32C of b, as stored in TFRecord files.
func maskedCRC32C(b []byte) uint32 { return maskCRC(crc32c(b)) }
