package model

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/resgo/resgo/nn"
)

// Summary writes one line per layer (residual layers with their inner
// layers and shortcut indented), with output shapes, parameters and multiply-adds
// per example, and the totals.
func (m *Model) Summary(w io.Writer) (params, macs int64) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "layer\tkind\toutput\tparameters\tmultiply-adds\t\n")
	in := m.Config.Input[:]
	var walk func(l nn.Layer, in []int, indent string) []int
	walk = func(l nn.Layer, in []int, indent string) []int {
		info := l.Describe(in)
		switch c := l.(type) {
		case *nn.Sequential:
			for _, sub := range c.Layers {
				in = walk(sub, in, indent)
			}
			return in
		case *nn.Residual:
			fmt.Fprintf(tw, "%s%s\t%s\t%s\t\t\t\n", indent, info.Name, info.Kind, shape(info.Out))
			walk(c.Body, in, indent+"  ")
			if c.Shortcut != nil {
				walk(c.Shortcut, in, indent+"  ")
			}
			return info.Out
		}
		params += info.Params
		macs += info.MACs
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t\n", indent, info.Name, info.Kind, shape(info.Out), group(info.Params), group(info.MACs))
		return info.Out
	}
	walk(m.Net, in, "")
	fmt.Fprintf(tw, "total\t\t\t%s\t%s\t\n", group(params), group(macs))
	tw.Flush()
	return params, macs
}

func shape(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}

// group writes n with thousands separators.
func group(n int64) string {
	if n == 0 {
		return "-"
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
