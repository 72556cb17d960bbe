package main

import "math/bits"

// The histogram buckets latencies (µs) as an HDR histogram of 3 significant digits does, and as
// the load tester's interval time line does (loadtest/src/interval-timeline.ts bucketValueUs):
// exact below 2,048 µs, 11 significant bits above, so that a value reported here is the value the
// Node side's hdr-histogram-js reports for the same samples.

const (
	exactBelow  = 2048
	subBuckets  = 1024
	maxTrackUs  = 3_600_000_000 // one hour, as MAX_TRACKABLE_US
	maxExponent = 21            // floor(log2(maxTrackUs)) - 10
	bucketCount = exactBelow + maxExponent*subBuckets
)

// bucketOf is the index of the bucket of v (1 ≤ v ≤ maxTrackUs).
func bucketOf(v uint64) int {
	if v < exactBelow {
		return int(v)
	}
	shift := bits.Len64(v) - 11 // ≥ 1
	return exactBelow + (shift-1)*subBuckets + int(v>>uint(shift)) - subBuckets
}

// bucketValue is the highest value of bucket i (what HdrHistogram reports for it).
func bucketValue(i int) uint64 {
	if i < exactBelow {
		return uint64(i)
	}
	shift := (i-exactBelow)/subBuckets + 1
	sub := uint64((i-exactBelow)%subBuckets + subBuckets)
	return (sub << uint(shift)) + (1 << uint(shift)) - 1
}

func clampUs(v uint64) uint64 {
	if v < 1 {
		return 1
	}
	if v > maxTrackUs {
		return maxTrackUs
	}
	return v
}

// histogram is a dense bucket array; one per goroutine, added at the end.
type histogram struct {
	counts []uint64
	total  uint64
	sum    uint64
	max    uint64
}

func newHistogram() *histogram { return &histogram{counts: make([]uint64, bucketCount)} }

func (h *histogram) record(us uint64) {
	us = clampUs(us)
	h.counts[bucketOf(us)]++
	h.total++
	h.sum += us
	if us > h.max {
		h.max = us
	}
}

func (h *histogram) add(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	if o.max > h.max {
		h.max = o.max
	}
}

// percentile is the value at p (0–100] by nearest rank, as HdrHistogram and percentileOf compute
// it: the smallest bucket value with at least ceil(p × count / 100) values at or below it.
func (h *histogram) percentile(p float64) uint64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(p*float64(h.total)/100 + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return bucketValue(i)
		}
	}
	return bucketValue(bucketOf(h.max))
}

// sparse is the non-empty buckets: their highest values and counts, ascending.
type sparse struct {
	Values []uint64 `json:"values"`
	Counts []uint64 `json:"counts"`
}

func (h *histogram) sparse() sparse {
	s := sparse{Values: []uint64{}, Counts: []uint64{}}
	for i, c := range h.counts {
		if c > 0 {
			s.Values = append(s.Values, bucketValue(i))
			s.Counts = append(s.Counts, c)
		}
	}
	return s
}
