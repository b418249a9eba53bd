package main

import (
	"slices"
	"testing"

	"github.com/resgo/resgo/charts"
)

// TestTrailingMean: each point becomes the mean of itself and the n-1
// before it (fewer at the start); n <= 1 changes nothing.
func TestTrailingMean(t *testing.T) {
	in := []charts.Point{{X: 1, Y: 4}, {X: 2, Y: 2}, {X: 3, Y: 6}, {X: 4, Y: 0}}
	got := trailingMean(in, 2)
	want := []charts.Point{{X: 1, Y: 4}, {X: 2, Y: 3}, {X: 3, Y: 4}, {X: 4, Y: 3}}
	if !slices.Equal(got, want) {
		t.Fatalf("trailingMean(2) = %v, want %v", got, want)
	}
	if got := trailingMean(in, 1); !slices.Equal(got, in) {
		t.Fatalf("trailingMean(1) = %v, want the points unchanged", got)
	}
}
