// Command scalingmodel prints docs/scaling.md's projections of
// data-parallel training: step time and efficiency for 2 to 64 nodes at
// several link speeds, from a model's measured compute time per image and
// gradient size (see docs/scaling.md for the formula and the inputs).
//
//	go run ./tools/scalingmodel --name seed-resnet34 --image-ms 4.65 --params 20371178 --batch 100
package main

import (
	"flag"
	"fmt"
	"math"
)

func main() {
	name := flag.String("name", "seed-resnet34", "model name, for the heading")
	imageMs := flag.Float64("image-ms", 4.65, "training time per image on one node, ms (measured)")
	params := flag.Int("params", 20371178, "trainable parameters (4 bytes of gradient each)")
	batch := flag.Int("batch", 100, "global batch of the table")
	hidden := flag.Float64("overlap", 0.67, "fraction of a step's compute the all-reduce can hide behind (backward)")
	latencyUs := flag.Float64("latency-us", 30, "time per message of the all-reduce, µs (assumed)")
	buckets := flag.Int("buckets", 5, "all-reduce calls per step (gradient buckets)")
	flag.Parse()

	grad := 4 * float64(*params)
	tImg := *imageMs / 1e3
	fmt.Printf("### %s: global batch %d, %.1f MB of gradients, %.2f ms per image per node\n\n", *name, *batch, grad/1e6, *imageMs)
	fmt.Printf("| nodes | link | images/node | compute ms | all-reduce ms | step ms | efficiency | hidden? | batch for 90%% |\n")
	fmt.Printf("|---:|---:|---:|---:|---:|---:|---:|---|---:|\n")
	for _, gbps := range []float64{10, 25, 100} {
		link := gbps * 1e9 / 8
		for _, n := range []int{2, 4, 8, 16, 32, 64} {
			per := float64(*batch) / float64(n)
			compute := per * tImg
			ar := 2*float64(n-1)/float64(n)*grad/link + 2*float64(n-1)*float64(*buckets)*(*latencyUs)/1e6
			step := compute + math.Max(0, ar-*hidden*compute)
			hiddenNote := "yes"
			if ar > *hidden*compute {
				hiddenNote = "no"
			}
			// Efficiency >= 0.9 when ar <= (overlap + 1/9) x compute.
			b90 := float64(n) * ar / ((*hidden + 1.0/9) * tImg)
			fmt.Printf("| %d | %g Gb/s | %.1f | %.0f | %.0f | %.0f | %.0f%% | %s | %.0f |\n",
				n, gbps, per, compute*1e3, ar*1e3, step*1e3, 100*compute/step, hiddenNote, math.Ceil(b90))
		}
	}
	fmt.Println()
}
