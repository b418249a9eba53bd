package data

import (
	"slices"
	"testing"
)

// indexSet returns n 2x2 images whose first pixel is the example's
// index, so a batch tells which examples it holds.
func indexSet(n int) *Set {
	s := &Set{Images: make([]float32, n*4), Labels: make([]int32, n), N: n, Rows: 2, Cols: 2}
	for i := range n {
		s.Images[i*4] = float32(i)
		s.Labels[i] = int32(i % 10)
	}
	return s
}

// draw returns the example indices of the next k batches, checking that
// each label belongs to its image.
func draw(t *testing.T, b *Batcher, k int) []int {
	t.Helper()
	images := make([]float32, b.size*4)
	labels := make([]int32, b.size)
	var got []int
	for range k {
		b.Next(images, labels)
		for i, l := range labels {
			idx := int(images[i*4])
			if int(l) != idx%10 {
				t.Fatalf("example %d came with label %d", idx, l)
			}
			got = append(got, idx)
		}
	}
	return got
}

func TestBatcherEpochIsPermutation(t *testing.T) {
	b := NewBatcher(indexSet(60), 10, 1)
	for epoch := range 3 {
		if b.Epoch() != epoch {
			t.Fatalf("Epoch() = %d, want %d", b.Epoch(), epoch)
		}
		got := draw(t, b, 6)
		if slices.IsSorted(got) {
			t.Errorf("epoch %d is not shuffled", epoch)
		}
		slices.Sort(got)
		for i, v := range got {
			if v != i {
				t.Fatalf("epoch %d: sorted indices %v, want 0..59 once each", epoch, got)
			}
		}
	}
}

func TestBatcherSeeds(t *testing.T) {
	a := draw(t, NewBatcher(indexSet(60), 10, 7), 12)
	if b := draw(t, NewBatcher(indexSet(60), 10, 7), 12); !slices.Equal(a, b) {
		t.Error("same seed gave different orders")
	}
	if c := draw(t, NewBatcher(indexSet(60), 10, 8), 12); slices.Equal(a, c) {
		t.Error("different seeds gave the same order")
	}
	if slices.Equal(a[:60], a[60:]) {
		t.Error("epochs 0 and 1 have the same order")
	}
}

// TestBatcherStraddlesEpochs checks the TensorFlow rule: a batch that
// runs past an epoch's end takes the start of the next epoch.
func TestBatcherStraddlesEpochs(t *testing.T) {
	got := draw(t, NewBatcher(indexSet(10), 4, 3), 5) // 20 examples, 2 epochs
	for e := range 2 {
		epoch := slices.Sorted(slices.Values(got[e*10 : e*10+10]))
		if !slices.Equal(epoch, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			t.Errorf("epoch %d holds %v, want each example once", e, epoch)
		}
	}
}

func TestBatcherSeekBatch(t *testing.T) {
	for _, c := range []struct{ n, size int }{{60, 10}, {10, 4}, {7, 3}, {5, 12}} {
		ref := NewBatcher(indexSet(c.n), c.size, 42)
		for k := range 3*c.n/c.size + 3 {
			b := NewBatcher(indexSet(c.n), c.size, 42)
			draw(t, b, 1) // SeekBatch must also work on a used batcher
			b.SeekBatch(int64(k))
			if b.Epoch() != k*c.size/c.n {
				t.Errorf("n=%d size=%d: after SeekBatch(%d) Epoch() = %d, want %d", c.n, c.size, k, b.Epoch(), k*c.size/c.n)
			}
			want, got := draw(t, ref, 1), draw(t, b, 1)
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d size=%d: batch %d after SeekBatch is %v, drawn in order it is %v", c.n, c.size, k, got, want)
			}
		}
	}
}

func TestBatcherNextDoesNotAllocate(t *testing.T) {
	b := NewBatcher(indexSet(10), 4, 1)
	images, labels := make([]float32, 16), make([]int32, 4)
	b.Next(images, labels)
	if n := testing.AllocsPerRun(50, func() { b.Next(images, labels) }); n != 0 {
		t.Errorf("Next allocates %v times per call", n)
	}
}

// Augmented batches: shifted or mirrored copies of the images (the same
// values moved), and the same draws after a seek, as a resumed run needs.
func TestBatcherAugment(t *testing.T) {
	n, rows, cols := 7, 5, 6
	s := &Set{Images: make([]float32, n*rows*cols), Labels: make([]int32, n), N: n, Channels: 1, Rows: rows, Cols: cols}
	for i := range s.Images {
		s.Images[i] = float32(i%97 + 1)
	}
	plain := NewBatcher(s, 3, 9)
	aug := NewBatcher(s, 3, 9)
	aug.Augment = Augment{Pad: 2, Flip: true}
	a, p := make([]float32, 3*rows*cols), make([]float32, 3*rows*cols)
	labels := make([]int32, 3)
	changed := 0
	var batches [][]float32
	for range 5 {
		plain.Next(p, labels)
		aug.Next(a, labels)
		batches = append(batches, append([]float32(nil), a...))
		for i := range 3 {
			got, want := a[i*rows*cols:(i+1)*rows*cols], p[i*rows*cols:(i+1)*rows*cols]
			same := true
			for k := range got {
				same = same && got[k] == want[k]
			}
			if !same {
				changed++
			}
			// Every nonzero value comes from the original image.
			from := map[float32]bool{}
			for _, v := range want {
				from[v] = true
			}
			for _, v := range got {
				if v != 0 && !from[v] {
					t.Fatalf("value %v not in the image", v)
				}
			}
		}
	}
	if changed < 10 {
		t.Errorf("only %d of 15 images changed", changed)
	}
	again := NewBatcher(s, 3, 9)
	again.Augment = aug.Augment
	again.SeekBatch(3)
	again.Next(a, labels)
	for k := range a {
		if a[k] != batches[3][k] {
			t.Fatal("a seek draws other augmentations")
		}
	}
}
