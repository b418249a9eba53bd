package model

import (
	"fmt"
	"strings"

	"github.com/resgo/resgo/nn"
)

// GraphNode is one operation of the model's data-flow graph.
type GraphNode struct {
	Name   string
	Op     string
	Inputs []string
	Attrs  map[string]string
}

// Graph lists the model's operations with their inputs, in TensorFlow's
// op vocabulary, for TensorBoard's Graphs tab. Names use "/" scopes
// (PyTorch-style dotted names are split), so blocks fold into boxes.
func (m *Model) Graph() []GraphNode {
	nodes := []GraphNode{{Name: "input", Op: "Placeholder", Attrs: map[string]string{"shape": shape(m.Config.Input[:])}}}
	var walk func(l nn.Layer, in []int, from string) ([]int, string)
	walk = func(l nn.Layer, in []int, from string) ([]int, string) {
		info := l.Describe(in)
		switch c := l.(type) {
		case *nn.Sequential:
			for _, sub := range c.Layers {
				in, from = walk(sub, in, from)
			}
			return in, from
		case *nn.Residual:
			scope := scoped(c.Name)
			_, body := walk(c.Body, in, from)
			short, shortShape := from, in
			if c.Shortcut != nil {
				shortShape, short = walk(c.Shortcut, in, from)
			}
			if shortShape[0] != info.Out[0] {
				nodes = append(nodes, GraphNode{Name: scope + "/pad", Op: "Pad", Inputs: []string{short},
					Attrs: map[string]string{"shape": shape(info.Out)}})
				short = scope + "/pad"
			}
			nodes = append(nodes, GraphNode{Name: scope + "/add", Op: "AddV2", Inputs: []string{body, short},
				Attrs: map[string]string{"shape": shape(info.Out)}})
			out := scope + "/add"
			if c.ReLU {
				nodes = append(nodes, GraphNode{Name: scope + "/relu", Op: "Relu", Inputs: []string{out}})
				out = scope + "/relu"
			}
			return info.Out, out
		}
		name := scoped(info.Name)
		attrs := map[string]string{"shape": shape(info.Out), "kind": info.Kind}
		if info.Params > 0 {
			attrs["parameters"] = fmt.Sprint(info.Params)
		}
		nodes = append(nodes, GraphNode{Name: name, Op: opName(l), Inputs: []string{from}, Attrs: attrs})
		return info.Out, name
	}
	walk(m.Net, m.Config.Input[:], "input")
	return nodes
}

func scoped(name string) string { return strings.ReplaceAll(name, ".", "/") }

func opName(l nn.Layer) string {
	switch c := l.(type) {
	case *nn.Conv2D:
		return "Conv2D"
	case *nn.Pool2D:
		if c.Max {
			return "MaxPool"
		}
		return "AvgPool"
	case *nn.BatchNorm:
		return "FusedBatchNormV3"
	case *nn.ReLU:
		return "Relu"
	case *nn.Linear:
		return "MatMul"
	}
	return fmt.Sprintf("%T", l)
}
