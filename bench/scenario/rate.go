package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
)

// Rate sends POST /predict open loop at fixed arrival rates, one step after another,
// to find the highest rate a target holds within a latency objective. Latency is
// from each request's intended send time, so a target that falls behind is charged
// for the queue it builds (no coordinated omission).
type Rate struct {
	Rates      []float64     // requests per second, one step each, ascending
	Step       time.Duration // length of each step
	Percentile float64       // the objective's percentile (e.g. 99)
	Objective  time.Duration // the latency that percentile must stay within
	MaxErrors  float64       // fraction of failed requests a step may have and still hold
	// StopAfterMiss ends the steps at the first one not held: higher rates would
	// only queue more.
	StopAfterMiss bool
	Images        []string
}

// Name implements Scenario.
func (s Rate) Name() string { return "rate" }

// Planned implements Scenario.
func (s Rate) Planned() int {
	n := 0
	for _, r := range s.Rates {
		n += loadgen.Constant{Rate: r, Duration: s.Step}.Hits()
	}
	return n
}

// Validate reports settings that cannot run.
func (s Rate) Validate() error {
	for i, r := range s.Rates {
		if r <= 0 {
			return fmt.Errorf("rate %g/s: must be above 0", r)
		}
		if i > 0 && r <= s.Rates[i-1] {
			return fmt.Errorf("rates must ascend: %g/s after %g/s", r, s.Rates[i-1])
		}
	}
	switch {
	case len(s.Rates) == 0:
		return fmt.Errorf("rate: no rates given")
	case s.Step <= 0:
		return fmt.Errorf("rate step %s: must be above 0", s.Step)
	case s.Percentile <= 0 || s.Percentile > 100:
		return fmt.Errorf("rate percentile %g: must be in (0, 100]", s.Percentile)
	case s.Objective <= 0:
		return fmt.Errorf("rate objective %s: must be above 0", s.Objective)
	case s.MaxErrors < 0 || s.MaxErrors >= 1:
		return fmt.Errorf("rate max errors %g: must be in [0, 1)", s.MaxErrors)
	case len(s.Images) == 0:
		return fmt.Errorf("rate: no images to send")
	}
	return nil
}

// StepResult is one rate step's outcome.
type StepResult struct {
	Rate         float64
	Sent, Failed int
	P50, PX, Max time.Duration // PX is at the objective's percentile
	Held         bool
	AchievedPerS float64 // completions per second over the step
}

// Run implements Scenario.
func (s Rate) Run(ctx context.Context, r *Runner, t Target) (Summary, error) {
	sum := Summary{Scenario: s.Name(), Target: t.Name}
	if err := s.Validate(); err != nil {
		return sum, err
	}
	if err := t.serves(predictRoute); err != nil {
		return sum, err
	}
	best := 0.0
	seq := 0
	for i, rate := range s.Rates {
		group := fmt.Sprintf("%g/s", rate)
		start := time.Now()
		rs, err := r.attack(ctx, func(n int) (loadgen.Target, error) {
			img := s.Images[(seq+n)%len(s.Images)]
			return predictTarget(t, img, results.Record{
				Scenario: s.Name(), Target: t.Name, Function: "predict", Group: group, Batch: i + 1, Image: img,
			}), nil
		}, loadgen.Constant{Rate: rate, Duration: s.Step})
		seq += len(rs)
		st := s.judge(rate, rs, time.Since(start))
		if st.Held {
			best = rate
		}
		verdict := "held"
		if !st.Held {
			verdict = "NOT held"
		}
		sum.Lines = append(sum.Lines, fmt.Sprintf("%7s: %d sent, %d failed, p50 %s, p%g %s, max %s, %.1f done/s — %s",
			group, st.Sent, st.Failed, ms(st.P50), s.Percentile, ms(st.PX), ms(st.Max), st.AchievedPerS, verdict))
		r.Log.Info("rate: "+t.Name, "rate", group, "p"+fmt.Sprint(s.Percentile), st.PX, "failed", st.Failed, "held", st.Held)
		if err != nil {
			return sum, fmt.Errorf("rate on %s at %s: %w", t.Name, group, err)
		}
		if !st.Held && s.StopAfterMiss {
			break
		}
	}
	held := "none of the rates tried"
	if best > 0 {
		held = fmt.Sprintf("%g/s", best)
	}
	sum.Lines = append(sum.Lines, fmt.Sprintf("highest rate held (p%g ≤ %s, ≤ %g %% errors): %s (percentiles from HdrHistogram, 3 significant digits)",
		s.Percentile, s.Objective, 100*s.MaxErrors, held))
	return sum, nil
}

// judge summarises a step. Failed requests count in the latency too, at the time
// they took to fail: dropping them would flatter a target that times out.
func (s Rate) judge(rate float64, rs []loadgen.Result, took time.Duration) StepResult {
	h := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	st := StepResult{Rate: rate, Sent: len(rs)}
	for _, x := range rs {
		if !x.OK() {
			st.Failed++
		}
		_ = h.RecordValue(max(1, x.Latency().Microseconds()))
	}
	st.P50 = time.Duration(h.ValueAtQuantile(50)) * time.Microsecond
	st.PX = time.Duration(h.ValueAtQuantile(s.Percentile)) * time.Microsecond
	st.Max = time.Duration(h.Max()) * time.Microsecond
	if took > 0 {
		st.AchievedPerS = float64(len(rs)-st.Failed) / took.Seconds()
	}
	st.Held = len(rs) > 0 && st.PX <= s.Objective && float64(st.Failed) <= s.MaxErrors*float64(len(rs))
	return st
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
