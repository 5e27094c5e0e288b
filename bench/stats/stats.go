// Package stats summarises latency samples: exact percentiles from the sorted
// samples (no digest, no histogram), mean, min, max and the sample standard
// deviation, plus the error rate and throughput of a group of requests.
package stats

import (
	"math"
	"slices"
	"time"
)

// Summary describes one set of samples. Fields are NaN when undefined: all of them
// for an empty set, Std for a single sample.
type Summary struct {
	N    int
	Mean float64
	Min  float64
	Max  float64
	Std  float64 // sample standard deviation, ddof = 1
	P50  float64
	P90  float64
	P95  float64
	P99  float64
}

// Summarize computes the summary of xs without modifying it.
func Summarize(xs []float64) Summary {
	s := Summary{N: len(xs)}
	if len(xs) == 0 {
		nan := math.NaN()
		s.Mean, s.Min, s.Max, s.Std, s.P50, s.P90, s.P95, s.P99 = nan, nan, nan, nan, nan, nan, nan, nan
		return s
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.Mean = Mean(sorted)
	s.Std = Std(sorted)
	s.P50 = Percentile(sorted, 50)
	s.P90 = Percentile(sorted, 90)
	s.P95 = Percentile(sorted, 95)
	s.P99 = Percentile(sorted, 99)
	return s
}

// Percentile returns the exact p-th percentile (0 ≤ p ≤ 100) of sorted, which must
// be sorted ascending. It interpolates linearly between the closest ranks, the
// definition numpy.percentile uses by default ("linear", Hyndman & Fan type 7):
// with h = (n-1)·p/100, the result is x[⌊h⌋] + (h-⌊h⌋)·(x[⌊h⌋+1]-x[⌊h⌋]).
// It returns NaN for no samples or p outside [0, 100].
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 || p < 0 || p > 100 || math.IsNaN(p) {
		return math.NaN()
	}
	h := float64(n-1) * p / 100
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// Mean is the arithmetic mean, NaN for no samples.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// Std is the sample standard deviation with ddof = 1 (Bessel's correction), as the
// Eigenfaces study reports it; NaN for fewer than two samples, where it is undefined.
func Std(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	m := Mean(xs)
	var ss float64
	for _, x := range xs {
		d := x - m
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// ErrorRate is failed/total, NaN when there were no requests.
func ErrorRate(failed, total int) float64 {
	if total == 0 {
		return math.NaN()
	}
	return float64(failed) / float64(total)
}

// Throughput is successful requests per second over span, the wall time from the
// first request's start to the last one's end. NaN when span is not positive.
func Throughput(ok int, span time.Duration) float64 {
	if span <= 0 {
		return math.NaN()
	}
	return float64(ok) / span.Seconds()
}

// StdErr is the standard error of the mean, Std / √n: how far the mean of xs
// may be from the population's. NaN for fewer than two samples.
func StdErr(xs []float64) float64 {
	return Std(xs) / math.Sqrt(float64(len(xs)))
}
