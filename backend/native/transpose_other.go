//go:build !amd64 || purego

package native

var transpose8x8 = transpose8x8Go

func biasReLU(x []float32, bias float32, relu bool) { biasReLUGo(x, bias, relu) }

func maxPairs(r0, r1, out []float32) { maxPairsGo(r0, r1, out) }
