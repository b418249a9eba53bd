package native

import (
	"fmt"
	"testing"
)

// TestPackTaps checks packTaps element by element against its
// definition on each instruction set: forward ([j][k][t][col], k over C,
// columns over O, and tap-major [j][t][k][col]) and transposed (k over O,
// columns over C), with taps below, at and above 8 (9 takes the
// overlapping tap blocks), channel counts that leave a partial last block
// of columns and columns past 8 in it, and more output channels than one
// chunk of transposed slabs.
func TestPackTaps(t *testing.T) {
	for _, isa := range ISAs() {
		be := mustNew(t, Options{ISA: isa, Threads: 2})
		nr := be.kern.tileCols
		for _, g := range []struct{ o, c, taps int }{{40, 24, 9}, {2*nr + 11, nr + 3, 9}, {37, 16, 4}, {19, 8, 25}, {8, 16, 8}, {20, 12, 1}, {21, 43, 9}} {
			w := make([]float32, g.o*g.c*g.taps)
			for i := range w {
				w[i] = float32(i + 1)
			}
			for _, c := range []struct {
				transposed bool
				layout     weightLayout
			}{{false, weightLayout{}}, {false, weightLayout{tapMajor: true}}, {true, weightLayout{}}} {
				kc, cols := g.c, g.o
				if c.transposed {
					kc, cols = g.o, g.c
				}
				blocks := (cols + nr - 1) / nr
				got := make([]float32, blocks*kc*g.taps*nr)
				for i := range got {
					got[i] = -1 // the pack writes every element
				}
				be.packTaps(w, g.o, g.c, g.taps, nr, c.transposed, c.layout, got)
				name := fmt.Sprintf("%s %dx%dx%d transposed %v tap-major %v", isa, g.o, g.c, g.taps, c.transposed, c.layout.tapMajor)
				for j := 0; j < blocks; j++ {
					for k := 0; k < kc; k++ {
						for tap := 0; tap < g.taps; tap++ {
							for col := 0; col < nr; col++ {
								want := float32(0)
								if j*nr+col < cols {
									o, ch := j*nr+col, k
									if c.transposed {
										o, ch = k, j*nr+col
									}
									want = w[(o*g.c+ch)*g.taps+tap]
								}
								at := ((j*kc+k)*g.taps+tap)*nr + col
								if c.layout.tapMajor {
									at = ((j*g.taps+tap)*kc+k)*nr + col
								}
								if got[at] != want {
									t.Fatalf("%s: block %d k %d tap %d column %d = %v, want %v", name, j, k, tap, col, got[at], want)
								}
							}
						}
					}
				}
			}
		}
	}
}
