//go:build !amd64 || purego

package native

func selectKernel() microKernel { return genericKernel }
