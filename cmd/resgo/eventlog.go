package main

import (
	"fmt"

	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/tblog"
)

// eventLog is a TensorBoard log that is created, with the model's graph,
// at its first event: a run that trains nothing (its steps already
// reached, or a checkpoint of another model refused) leaves no empty
// event file behind, nor the graph of a model it did not train.
type eventLog struct {
	dir    string
	model  model.Config
	opened func(path string) // told once, when the file exists
	w      *tblog.Writer
}

func (l *eventLog) open() error {
	if l.w != nil {
		return nil
	}
	w, err := tblog.NewWriter(l.dir)
	if err != nil {
		return fmt.Errorf("TensorBoard log %s: %w", l.dir, err)
	}
	if err := writeGraph(w, l.model); err != nil {
		w.Close()
		return err
	}
	l.w = w
	if l.opened != nil {
		l.opened(w.Path())
	}
	return nil
}

func (l *eventLog) Scalars(step int64, values map[string]float64) error {
	if err := l.open(); err != nil {
		return err
	}
	return l.w.Scalars(step, values)
}

func (l *eventLog) Histogram(tag string, step int64, values []float32) error {
	if err := l.open(); err != nil {
		return err
	}
	return l.w.Histogram(tag, step, values)
}

func (l *eventLog) Flush() error {
	if l.w == nil {
		return nil
	}
	return l.w.Flush()
}

func (l *eventLog) Close() error {
	if l.w == nil {
		return nil
	}
	return l.w.Close()
}

// writeGraph puts the model's graph into a TensorBoard log.
func writeGraph(w *tblog.Writer, c model.Config) error {
	m, err := model.Describe(c)
	if err != nil {
		return err
	}
	var nodes []tblog.Node
	for _, n := range m.Graph() {
		nodes = append(nodes, tblog.Node{Name: n.Name, Op: n.Op, Inputs: n.Inputs, Attrs: n.Attrs})
	}
	return w.Graph(nodes)
}
