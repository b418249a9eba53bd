package train

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/dist"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/nn"
)

// echoTransport is a job of size ranks that all hold this rank's values:
// a sum is size times the buffer. It records the length of every
// all-reduce, in order.
type echoTransport struct {
	dist.Single
	size  int
	mu    sync.Mutex
	sizes []int
}

func (e *echoTransport) Size() int { return e.size }
func (e *echoTransport) AllReduceSum(buf []float32) error {
	e.mu.Lock()
	e.sizes = append(e.sizes, len(buf))
	e.mu.Unlock()
	for i := range buf {
		buf[i] *= float32(e.size)
	}
	return nil
}

// TestBucketsFollowBackward: the buckets hold every updated parameter
// once, in the order backward finishes them (top-level layers last to
// first), a first bucket of up to 1 MiB and the rest up to 25 MiB, each
// filled as far as the next parameter allows; they go
// out in that order, after the statistics; and the averaged gradients of
// ranks that all computed the same are those gradients, bit for bit.
func TestBucketsFollowBackward(t *testing.T) {
	for _, c := range []struct {
		arch string
		host bool
	}{{"seed-resnet34", true}, {"resnet18", true}, {"resnet18", false}} {
		t.Run(fmt.Sprintf("%s/host=%v", c.arch, c.host), func(t *testing.T) { bucketsFollowBackward(t, c.arch, c.host) })
	}
}

// copyingBackend hides native's HostMemory: gradients go through buffers.
type copyingBackend struct{ backend.Backend }

func bucketsFollowBackward(t *testing.T, arch string, host bool) {
	var be backend.Backend = native.New(2)
	if !host {
		be = copyingBackend{be}
	}
	c := model.Config{Arch: arch, BaseDepth: 64, Classes: 10, Input: [3]int{1, 28, 28}}
	if arch == "resnet18" {
		c.Stem = "small"
	}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	m, err := model.Build(be, c)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	var order []*nn.Param
	for i := len(m.Net.Layers) - 1; i >= 0; i-- {
		order = append(order, m.Net.Layers[i].Params()...)
	}
	tr := &echoTransport{size: 4} // a power of two: the mean of equal values is exact
	h := DefaultHyper()
	h.BatchSize = 6
	tn := NewTrainer(be, m, h, 600)
	tn.SetTransport(tr)
	red := tn.reducerFor(m.Params)
	var got []*nn.Param
	for i, b := range red.buckets {
		got = append(got, b.params...)
		bytes := b.bytes
		limit := bucketBytes
		if i == 0 {
			limit = firstBucketBytes
		}
		// At most the limit (unless one parameter alone passes
		// it), and not closed while the next parameter fitted.
		if (bytes > limit && len(b.params) > 1) || (i < len(red.buckets)-1 && bytes+4*backend.Len(red.buckets[i+1].params[0].Shape) <= limit) {
			t.Errorf("bucket %d: %d bytes for a limit of %d", i, bytes, limit)
		}
	}
	if !slices.Equal(got, order) {
		t.Fatalf("buckets hold %d parameters, not the %d of the layers last to first, in order", len(got), len(order))
	}
	t.Logf("%d parameters in %d buckets", len(got), len(red.buckets))

	// One step with random gradients: what comes back is what went.
	r := rand.New(rand.NewPCG(1, 2))
	want := map[*nn.Param][]float32{}
	red.start()
	for i := len(m.Net.Layers) - 1; i >= 0; i-- {
		for _, p := range m.Net.Layers[i].Params() {
			v := make([]float32, backend.Len(p.Shape))
			for j := range v {
				v[j] = float32(r.NormFloat64())
			}
			be.Upload(p.Grad, v)
			want[p] = v
		}
		red.layerDone(m.Net.Layers[i])
	}
	if err := red.finish(); err != nil {
		t.Fatal(err)
	}
	for p, w := range want {
		g := make([]float32, len(w))
		be.Download(p.Grad, g)
		if !slices.Equal(g, w) {
			t.Fatalf("%s: averaged gradient differs", p.Name)
		}
	}
	// The statistics, then the buckets in order: a call per tensor
	// (host memory, in place) or per bucket (through a buffer).
	var wantSizes []int
	for _, b := range append([]*gradBucket{red.stats}, red.buckets...) {
		if !host {
			wantSizes = append(wantSizes, b.bytes/4)
			continue
		}
		for _, p := range b.params {
			wantSizes = append(wantSizes, backend.Len(p.Shape))
		}
	}
	if !slices.Equal(tr.sizes, wantSizes) {
		t.Fatalf("all-reduces of %v values, want %v (statistics, then the buckets in order)", tr.sizes, wantSizes)
	}
}
