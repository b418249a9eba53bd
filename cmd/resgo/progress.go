package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress reports a long job's advance on stderr: a bar redrawn in place
// on a terminal, or a plain line every interval when stderr is a file or
// a pipe.
type progress struct {
	w        io.Writer
	label    string
	noun     string // what is counted: "step" unless set
	total    int64
	unit     int // images per step, for the rate
	terminal bool
	start    time.Time
	startAt  int64
	last     time.Time
	interval time.Duration
}

func newProgress(label string, from, total int64, imagesPerStep int) *progress {
	fi, err := os.Stderr.Stat()
	term := err == nil && fi.Mode()&os.ModeCharDevice != 0
	interval := 30 * time.Second
	if term {
		interval = 200 * time.Millisecond
	}
	now := time.Now()
	return &progress{w: os.Stderr, label: label, noun: "step", total: total, unit: imagesPerStep, terminal: term,
		start: now, startAt: from, last: now, interval: interval}
}

// update reports that step of total is done; extra is appended (a loss).
func (p *progress) update(step int64, extra string) {
	now := time.Now()
	due := now.Sub(p.last) >= p.interval
	if step >= p.total {
		// The end: a bar completes; plain lines report it only for a job
		// long enough to have needed them.
		due = p.terminal || now.Sub(p.start) >= p.interval
	}
	if !due {
		return
	}
	p.last = now
	done := step - p.startAt
	el := now.Sub(p.start).Seconds()
	rate, eta := 0.0, "?"
	if done > 0 && el > 0 {
		rate = float64(done) * float64(p.unit) / el
		eta = time.Duration(float64(p.total-step) / float64(done) * el * float64(time.Second)).Round(time.Second).String()
	}
	frac := float64(step) / float64(max(1, p.total))
	if !p.terminal {
		fmt.Fprintf(p.w, "resgo: %s: %s %d/%d (%.0f%%), %.1f images/s, ETA %s%s\n", p.label, p.noun, step, p.total, 100*frac, rate, eta, extra)
		return
	}
	const width = 30
	fill := int(frac * width)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	fmt.Fprintf(p.w, "\r%s [%s] %d/%d %.1f img/s ETA %s%s\033[K", p.label, bar, step, p.total, rate, eta, extra)
	if step >= p.total {
		fmt.Fprintln(p.w)
	}
}

// finish ends a bar's line on a terminal (after an interruption).
func (p *progress) finish() {
	if p.terminal {
		fmt.Fprintln(p.w)
	}
}
