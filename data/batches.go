package data

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
)

// Batcher draws mini-batches from a Set like TensorFlow's
// DataSet.next_batch: each epoch visits every example once in a fresh
// random order, and a batch that runs past the end of an epoch is
// completed from the start of the next, reshuffled, epoch. In other
// words the batches tile an endless stream made of epoch 0's permutation,
// then epoch 1's, and so on.
//
// Epoch e's permutation depends only on (seed, e), so the batcher's
// whole state is one position in that stream; SeekBatch restores it
// arithmetically when training resumes from a checkpoint.
type Batcher struct {
	set       *Set
	size      int
	seed      uint64
	pos       int64   // examples drawn so far, over all epochs
	perm      []int32 // example order of epoch permEpoch
	permEpoch int64   // -1 until perm is first built
	pcg       *rand.PCG
	// Augment, when set, changes each image as it is drawn.
	Augment Augment
	aug     *rand.PCG
	scratch []float32
	// ahead are the next batches of a streamed set, being read from
	// their files while the caller trains on the current one.
	ahead []*batchRead
}

// batchRead is one batch of a streamed set being read in the background.
type batchRead struct {
	pos    int64 // the batch's first position in the stream
	images []float32
	labels []int32
	err    error
	done   chan struct{}
}

// readAhead is how many batches of a streamed set are read ahead of the
// one being trained on.
const readAhead = 2

// Augment is the random change made to each training image as it is
// drawn: a shift by up to Pad pixels each way (a random crop of the image
// padded with zeros, which after normalisation is the mean colour) and,
// with Flip, a mirror image half the time. The draws for an example
// depend only on (seed, its position in the stream), so a resumed run
// draws the same.
type Augment struct {
	Pad  int
	Flip bool
}

// Active reports whether a changes anything.
func (a Augment) Active() bool { return a.Pad > 0 || a.Flip }

// NewBatcher returns a Batcher over set drawing batchSize examples per
// batch, its order fixed by seed.
func NewBatcher(set *Set, batchSize int, seed uint64) *Batcher {
	if batchSize <= 0 || set.N <= 0 || set.N > math.MaxInt32 {
		panic(fmt.Sprintf("data: NewBatcher: batch size %d over %d examples", batchSize, set.N))
	}
	return &Batcher{
		set:       set,
		size:      batchSize,
		seed:      seed,
		perm:      make([]int32, set.N),
		permEpoch: -1,
		pcg:       rand.NewPCG(0, 0),
	}
}

// SeekBatch positions b as if batchIndex batches had already been drawn,
// so the next call to Next returns batch number batchIndex (0-based).
// (Not named Seek: go vet reserves that name for io.Seeker's signature.)
func (b *Batcher) SeekBatch(batchIndex int64) {
	if batchIndex < 0 || batchIndex > math.MaxInt64/int64(b.size) {
		panic(fmt.Sprintf("data: Batcher.SeekBatch(%d) out of range", batchIndex))
	}
	b.pos = batchIndex * int64(b.size)
}

// Epoch returns the number of epochs drawn completely. Unlike
// TensorFlow's lazy epochs_completed it counts an epoch as soon as its
// last example has been drawn.
func (b *Batcher) Epoch() int {
	return int(b.pos / int64(b.set.N))
}

// Next copies the next batch into images (batchSize*Rows*Cols pixels)
// and labels (batchSize). From a set in memory it does not allocate; from
// a streamed set it returns batches read ahead on other goroutines (the
// next ones start as it returns), and the error of a file that can no
// longer be read.
func (b *Batcher) Next(images []float32, labels []int32) error {
	px := b.set.Pixels()
	if len(images) != b.size*px || len(labels) != b.size {
		panic(fmt.Sprintf("data: Batcher.Next: buffers hold %d pixels and %d labels, want %d and %d",
			len(images), len(labels), b.size*px, b.size))
	}
	if b.set.Streamed() {
		if err := b.nextStreamed(images, labels); err != nil {
			return err
		}
	} else {
		for i := range b.size {
			j := b.index(b.pos + int64(i))
			copy(images[i*px:(i+1)*px], b.set.Image(j))
			labels[i] = b.set.Labels[j]
		}
	}
	if b.Augment.Active() {
		for i := range b.size {
			b.augment(images[i*px:(i+1)*px], b.pos+int64(i))
		}
	}
	b.pos += int64(b.size)
	return nil
}

// index is the example at position pos of the stream.
func (b *Batcher) index(pos int64) int {
	n := int64(b.set.N)
	if epoch := pos / n; epoch != b.permEpoch {
		b.shuffle(epoch)
	}
	return int(b.perm[pos%n])
}

// nextStreamed takes the batch at b.pos from those read ahead (reading it
// now when a seek or the first call left none), and starts reading the
// ones after it.
func (b *Batcher) nextStreamed(images []float32, labels []int32) error {
	for len(b.ahead) > 0 && b.ahead[0].pos != b.pos {
		b.ahead = b.ahead[1:] // read for positions a seek skipped
	}
	if len(b.ahead) == 0 {
		b.ahead = append(b.ahead, b.startRead(b.pos))
	}
	r := b.ahead[0]
	b.ahead = b.ahead[1:]
	for next := b.pos + int64(b.size); len(b.ahead) < readAhead; next += int64(b.size) {
		if len(b.ahead) > 0 {
			next = b.ahead[len(b.ahead)-1].pos + int64(b.size)
		}
		b.ahead = append(b.ahead, b.startRead(next))
	}
	<-r.done
	if r.err != nil {
		return r.err
	}
	copy(images, r.images)
	copy(labels, r.labels)
	return nil
}

// startRead starts reading the batch at pos on other goroutines.
func (b *Batcher) startRead(pos int64) *batchRead {
	r := &batchRead{pos: pos, images: make([]float32, b.size*b.set.Pixels()), labels: make([]int32, b.size), done: make(chan struct{})}
	idx := make([]int, b.size)
	for i := range idx {
		idx[i] = b.index(pos + int64(i))
		r.labels[i] = b.set.Labels[idx[i]]
	}
	go func() {
		defer close(r.done)
		r.err = b.set.ReadImages(idx, r.images)
	}()
	return r
}

// augment shifts and flips one image in place, with draws seeded by the
// example's position in the stream.
func (b *Batcher) augment(img []float32, pos int64) {
	if b.aug == nil {
		b.aug = rand.NewPCG(0, 0)
		b.scratch = make([]float32, len(img))
	}
	b.aug.Seed(splitmix64(b.seed^0xa46e), splitmix64(uint64(pos)))
	dx, dy, flip := 0, 0, false
	if p := b.Augment.Pad; p > 0 {
		dx, dy = int(uniform(b.aug, uint64(2*p+1)))-p, int(uniform(b.aug, uint64(2*p+1)))-p
	}
	if b.Augment.Flip {
		flip = uniform(b.aug, 2) == 1
	}
	if dx == 0 && dy == 0 && !flip {
		return
	}
	rows, cols := b.set.Rows, b.set.Cols
	copy(b.scratch, img)
	for c := range max(1, b.set.Channels) {
		src, dst := b.scratch[c*rows*cols:(c+1)*rows*cols], img[c*rows*cols:(c+1)*rows*cols]
		for y := range rows {
			for x := range cols {
				sx, sy := x+dx, y+dy
				if flip {
					sx = cols - 1 - x + dx
				}
				v := float32(0)
				if sx >= 0 && sx < cols && sy >= 0 && sy < rows {
					v = src[sy*cols+sx]
				}
				dst[y*cols+x] = v
			}
		}
	}
}

// shuffle builds epoch's permutation from (seed, epoch) alone. It uses
// its own Fisher-Yates over PCG output rather than rand.Shuffle, whose
// algorithm Go does not promise to keep: a checkpoint must resume onto
// the same order after a toolchain upgrade.
func (b *Batcher) shuffle(epoch int64) {
	b.pcg.Seed(b.seed, splitmix64(uint64(epoch)))
	for i := range b.perm {
		b.perm[i] = int32(i)
	}
	for i := len(b.perm) - 1; i > 0; i-- {
		j := uniform(b.pcg, uint64(i+1))
		b.perm[i], b.perm[j] = b.perm[j], b.perm[i]
	}
	b.permEpoch = epoch
}

// uniform returns an unbiased value in [0, n) by Lemire's
// multiply-and-reject method.
func uniform(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

// splitmix64 scrambles the epoch number so that consecutive epochs seed
// PCG with unrelated streams rather than states one apart.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
