//go:build dnnl

package main

import (
	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/dnnl"
)

func init() {
	backends["dnnl"] = func(threads int) (backend.Backend, error) { return dnnl.New(threads) }
	backends["dnnl-winograd"] = func(threads int) (backend.Backend, error) {
		return dnnl.NewWithOptions(dnnl.Options{Threads: threads, Winograd: true})
	}
}
