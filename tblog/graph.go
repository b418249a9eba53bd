package tblog

import (
	"fmt"
	"sort"
)

// Node is one operation of a model's graph, for TensorBoard's Graphs tab.
// Names are "/"-separated scopes, which TensorBoard draws as nested boxes.
type Node struct {
	Name   string
	Op     string
	Inputs []string
	// Attrs are shown as the node's string attributes (shapes, sizes).
	Attrs map[string]string
}

// Field numbers from TensorFlow's graph.proto, node_def.proto and
// attr_value.proto, and Event.graph_def.
const (
	eventGraphDef = 4
	graphNode     = 1
	nodeName      = 1
	nodeOp        = 2
	nodeInput     = 3
	nodeAttr      = 5
	mapKey        = 1
	mapValue      = 2
	attrString    = 2
)

func encodeGraph(nodes []Node) pbuf {
	var g pbuf
	for _, n := range nodes {
		var m pbuf
		m = m.optString(nodeName, n.Name)
		m = m.optString(nodeOp, n.Op)
		for _, in := range n.Inputs {
			m = m.string(nodeInput, in)
		}
		keys := make([]string, 0, len(n.Attrs))
		for k := range n.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var value pbuf
			value = value.string(attrString, n.Attrs[k])
			var entry pbuf
			entry = entry.string(mapKey, k)
			entry = entry.message(mapValue, value)
			m = m.message(nodeAttr, entry)
		}
		g = g.message(graphNode, m)
	}
	return g
}

// Graph writes a model's graph as a GraphDef event. Every input must name
// a node of the graph.
func (w *Writer) Graph(nodes []Node) error {
	names := map[string]bool{}
	for _, n := range nodes {
		if n.Name == "" || names[n.Name] {
			return fmt.Errorf("tblog: graph node name %q is empty or repeated", n.Name)
		}
		names[n.Name] = true
	}
	for _, n := range nodes {
		for _, in := range n.Inputs {
			if !names[in] {
				return fmt.Errorf("tblog: graph node %q reads %q, which is not in the graph", n.Name, in)
			}
		}
	}
	var e pbuf
	e = e.optDouble(eventWallTime, wallTime(w.now()))
	e = e.bytes(eventGraphDef, encodeGraph(nodes))
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeRecord(e)
}
