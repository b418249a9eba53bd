package backendtest

// ModelConvs are the distinct convolutions of the seed ResNet-34 at
// batch 100, with how many times each occurs in the model.
var ModelConvs = []struct {
	Case  ConvCase
	Count int
}{
	{ConvCase{"stem7x7_1to64_28", 100, 1, 28, 28, 64, 7, 7, 1, true, true, true, ""}, 1},
	{ConvCase{"3x3_64to64_14", 100, 64, 14, 14, 64, 3, 3, 1, true, true, true, ""}, 6},
	{ConvCase{"1x1s2_64to32_14", 100, 64, 14, 14, 32, 1, 1, 2, true, true, true, ""}, 1},
	{ConvCase{"3x3_32to128_7", 100, 32, 7, 7, 128, 3, 3, 1, true, true, true, ""}, 1},
	{ConvCase{"3x3_128to128_7", 100, 128, 7, 7, 128, 3, 3, 1, true, true, true, ""}, 7},
	{ConvCase{"1x1s2_128to64_7", 100, 128, 7, 7, 64, 1, 1, 2, true, true, true, ""}, 1},
	{ConvCase{"3x3_64to256_4", 100, 64, 4, 4, 256, 3, 3, 1, true, true, true, ""}, 1},
	{ConvCase{"3x3_256to256_4", 100, 256, 4, 4, 256, 3, 3, 1, true, true, true, ""}, 11},
	{ConvCase{"1x1s2_256to128_4", 100, 256, 4, 4, 128, 1, 1, 2, true, true, true, ""}, 1},
	{ConvCase{"3x3_128to512_2", 100, 128, 2, 2, 512, 3, 3, 1, true, true, true, ""}, 1},
	{ConvCase{"3x3_512to512_2", 100, 512, 2, 2, 512, 3, 3, 1, true, true, true, ""}, 5},
}

// MACs is the multiply-add count of the convolution's forward pass.
func (c ConvCase) MACs() int64 {
	oh, ow := c.Desc().OutSize(c.H, c.W, c.KH, c.KW)
	return int64(c.N*c.O*oh*ow) * int64(c.C*c.KH*c.KW)
}
