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
// filled as far as the next parameter allows; they go out in that order,
// after the statistics, whether sent during backward or after it; the
// gradients come back summed over the ranks (size times what each sent,
// bit for bit), the statistics averaged; and a bucket is sent during
// backward only when overlapping, as soon as its last gradient is final.
func TestBucketsFollowBackward(t *testing.T) {
	for _, c := range []struct {
		arch string
		host bool
	}{{"seed-resnet34", true}, {"resnet18", true}, {"resnet18", false}} {
		for _, overlap := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/host=%v/overlap=%v", c.arch, c.host, overlap), func(t *testing.T) { bucketsFollowBackward(t, c.arch, c.host, overlap) })
		}
	}
}

// copyingBackend hides native's HostMemory: gradients go through buffers.
type copyingBackend struct{ backend.Backend }

func bucketsFollowBackward(t *testing.T, arch string, host, overlap bool) {
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

	// One step with random gradients and statistics: the gradients come
	// back summed (4 times each), the statistics averaged (unchanged).
	r := rand.New(rand.NewPCG(1, 2))
	random := func(p *nn.Param, t backend.Tensor, times float32) []float32 {
		v := make([]float32, backend.Len(p.Shape))
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		be.Upload(t, v)
		for j := range v {
			v[j] *= times
		}
		return v
	}
	wantStats := map[*nn.Param][]float32{}
	for _, p := range m.Stats {
		wantStats[p] = random(p, p.Value, 1)
	}
	want := map[*nn.Param][]float32{}
	red.overlap = overlap
	red.start()
	complete := 0 // buckets whose gradients are all final
	seen := map[*nn.Param]bool{}
	for i := len(m.Net.Layers) - 1; i >= 0; i-- {
		for _, p := range m.Net.Layers[i].Params() {
			want[p] = random(p, p.Grad, float32(tr.size))
			seen[p] = true
		}
		red.layerDone(m.Net.Layers[i])
		for complete < len(red.buckets) && seen[red.buckets[complete].params[len(red.buckets[complete].params)-1]] {
			complete++
		}
		wantSent := 1 // the statistics
		if overlap {
			wantSent += complete
		}
		if red.sent != wantSent {
			t.Fatalf("after layer %d's backward, %d buckets sent, want %d (%d complete, overlap %v)", i, red.sent, wantSent, complete, overlap)
		}
	}
	if err := red.finish(); err != nil {
		t.Fatal(err)
	}
	check := func(what string, want map[*nn.Param][]float32, tensor func(*nn.Param) backend.Tensor) {
		for p, w := range want {
			g := make([]float32, len(w))
			be.Download(tensor(p), g)
			if !slices.Equal(g, w) {
				t.Fatalf("%s: %s differs from the exact %s", p.Name, what, what)
			}
		}
	}
	check("summed gradient", want, func(p *nn.Param) backend.Tensor { return p.Grad })
	check("averaged statistic", wantStats, func(p *nn.Param) backend.Tensor { return p.Value })
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
