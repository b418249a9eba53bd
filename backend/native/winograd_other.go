//go:build !amd64 || purego

package native

func winoInput(x []float32, offs *[36]int32, c int, v []float32, planeStride int) {
	winoInputGo(x, offs, c, v, planeStride)
}

func winoOutput(m []float32, planeStride, c int, y []float32, offs *[16]int32, bias []float32, relu bool) {
	winoOutputGo(m, planeStride, c, y, offs, bias, relu)
}

func winoGrad(dy []float32, offs *[16]int32, c int, v []float32, planeStride int) {
	winoGradGo(dy, offs, c, v, planeStride)
}
