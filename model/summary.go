package model

import (
	"fmt"
	"io"
	"strings"

	"github.com/resgo/resgo/nn"
)

// Summary writes one line per layer (residual layers with their inner
// layers and shortcut indented), with output shapes, parameters and
// multiply-adds per example, and the totals.
func (m *Model) Summary(w io.Writer) (params, macs int64) {
	rows := [][5]string{{"layer", "kind", "output", "parameters", "multiply-adds"}}
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
			rows = append(rows, [5]string{indent + info.Name, info.Kind, shape(info.Out)})
			walk(c.Body, in, indent+"  ")
			if c.Shortcut != nil {
				walk(c.Shortcut, in, indent+"  ")
			}
			return info.Out
		}
		params += info.Params
		macs += info.MACs
		rows = append(rows, [5]string{indent + info.Name, info.Kind, shape(info.Out), group(info.Params), group(info.MACs)})
		return info.Out
	}
	walk(m.Net, m.Config.Input[:], "")
	rows = append(rows, [5]string{"total", "", "", group(params), group(macs)})
	var width [5]int
	for _, r := range rows {
		for i, cell := range r {
			width[i] = max(width[i], len(cell))
		}
	}
	for _, r := range rows {
		line := fmt.Sprintf("%-*s  %-*s  %*s  %*s  %*s", width[0], r[0], width[1], r[1], width[2], r[2], width[3], r[3], width[4], r[4])
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	return params, macs
}

func shape(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}

// group writes n with thousands separators, or "-" for none.
func group(n int64) string {
	if n == 0 {
		return "-"
	}
	return FormatCount(n)
}

// FormatCount writes n with thousands separators: 20,371,178.
func FormatCount(n int64) string {
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
