package backend

import "fmt"

// Tensor is a handle to a dense float32 array owned by a backend. Its shape
// is in logical NCHW order (or [N, features] for fully connected layers),
// whatever layout the backend keeps in memory.
type Tensor interface {
	Shape() []int
}

// Len is the number of elements of a tensor with the given shape.
func Len(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// ConvDesc describes a 2-D convolution beyond its tensors' shapes.
// Padding is explicit on each side so that TensorFlow's "SAME" padding,
// which puts the extra row/column at the bottom/right, is representable.
type ConvDesc struct {
	StrideH, StrideW  int
	PadTop, PadBottom int
	PadLeft, PadRight int
	// ReLU fuses a rectifier after the bias: y = max(0, conv(x, w) + b).
	ReLU bool
}

// OutSize returns the output height and width for an input of h x w and a
// kernel of kh x kw.
func (d ConvDesc) OutSize(h, w, kh, kw int) (int, int) {
	oh := (h+d.PadTop+d.PadBottom-kh)/d.StrideH + 1
	ow := (w+d.PadLeft+d.PadRight-kw)/d.StrideW + 1
	return oh, ow
}

// PoolDesc describes a max or average pooling window.
type PoolDesc struct {
	KH, KW            int
	StrideH, StrideW  int
	PadTop, PadBottom int
	PadLeft, PadRight int
}

// OutSize returns the pooled height and width for an input of h x w.
func (d PoolDesc) OutSize(h, w int) (int, int) {
	oh := (h+d.PadTop+d.PadBottom-d.KH)/d.StrideH + 1
	ow := (w+d.PadLeft+d.PadRight-d.KW)/d.StrideW + 1
	return oh, ow
}

// SamePadding returns TensorFlow's "SAME" output size and padding for one
// spatial axis: out = ceil(in/stride), and when the total padding is odd the
// extra element goes after (bottom/right).
func SamePadding(in, kernel, stride int) (out, before, after int) {
	out = (in + stride - 1) / stride
	total := (out-1)*stride + kernel - in
	if total < 0 {
		total = 0
	}
	before = total / 2
	return out, before, total - before
}

// BatchNormDesc describes a batch normalisation.
type BatchNormDesc struct {
	// Epsilon is added to the variance before its square root.
	Epsilon float32
	// Training normalises with the batch's own statistics (and writes
	// them out); otherwise the given running statistics are used.
	Training bool
	// ReLU fuses a rectifier after the affine transform.
	ReLU bool
}

// Backend is the set of layer-level primitives a model needs for training
// and inference. Unless a method says otherwise, outputs are overwritten
// (never accumulated into) and must not alias inputs.
type Backend interface {
	// Name identifies the backend, e.g. "native".
	Name() string
	// Threads is the number of OS threads the backend computes with.
	Threads() int

	// New returns a zero-filled tensor of the given shape.
	New(shape ...int) Tensor
	// Upload copies host data (row-major, logical NCHW) into t.
	Upload(t Tensor, src []float32)
	// Download copies t into dst (row-major, logical NCHW).
	Download(t Tensor, dst []float32)
	// Zero sets every element of t to 0.
	Zero(t Tensor)
	// Copy copies src into dst; shapes must have equal length.
	Copy(dst, src Tensor)
	// Reshape returns a tensor of another shape with the same elements in
	// logical row-major order, sharing memory where the backend can.
	Reshape(t Tensor, shape ...int) Tensor

	// ConvForward computes y = act(conv(x, w) + b) with x [N,C,H,W],
	// w [O,C,KH,KW], b [O] (nil for no bias) and y [N,O,OH,OW].
	ConvForward(x, w, b, y Tensor, d ConvDesc)
	// ConvBackwardData computes dx from dy, the gradient with respect to the
	// convolution's pre-activation output (see ReLUBackward).
	ConvBackwardData(dy, w, dx Tensor, d ConvDesc)
	// ConvBackwardFilter computes dw and, when db is not nil, db from x and
	// the pre-activation gradient dy.
	ConvBackwardFilter(x, dy, dw, db Tensor, d ConvDesc)

	// ReLUForward computes y = max(0, x). y may alias x.
	ReLUForward(x, y Tensor)
	// ReLUBackward computes dx = dy where y > 0, else 0. dx may alias dy.
	ReLUBackward(y, dy, dx Tensor)

	// BatchNormForward normalises x [N,C,H,W] per channel:
	// y = act(gamma * (x - mean) / sqrt(variance + eps) + beta), with
	// gamma, beta, mean and variance of shape [C]. In training the batch's
	// mean and biased variance are computed and written into mean and
	// variance; otherwise they are read (running statistics).
	BatchNormForward(x, gamma, beta, mean, variance, y Tensor, d BatchNormDesc)
	// BatchNormBackward computes dx, dgamma and dbeta of a training-mode
	// forward from the pre-activation gradient dy and the batch statistics
	// that forward wrote.
	BatchNormBackward(x, dy, gamma, mean, variance, dx, dgamma, dbeta Tensor, d BatchNormDesc)

	// MaxPoolForward and MaxPoolBackward: padded cells never win; the
	// first maximum of a window takes its gradient. Backward's y is what
	// MaxPoolForward wrote for x (a backend may read the windows' maxima
	// there rather than find them again).
	MaxPoolForward(x, y Tensor, d PoolDesc)
	MaxPoolBackward(x, y, dy, dx Tensor, d PoolDesc)
	// AvgPoolForward and AvgPoolBackward average over the window's cells
	// that lie inside the input (TensorFlow's convention for SAME padding).
	AvgPoolForward(x, y Tensor, d PoolDesc)
	AvgPoolBackward(dy, dx Tensor, d PoolDesc)

	// ChannelPadForward zero-pads x [N,C,H,W] on the channel axis into
	// y [N,C+before+after,H,W], placing x at channel offset before.
	ChannelPadForward(x, y Tensor, before int)
	// ChannelPadBackward takes the channels [before, before+C) of dy.
	ChannelPadBackward(dy, dx Tensor, before int)

	// AddTo computes y += x.
	AddTo(y, x Tensor)

	// LinearForward computes y = x w^T + b with x [N,K], w [M,K], b [M].
	LinearForward(x, w, b, y Tensor)
	// LinearBackward computes dx (skipped when nil), dw and db.
	LinearBackward(x, w, dy, dx, dw, db Tensor)

	// SoftmaxCrossEntropy returns the mean over the batch of the softmax
	// cross-entropy of logits [N,K] against integer labels, and writes its
	// gradient with respect to the logits into dlogits (nil to skip).
	SoftmaxCrossEntropy(logits Tensor, labels []int32, dlogits Tensor) float64

	// Axpy computes y += alpha * x.
	Axpy(alpha float32, x, y Tensor)
	// Scale computes t *= alpha.
	Scale(t Tensor, alpha float32)
	// Lerp computes y += t * (x - y), the moving-average update.
	Lerp(y, x Tensor, t float32)
	// SumSquares returns the sum of the squares of t's elements.
	SumSquares(t Tensor) float64
}

// CheckShape panics with a readable message when a tensor's shape is not
// the one a primitive needs: a programming error, not a user error.
func CheckShape(what string, t Tensor, want ...int) {
	got := t.Shape()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i] == want[i]
	}
	if !ok {
		panic(fmt.Sprintf("backend: %s has shape %v, want %v", what, got, want))
	}
}

// ConvPass is one of a convolution's three computations.
type ConvPass uint8

// The passes of a convolution.
const (
	Forward        ConvPass = iota // y from x and w
	BackwardData                   // dx from dy and w
	BackwardFilter                 // dw (and db) from x and dy
)

func (p ConvPass) String() string {
	switch p {
	case Forward:
		return "forward"
	case BackwardData:
		return "backward-data"
	case BackwardFilter:
		return "backward-filter"
	}
	return fmt.Sprintf("ConvPass(%d)", uint8(p))
}

// ConvExplainer is implemented by backends that can say which algorithm
// computes a pass of a convolution (x [N,C,H,W], w [O,C,KH,KW]), and why.
// It builds nothing and computes nothing.
type ConvExplainer interface {
	ConvAlgorithm(x, w []int, d ConvDesc, pass ConvPass) (algorithm, reason string)
}

// HostMemory is implemented by backends whose tensors are plain float32
// arrays in host memory: HostSlice returns t's storage, to be read and
// written in place (data-parallel training sums gradients there, with no
// copy), and records that it may change.
type HostMemory interface {
	HostSlice(t Tensor) []float32
}

// ParamUpdate is one parameter's share of a training step's update after
// its gradient (see FusedUpdater), in this order: with L2 != 0, the sum of
// Value's squares (returned) and the penalty's gradient, Grad += L2 *
// Value; the step, Value += -LR * Grad, or with a Velocity, Velocity =
// Momentum * Velocity, Velocity += Grad, Value += -LR * Velocity; then,
// with a Shadow, the moving average Shadow += EMA * (Value - Shadow).
type ParamUpdate struct {
	Value, Grad Tensor
	L2, LR      float32
	Velocity    Tensor
	Momentum    float32
	Shadow      Tensor
	EMA         float32
}

// FusedUpdater is implemented by backends that run ParamUpdates in one
// pass over each parameter's memory, all in one parallel region.
// UpdateParams returns, per update, the sum of squares (0 where L2 is 0).
// The numbers are those of SumSquares, Axpy, Scale, AddTo, Axpy and Lerp
// called in turn, bit for bit: the optimizer's updates read and write
// every parameter, and as separate calls they take several passes over
// memory per training step, and a parallel region per call.
type FusedUpdater interface {
	UpdateParams(us []ParamUpdate) []float64
}

// ResidualMerger is implemented by backends that merge a residual
// block's two branches in one pass over memory. MergeResidual computes y =
// body + short, short zero-padded on the channel axis (placed at channel
// before, as ChannelPadForward does; before is 0 when the shapes match),
// then y = max(0, y) when relu: the numbers of ChannelPadForward (or
// Copy), AddTo and ReLUForward called in turn, bit for bit, in one pass
// instead of three.
type ResidualMerger interface {
	MergeResidual(short, body, y Tensor, before int, relu bool)
}

// ConvChain is implemented by backends that can run convolutions in a
// row (each reading the previous one's output, as a residual network's
// blocks do) without the activations between them going through memory
// in the tensor layout, for inference: nothing is kept for a backward
// pass. ConvForwardChain computes y from x through blocks exactly as the
// separate calls would (per block: two ConvForward calls, then the
// shortcut's sum and the ReLU as nn.Residual takes them; see ChainBlock),
// bit for bit but for the sign of zeros (a padded channel's -0 is +0
// after a sum with 0), or reports false, computing nothing, for blocks
// it does not chain.
type ConvChain interface {
	ConvForwardChain(x Tensor, blocks []ChainBlock, y Tensor) bool
}

// ChainBlock is one block of a chain (ConvChain, QuantizedChain): two
// convolutions in a row (W1, B1, D1, with D1's ReLU; then W2, B2, D2),
// then, with Shortcut, the block's input added to the output, zero-padded
// on the channel axis (its C channels land on Before to Before+C-1: He et
// al.'s option A, as nn.Residual pads), then, with ReLU, a rectifier of
// the sum. In1 and In2 map the two convolutions' inputs to bytes in a
// QuantizedChain; float chains ignore them.
type ChainBlock struct {
	W1, B1   Tensor
	D1       ConvDesc
	In1      InputQuant
	W2, B2   Tensor
	D2       ConvDesc
	In2      InputQuant
	Shortcut bool
	Before   int
	ReLU     bool
}

// ShortcutFits reports whether block b's shortcut can be added to its
// output: x (the block's input) has the output's images and map size and
// fits its channels from Before on. A block without a shortcut fits.
func (b ChainBlock) ShortcutFits(x, y []int) bool {
	if !b.Shortcut {
		return true
	}
	return len(x) == 4 && len(y) == 4 && x[0] == y[0] && x[2] == y[2] && x[3] == y[3] &&
		b.Before >= 0 && b.Before+x[1] <= y[1]
}
