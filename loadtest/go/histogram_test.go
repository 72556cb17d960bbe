package main

import (
	"math/rand/v2"
	"sort"
	"testing"
)

func TestBucketsRoundTrip(t *testing.T) {
	for _, v := range []uint64{1, 2, 2047, 2048, 2049, 4095, 4096, 123_456, 1 << 31, maxTrackUs} {
		i := bucketOf(v)
		top := bucketValue(i)
		if top < v {
			t.Fatalf("value %d: bucket %d tops at %d, below it", v, i, top)
		}
		if bucketOf(top) != i || (i > 0 && bucketValue(i-1) >= v) {
			t.Fatalf("value %d: bucket %d (top %d) is not the bucket holding it", v, i, top)
		}
		// 11 significant bits: the bucket's width is at most 1/1024 of its values.
		if v >= exactBelow && float64(top-v) > float64(v)/1024 {
			t.Fatalf("value %d: bucket top %d is too far", v, top)
		}
	}
	if bucketOf(maxTrackUs) >= bucketCount {
		t.Fatalf("the largest value's bucket %d is out of range %d", bucketOf(maxTrackUs), bucketCount)
	}
}

// The percentiles are the nearest-rank ones of the samples, up to the bucket's precision.
func TestPercentilesMatchSortedSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := newHistogram()
	samples := make([]uint64, 20_001)
	for i := range samples {
		samples[i] = 1 + uint64(r.ExpFloat64()*3000)
		h.record(samples[i])
	}
	sort.Slice(samples, func(a, b int) bool { return samples[a] < samples[b] })
	for _, p := range []float64{50, 90, 99, 99.9, 100} {
		rank := int(p*float64(len(samples))/100 + 0.999999999)
		want := bucketValue(bucketOf(samples[rank-1]))
		if got := h.percentile(p); got != want {
			t.Fatalf("p%.1f: got %d, want %d (sample %d)", p, got, want, samples[rank-1])
		}
	}
	if h.max != samples[len(samples)-1] || h.total != uint64(len(samples)) {
		t.Fatalf("max %d total %d", h.max, h.total)
	}
	s := h.sparse()
	var n uint64
	for i, c := range s.Counts {
		n += c
		if i > 0 && s.Values[i] <= s.Values[i-1] {
			t.Fatal("sparse values not ascending")
		}
	}
	if n != h.total {
		t.Fatalf("sparse counts %d, total %d", n, h.total)
	}
}
