package stats

import (
	"math"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestSummarizeHandComputed(t *testing.T) {
	// Unsorted on purpose; Summarize must not depend on order nor reorder xs.
	xs := []float64{4, 1, 3, 2, 10}
	s := Summarize(xs)
	// sorted 1 2 3 4 10; mean 20/5 = 4; squared deviations 9+4+1+0+36 = 50;
	// std = sqrt(50/4) = 3.5355339059327378.
	// p50: h = 4·0.5 = 2 → 3. p90: h = 3.6 → 4 + 0.6·6 = 7.6.
	// p95: h = 3.8 → 4 + 0.8·6 = 8.8. p99: h = 3.96 → 4 + 0.96·6 = 9.76.
	want := Summary{N: 5, Mean: 4, Min: 1, Max: 10, Std: math.Sqrt(12.5), P50: 3, P90: 7.6, P95: 8.8, P99: 9.76}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"mean", s.Mean, want.Mean}, {"min", s.Min, want.Min}, {"max", s.Max, want.Max},
		{"std", s.Std, want.Std}, {"p50", s.P50, want.P50}, {"p90", s.P90, want.P90},
		{"p95", s.P95, want.P95}, {"p99", s.P99, want.P99},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if s.N != 5 {
		t.Errorf("N = %d", s.N)
	}
	if xs[0] != 4 || xs[4] != 10 {
		t.Errorf("Summarize reordered its input: %v", xs)
	}
}

func TestPercentileEvenCount(t *testing.T) {
	// numpy.percentile([10,20,30,40], q) = 25 (q=50), 37 (q=90), 38.5 (q=95), 39.7 (q=99), 10 (0), 40 (100).
	xs := []float64{10, 20, 30, 40}
	for _, c := range []struct{ p, want float64 }{{0, 10}, {50, 25}, {90, 37}, {95, 38.5}, {99, 39.7}, {100, 40}, {25, 17.5}} {
		if got := Percentile(xs, c.p); !near(got, c.want) {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	for _, p := range []float64{-1, 101, math.NaN()} {
		if got := Percentile(xs, p); !math.IsNaN(got) {
			t.Errorf("p%v = %v, want NaN", p, got)
		}
	}
}

func TestUndefined(t *testing.T) {
	one := Summarize([]float64{2.5})
	if one.Mean != 2.5 || one.Min != 2.5 || one.Max != 2.5 || one.P99 != 2.5 || one.P50 != 2.5 {
		t.Errorf("single sample: %+v", one)
	}
	if !math.IsNaN(one.Std) {
		t.Errorf("std of one sample = %v, want NaN (undefined with ddof 1)", one.Std)
	}
	none := Summarize(nil)
	if none.N != 0 || !math.IsNaN(none.Mean) || !math.IsNaN(none.P95) {
		t.Errorf("empty: %+v", none)
	}
}

func TestStdTwoSamples(t *testing.T) {
	// (1, 3): mean 2, deviations ±1, ss = 2, ddof 1 → sqrt(2).
	if got := Std([]float64{1, 3}); !near(got, math.Sqrt2) {
		t.Errorf("Std = %v, want √2", got)
	}
}

func TestRates(t *testing.T) {
	if got := ErrorRate(3, 12); got != 0.25 {
		t.Errorf("ErrorRate = %v", got)
	}
	if !math.IsNaN(ErrorRate(0, 0)) {
		t.Error("ErrorRate(0,0) should be NaN")
	}
	if got := Throughput(30, 1500*time.Millisecond); got != 20 {
		t.Errorf("Throughput = %v, want 20", got)
	}
	if !math.IsNaN(Throughput(5, 0)) {
		t.Error("Throughput over zero span should be NaN")
	}
}

// TestStdErrAgainstTheStudy: the standard error is std / √n; and the Eigenfaces
// study's Table 1 "std" of 0.26 for n = 30 between 2.14 and 9.12 can only be a
// standard error: the smallest sample std those extremes allow (the other 28 at
// the mean) is range / √(2(n−1)) ≈ 0.92.
func TestStdErrAgainstTheStudy(t *testing.T) {
	xs := []float64{4, 1, 3, 2, 10}
	if got := StdErr(xs); !near(got, math.Sqrt(12.5)/math.Sqrt(5)) {
		t.Errorf("StdErr = %v, want √12.5/√5", got)
	}
	if !math.IsNaN(StdErr([]float64{1})) {
		t.Error("StdErr of one sample is not NaN")
	}
	tight := []float64{2.14, 9.12}
	for range 28 {
		tight = append(tight, (2.14+9.12)/2)
	}
	if s := Std(tight); s < 0.9 || !near(s, (9.12-2.14)/math.Sqrt(2*29)) {
		t.Errorf("smallest std of n = 30 within 2.14..9.12 = %v, want (9.12 − 2.14)/√58 ≈ 0.92", s)
	}
	if se := StdErr(tight); se > 0.26 {
		t.Errorf("its standard error %v is above the study's 0.26: the column could not be a standard error either", se)
	}
}
