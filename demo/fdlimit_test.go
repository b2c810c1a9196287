package main

import (
	"math"
	"testing"
)

func TestConnsWithinFileLimit(t *testing.T) {
	for _, c := range []struct {
		name                            string
		requested, uploadFiles, reserve int
		limit                           uint64
		want                            int
	}{
		{"fits", 4096, 320, 128, 1 << 20, 4096},
		{"unlimited", 4096, 320, 128, math.MaxUint64, 4096},
		{"exactly fits", 4096, 320, 128, 4096 + 320 + 128, 4096},
		{"one file short", 4096, 320, 128, 4096 + 320 + 127, 4095},
		{"uploads within half", 4096, 100, 56, 1024, 1024 - 56 - 100},
		{"uploads past half: they share the connections", 4096, 320, 64, 256, 96},
		{"ulimit -n 256 on two cores", 4096, 320, 64 + 8 + 32, 256, 76},
		{"the floor", 4096, 320, 128, 100, 16},
		{"a lower request stays", 50, 320, 64, 256, 50},
	} {
		if got := connsWithinFileLimit(c.requested, c.uploadFiles, c.reserve, c.limit); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
