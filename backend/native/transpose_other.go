//go:build !amd64 || purego

package native

var transpose8x8 = transpose8x8Go
