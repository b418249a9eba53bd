package train

import (
	"fmt"
	"slices"
	"strings"

	"github.com/resgo/resgo/backend"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/nn"
	"github.com/resgo/resgo/optim"
)

// initFrom sets the trainer's model from another checkpoint's weights
// (its moving averages, what eval uses, when it has them): every tensor by
// name and shape, except the classifier at the end (the last fully
// connected layer), which starts fresh when its shape differs (another
// number of classes). The moving averages restart at the new weights.
// It returns the names of the tensors left fresh.
func (t *Trainer) initFrom(ck *checkpoint.Checkpoint) (fresh []string, err error) {
	head := headParams(t.Model.Net)
	var problems []string
	for _, p := range t.Model.State() {
		src, ok := ck.Tensors[optim.ShadowName(p.Name)]
		if !ok {
			src, ok = ck.Tensors[p.Name]
		}
		switch {
		case ok && slices.Equal(src.Shape, p.Shape):
			t.Be.Upload(p.Value, src.Data)
		case head[p.Name]:
			fresh = append(fresh, p.Name) // a new classifier: keep its initial values
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is missing", p.Name))
		default:
			problems = append(problems, fmt.Sprintf("%s is %v, the model's is %v", p.Name, src.Shape, p.Shape))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s does not fit this model (%d tensors): %s", ck.Path, len(problems), strings.Join(problems, "; "))
	}
	t.EMA = optim.NewEMA(t.Be, t.Model.State(), t.Hyper.EMADecay)
	return fresh, nil
}

// headParams names the parameters of the network's last fully connected
// layer: the classifier, which fine-tuning replaces.
func headParams(net *nn.Sequential) map[string]bool {
	out := map[string]bool{}
	var last *nn.Linear
	var find func(l nn.Layer)
	find = func(l nn.Layer) {
		if lin, ok := l.(*nn.Linear); ok {
			last = lin
		}
		if c, ok := l.(nn.Container); ok {
			for _, sub := range c.Children() {
				find(sub)
			}
		}
	}
	find(net)
	if last != nil {
		for _, p := range last.Params() {
			out[p.Name] = true
		}
	}
	return out
}

// FreezeBackbone is the Freeze specification that trains only the
// classifier.
const FreezeBackbone = "backbone"

// Freeze stops the parameters named by spec from being updated: each
// entry of spec is a name prefix (a layer or stage: conv1, layer1,
// layer2.0...), or FreezeBackbone for every parameter but the
// classifier's. Gradients still flow through frozen layers. Batch norm's
// running statistics still follow the data, unless stats is set: then
// those of the frozen batch norms stay as they are too (their momentum is
// 0; each batch is still normalised by its own statistics, as in
// training). It returns how many parameters were frozen; an entry that
// matches none is an error.
func (t *Trainer) Freeze(spec []string, stats bool) (int, error) {
	head := headParams(t.Model.Net)
	frozen := map[string]bool{}
	matches := func(s, name string) bool {
		if s == FreezeBackbone {
			return !head[name]
		}
		return name == s || strings.HasPrefix(name, s+".") || strings.HasPrefix(name, s+"/")
	}
	for _, s := range spec {
		n := 0
		for _, p := range t.Model.Params {
			if matches(s, p.Name) {
				frozen[p.Name] = true
				n++
			}
		}
		if n == 0 {
			return 0, fmt.Errorf("--freeze %s: no parameter of %s is named so (its names begin %s)", s, t.Model.Config.Arch, strings.Join(topLevelNames(t.Model.Params), ", "))
		}
	}
	t.trainable, t.trainableVel = nil, nil
	for i, p := range t.Model.Params {
		if !frozen[p.Name] {
			t.trainable = append(t.trainable, p)
			if t.Velocities != nil {
				t.trainableVel = append(t.trainableVel, t.Velocities[i])
			}
		}
	}
	if len(t.trainable) == 0 {
		return 0, fmt.Errorf("--freeze %s: that leaves nothing to train", strings.Join(spec, ","))
	}
	t.frozen = true
	if stats {
		var visit func(l nn.Layer)
		visit = func(l nn.Layer) {
			if bn, ok := l.(*nn.BatchNorm); ok && frozen[bn.Gamma.Name] {
				bn.Momentum = 0
			}
			if c, ok := l.(nn.Container); ok {
				for _, sub := range c.Children() {
					visit(sub)
				}
			}
		}
		visit(t.Model.Net)
	}
	return len(frozen), nil
}

// updated lists the parameters a step updates, with their momentum
// buffers: all of them unless some are frozen.
func (t *Trainer) updated() ([]*nn.Param, []backend.Tensor) {
	if !t.frozen {
		return t.Model.Params, t.Velocities
	}
	return t.trainable, t.trainableVel
}

// topLevelNames lists the first parts of parameter names (conv1, layer1,
// fc; or features, classifier), in order, once each.
func topLevelNames(params []*nn.Param) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range params {
		first := p.Name
		if i := strings.IndexAny(first, "./"); i > 0 {
			first = first[:i]
		}
		if !seen[first] {
			seen[first] = true
			out = append(out, first)
		}
	}
	return out
}
