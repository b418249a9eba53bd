//go:build dnnl

package dnnl

import "testing"

// TestPairRunsCoverEveryPairOnce expands the runs over a batch of 3 and
// checks that every (output pixel, input pixel) pair of each image appears
// exactly once, through the tap that joins them, and that the centre run
// comes first and covers every output row.
func TestPairRunsCoverEveryPairOnce(t *testing.T) {
	const n = 3
	seen := map[[2]int]int{}
	for i, r := range pairRuns2x2 {
		rows := 4 * n / r.Stride
		if i == 0 && (r.Tap != 4 || rows != 4*n) {
			t.Fatalf("first run %+v does not cover every row with the centre tap", r)
		}
		for k := 0; k < rows; k++ {
			p, q := r.P0+k*r.Stride, r.Q0+k*r.Stride
			if p/4 != q/4 {
				t.Fatalf("run %+v row %d joins pixels of different images (%d, %d)", r, k, p, q)
			}
			pp, qq := p%4, q%4
			if tap := (qq/2-pp/2+1)*3 + (qq%2 - pp%2 + 1); tap != r.Tap {
				t.Fatalf("run %+v joins pixel %d to %d, which tap %d joins", r, pp, qq, tap)
			}
			seen[[2]int{p, q}]++
		}
	}
	if len(seen) != 16*n {
		t.Fatalf("%d pairs covered, want %d", len(seen), 16*n)
	}
	for pq, c := range seen {
		if c != 1 {
			t.Fatalf("pair %v covered %d times", pq, c)
		}
	}
	if len(pairRuns2x2) != 11 {
		t.Fatalf("%d runs, want 11", len(pairRuns2x2))
	}
}
