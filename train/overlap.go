package train

import (
	"fmt"
	"slices"
	"time"
)

// Overlap says when a data-parallel step sends its gradients' buckets to
// be all-reduced. Either way the same all-reduces run in the same order
// on the same values, so the results are the same bit for bit; only the
// speed differs.
//
// Overlapping communication with the rest of backward (as PyTorch's DDP
// does) hides it when the communication has a processor to run on: a
// network card, or a core that computation leaves free. When every core
// computes (on this project's 2-core machine, two ranks of one thread),
// the all-reduce's copies through shared memory and its busy wait for the
// other rank take the cores from backward instead: measured there,
// seed-resnet34 at batch 100 took 4-15% shorter steps (9 runs) with every
// bucket sent after backward. OverlapAuto measures instead of guessing.
type Overlap int

const (
	// OverlapAuto times the first steps both ways (alternately, after a
	// warm-up step) and keeps the faster; rank 0 decides for the job.
	OverlapAuto Overlap = iota
	// OverlapOn sends each bucket as soon as backward has finished its
	// gradients.
	OverlapOn
	// OverlapOff sends every bucket when backward ends.
	OverlapOff
)

// ParseOverlap reads auto, on or off.
func ParseOverlap(s string) (Overlap, error) {
	switch s {
	case "auto":
		return OverlapAuto, nil
	case "on":
		return OverlapOn, nil
	case "off":
		return OverlapOff, nil
	}
	return 0, fmt.Errorf("overlap %q: want auto, on or off", s)
}

func (o Overlap) String() string {
	switch o {
	case OverlapAuto:
		return "auto"
	case OverlapOn:
		return "on"
	case OverlapOff:
		return "off"
	}
	return fmt.Sprintf("Overlap(%d)", int(o))
}

// overlapTrials is how many steps OverlapAuto times each way. Steps
// alternate between the two, so that a machine whose speed drifts over
// minutes favours neither.
const overlapTrials = 5

// overlapTuner decides, step by step, whether a trainer's reducer
// overlaps.
type overlapTuner struct {
	mode    Overlap
	steps   int // steps run under this transport
	on, off []time.Duration
	// chosen is set once the mode is fixed: by the caller (on or off) or
	// by the trials; Decision reports it.
	chosen   bool
	overlap  bool
	decision string
}

func newOverlapTuner(mode Overlap) *overlapTuner {
	u := &overlapTuner{mode: mode}
	if mode != OverlapAuto {
		u.chosen, u.overlap = true, mode == OverlapOn
	}
	return u
}

// trial reports whether the coming step is timed, and which way it runs.
// Step 0 (first touch of every buffer, primitives planned) is not.
func (u *overlapTuner) trial() (timed, overlap bool) {
	switch {
	case u.chosen:
		return false, u.overlap
	case u.steps == 0:
		return false, true
	default:
		return true, u.steps%2 == 1
	}
}

// record adds the duration of a timed step.
func (u *overlapTuner) record(overlap bool, d time.Duration) {
	if overlap {
		u.on = append(u.on, d)
	} else {
		u.off = append(u.off, d)
	}
}

// trialsDone reports whether both ways have been timed enough.
func (u *overlapTuner) trialsDone() bool {
	return !u.chosen && len(u.on) >= overlapTrials && len(u.off) >= overlapTrials
}

// vote is this rank's choice from its trials: the lower median.
func (u *overlapTuner) vote() bool { return median(u.on) <= median(u.off) }

// fix sets the job's choice and describes it with this rank's timings.
func (u *overlapTuner) fix(overlap bool) {
	u.chosen, u.overlap = true, overlap
	way := "after backward"
	if overlap {
		way = "during backward"
	}
	u.decision = fmt.Sprintf("gradients all-reduced %s (--overlap auto: median step %.1f ms during backward, %.1f ms after, over %d steps each)",
		way, ms(median(u.on)), ms(median(u.off)), overlapTrials)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
