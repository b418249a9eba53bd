//go:build dnnl

package main

import (
	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/dnnl"
)

func init() {
	backends["dnnl"] = func(b backendFlags) (backend.Backend, error) { return dnnl.New(b.threads) }
	backends["dnnl-winograd"] = func(b backendFlags) (backend.Backend, error) {
		return dnnl.NewWithOptions(dnnl.Options{Threads: b.threads, Winograd: true})
	}
}
