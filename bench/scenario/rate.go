package scenario

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
)

// Rate finds the highest arrival rate of POST /predict a target holds within a
// latency objective: open-loop steps, ramping up through Rates and then doubling
// until a step is not held or MaxRate is held, then bisecting between the last
// rate held and the first missed until they are within Precision, never taking
// more than MaxSteps steps. Latency is from each request's intended send time, so
// a target that falls behind is charged for the queue it builds (no coordinated
// omission).
//
// A serverful target whose scaling can be held (Target.Scaling) is searched twice:
// held at its minimum size, then with its scaling on; any other target once. Each
// search writes one results.Capacity.
type Rate struct {
	Rates      []float64     // the ramp's first rates, requests per second, ascending
	MaxRate    float64       // the top rate the search tries (the cap)
	Precision  float64       // bisect until missed − held ≤ Precision × missed
	MaxSteps   int           // most steps one search takes: its time budget, in steps of Step
	Step       time.Duration // length of each step
	Percentile float64       // the objective's percentile (e.g. 99)
	Objective  time.Duration // the latency that percentile must stay within
	MaxErrors  float64       // fraction of failed requests a step may have and still hold
	Images     []string
}

// LocalRate is the search `servebench local` runs by default: on two shared cores
// a target saturates far below the cap, so the search ends at a miss; ten 5 s steps
// are about a minute.
var LocalRate = Rate{Rates: []float64{2, 4, 8, 16}, MaxRate: 64, Precision: 0.1, MaxSteps: 10,
	Step: 5 * time.Second, Percentile: 99, Objective: time.Second, MaxErrors: 0.01}

// DeployedRate is the search against deployed stacks (run -stack, cloud): 10 s steps
// give a p99 over 10 to 500 requests per step and keep the worst case of a default
// `servebench cloud` near $11 (30 s steps triple the search's share of it).
var DeployedRate = func() Rate {
	r := LocalRate
	r.Rates, r.Step = []float64{1, 2, 5, 10, 20, 50}, 10*time.Second
	return r
}()

// minStepRequests: a rate whose step would send fewer requests is not tried, as
// too few to judge a percentile; the search then says no rate was held.
const minStepRequests = 10

// Name implements Scenario.
func (s Rate) Name() string { return "rate" }

// Planned implements Scenario: the requests of the dearest course the search can
// take, over every outcome of its steps (held or not), for each search t gets; 0
// when the settings cannot run.
func (s Rate) Planned(t Target) int {
	if s.validateCourse() != nil {
		return 0
	}
	return s.searches(t) * s.dearest(nil)
}

// searches is how many searches a run against t takes: held, then on, where its
// scaling can be held; one otherwise.
func (s Rate) searches(t Target) int {
	if t.Scaling != nil {
		return 2
	}
	return 1
}

// errBranch stops a replayed search where its given outcomes run out.
var errBranch = errors.New("no outcome given")

// dearest is the most requests a search sends whose first steps have outcomes
// (held or not), by replaying it with each later outcome tried both ways. The
// tree is small whatever MaxSteps: the ramp is a chain (at most 64 rates), the
// halving below a first rate missed ends at minStepRequests, and the bisection
// below each missed rate ends within Precision (at least 1 %: at most 2/Precision
// courses).
func (s Rate) dearest(outcomes []bool) int {
	sent, n := 0, 0
	var c results.Capacity
	_, err := s.searchWith(0, &c, func(rate float64) (StepResult, error) {
		if n == len(outcomes) {
			return StepResult{}, errBranch
		}
		st := StepResult{Rate: rate, Held: outcomes[n]}
		if !st.Held {
			st.Why = results.LimitedObjective
		}
		n++
		sent += loadgen.Constant{Rate: rate, Duration: s.Step}.Hits()
		return st, nil
	})
	if errors.Is(err, errBranch) {
		k := len(outcomes)
		return max(s.dearest(append(outcomes[:k:k], true)), s.dearest(append(outcomes[:k:k], false)))
	}
	return sent
}

// Duration bounds how long a run against t takes when no request takes longer
// than timeout: every step of its searches, each drained.
func (s Rate) Duration(t Target, timeout time.Duration) time.Duration {
	return time.Duration(s.searches(t)*s.MaxSteps) * (s.Step + timeout)
}

// SettingError is a rate setting that cannot run: Setting is named as the
// command line's flag is (without its dash).
type SettingError struct {
	Setting string
	Value   any
	Allowed string
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("rate %s %v: must be %s", e.Setting, e.Value, e.Allowed)
}

// Validate reports the first setting that cannot run as a *SettingError.
func (s Rate) Validate() error {
	if err := s.validateCourse(); err != nil {
		return err
	}
	bad := func(setting string, v any, allowed string) error { return &SettingError{setting, v, allowed} }
	switch {
	case !(s.Percentile > 0 && s.Percentile <= 100):
		return bad("percentile", s.Percentile, "above 0 and at most 100")
	case s.Objective <= 0:
		return bad("objective", s.Objective, "a duration above 0, e.g. 1s")
	case !(s.MaxErrors >= 0 && s.MaxErrors < 1):
		return bad("max-errors", s.MaxErrors, "a fraction from 0 up to (not including) 1")
	case len(s.Images) == 0:
		return bad("images", "none", "at least one image to send")
	}
	return nil
}

// Precision's bounds: finer would take many steps for a difference within the
// noise of one step; coarser is no measurement.
const (
	minPrecision = 0.01
	maxPrecision = 0.5
)

// validateCourse checks the settings the search's course depends on: the rates
// it tries and how many steps.
func (s Rate) validateCourse() error {
	bad := func(setting string, v any, allowed string, args ...any) error {
		return &SettingError{setting, v, fmt.Sprintf(allowed, args...)}
	}
	rates := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(s.Rates)), ","), "[]")
	if len(s.Rates) == 0 {
		return bad("rates", "(none)", "one or more arrival rates, requests/s")
	}
	for i, r := range s.Rates {
		if !(r > 0) || math.IsInf(r, 0) {
			return bad("rates", rates, "arrival rates above 0 (%g is not)", r)
		}
		if i > 0 && r <= s.Rates[i-1] {
			return bad("rates", rates, "ascending (%g after %g)", r, s.Rates[i-1])
		}
	}
	top := s.Rates[len(s.Rates)-1]
	switch {
	case !(s.MaxRate >= top) || math.IsInf(s.MaxRate, 0):
		return bad("max-rate", s.MaxRate, "at least the last ramp rate (%g)", top)
	case !(s.Precision >= minPrecision && s.Precision <= maxPrecision):
		return bad("precision", s.Precision, "from %g to %g (a fraction: 0.1 is 10 %%)", minPrecision, maxPrecision)
	case s.MaxSteps < 1:
		return bad("max-steps", s.MaxSteps, "a whole number ≥ 1")
	case s.Step <= 0:
		return bad("step", s.Step, "a duration above 0, e.g. 10s")
	}
	return nil
}

// ramp is the rates the search climbs: Rates then doubling the last, from from
// instead when it is above 0, ending at MaxRate (which is tried last).
func (s Rate) ramp(from float64) []float64 {
	var out []float64
	if from > 0 {
		out = []float64{min(from, s.MaxRate)}
	} else {
		for _, r := range s.Rates {
			out = append(out, min(r, s.MaxRate))
			if r >= s.MaxRate {
				return out
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	for last := out[len(out)-1]; last < s.MaxRate && len(out) < 64; last = out[len(out)-1] {
		out = append(out, min(2*last, s.MaxRate))
	}
	return out
}

// ScalingHold is a serverful target whose scaling can be held off (locally the
// autoscaler, on ECS the service's dynamic scaling).
type ScalingHold interface {
	// HoldScaling brings the target to its minimum size and keeps it there until
	// resume is called; n is the number of instances it holds with.
	HoldScaling(ctx context.Context) (n int, resume func(context.Context) error, err error)
}

// StepResult is one rate step's outcome.
type StepResult struct {
	Rate                    float64
	Sent, Failed, Throttled int           // Throttled: answered 429 or 503
	P50, PX, Max            time.Duration // PX is at the objective's percentile
	Held                    bool
	// Why is the results.Limited* reason a step was not held.
	Why          string
	AchievedPerS float64 // completions per second over the step
}

// Run implements Scenario: one search per scaling mode the target has.
func (s Rate) Run(ctx context.Context, r *Runner, t Target) (Summary, error) {
	sum := Summary{Scenario: s.Name(), Target: t.Name}
	if err := s.Validate(); err != nil {
		return sum, err
	}
	if err := t.serves(predictRoute); err != nil {
		return sum, err
	}
	run := &rateRun{s: s, r: r, t: t, sum: &sum}
	if t.Scaling == nil {
		scaling := results.ScalingOn
		if t.Serverless {
			scaling = results.ScalingServerless
		}
		_, err := run.search(ctx, scaling, 0, 0, "")
		return sum, err
	}
	n, resume, err := t.Scaling.HoldScaling(ctx)
	if err != nil {
		return sum, fmt.Errorf("rate on %s: hold scaling: %w", t.Name, err)
	}
	held, err := run.search(ctx, results.ScalingHeld, n, 0, "")
	// Resume even when ctx is done: the target must not stay pinned.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	if rerr := resume(rctx); rerr != nil {
		err = errors.Join(err, fmt.Errorf("rate on %s: resume scaling: %w", t.Name, rerr))
	}
	cancel()
	if err != nil {
		return sum, err
	}
	// Scaling on can only add to what the minimum size held: start there, and
	// label the steps apart from the held search's at the same rates.
	_, err = run.search(ctx, results.ScalingOn, 0, held.RatePerS, " on")
	return sum, err
}

// rateRun is one Run's state across its searches.
type rateRun struct {
	s     Rate
	r     *Runner
	t     Target
	sum   *Summary
	steps int // steps sent so far, across searches: each step's Batch
	sent  int // requests sent so far, to cycle the images
}

// search finds one capacity, records it and adds its lines to the summary. from
// starts the ramp there (0: at Rates); suffix follows "<rate>/s" in the groups.
func (x *rateRun) search(ctx context.Context, scaling string, instances int, from float64, suffix string) (results.Capacity, error) {
	s := x.s
	c := results.Capacity{
		Scenario: s.Name(), Target: x.t.Name, Function: "predict", Scaling: scaling, Instances: instances,
		Percentile: s.Percentile, ObjectiveMS: float64(s.Objective.Microseconds()) / 1000, MaxErrors: s.MaxErrors, StepS: s.Step.Seconds(),
	}
	start := time.Now()
	steps, err := s.searchWith(from, &c, func(rate float64) (StepResult, error) { return x.step(ctx, rate, suffix) })
	if err != nil {
		// Nothing recorded: a search cut short found no limit.
		x.sum.Lines = append(x.sum.Lines, fmt.Sprintf("capacity (%s): not found, the search stopped after %d steps", scalingLabel(c), steps))
		return c, err
	}
	if err = x.r.Out.Capacity(c); err != nil {
		err = fmt.Errorf("rate on %s: %w", x.t.Name, err)
	}
	x.sum.Lines = append(x.sum.Lines, capacityLine(c, steps, time.Since(start)))
	x.r.Log.Info("rate: capacity", "target", x.t.Name, "scaling", scaling, "rate_per_s", c.RatePerS, "missed_per_s", c.MissedPerS, "limited_by", c.LimitedBy, "steps", steps)
	return c, err
}

// searchWith is the search, with probe sending one step at a rate: the ramp from
// from (0: Rates) until a rate is missed, then bisection, within MaxSteps. It
// fills c's RatePerS, MissedPerS and LimitedBy and returns the steps taken.
func (s Rate) searchWith(from float64, c *results.Capacity, probe func(rate float64) (StepResult, error)) (int, error) {
	held, missed, why, steps := 0.0, 0.0, "", 0
	try := func(rate float64) (bool, error) {
		steps++
		st, err := probe(rate)
		if err != nil {
			return false, err
		}
		if st.Held {
			held = rate
		} else {
			missed, why = rate, st.Why
		}
		return st.Held, nil
	}
	for _, rate := range s.ramp(from) {
		if steps >= s.MaxSteps {
			break
		}
		ok, err := try(rate)
		if err != nil {
			return steps, err
		}
		if !ok {
			break
		}
	}
	for missed > 0 && missed-held > s.Precision*missed && steps < s.MaxSteps {
		next := tidy(held, missed)
		if next*s.Step.Seconds() < minStepRequests {
			break
		}
		if _, err := try(next); err != nil {
			return steps, err
		}
	}
	c.RatePerS, c.MissedPerS = held, missed
	switch {
	case missed > 0:
		c.LimitedBy = why
	case held >= s.MaxRate:
		c.LimitedBy = results.LimitedCap
	default:
		c.LimitedBy = results.LimitedTime
	}
	return steps, nil
}

// tidy is the midpoint of (lo, hi) to 3 significant digits, so that the groups
// read "23.4/s" rather than "23.4375/s"; the exact midpoint where rounding would
// leave the interval.
func tidy(lo, hi float64) float64 {
	mid := (lo + hi) / 2
	if r, err := strconv.ParseFloat(strconv.FormatFloat(mid, 'g', 3, 64), 64); err == nil && r > lo && r < hi {
		return r
	}
	return mid
}

// step sends one open-loop step at rate and judges it.
func (x *rateRun) step(ctx context.Context, rate float64, suffix string) (StepResult, error) {
	s, t := x.s, x.t
	x.steps++
	batch := x.steps
	group := fmt.Sprintf("%g/s", rate) + suffix
	first := x.sent
	start := time.Now()
	rs, err := x.r.attack(ctx, func(n int) (loadgen.Target, error) {
		img := s.Images[(first+n)%len(s.Images)]
		return predictTarget(t, img, results.Record{
			Scenario: s.Name(), Target: t.Name, Function: "predict", Group: group, Batch: batch, Image: img,
		}), nil
	}, loadgen.Constant{Rate: rate, Duration: s.Step})
	x.sent += len(rs)
	st := s.judge(rate, rs, time.Since(start))
	verdict := "held"
	if !st.Held {
		verdict = "NOT held (" + st.Why + ")"
	}
	x.sum.Lines = append(x.sum.Lines, fmt.Sprintf("%9s: %d sent, %d failed (%d throttled), p50 %s, p%g %s, max %s, %.1f done/s — %s",
		group, st.Sent, st.Failed, st.Throttled, ms(st.P50), s.Percentile, ms(st.PX), ms(st.Max), st.AchievedPerS, verdict))
	x.r.Log.Info("rate: "+t.Name, "rate", group, "p"+fmt.Sprint(s.Percentile), st.PX, "failed", st.Failed, "held", st.Held)
	if err != nil {
		return st, fmt.Errorf("rate on %s at %s: %w", t.Name, group, err)
	}
	return st, nil
}

// scalingLabel says which search c is, for the summary.
func scalingLabel(c results.Capacity) string {
	return map[string]string{
		results.ScalingHeld:       fmt.Sprintf("scaling held at %d instance(s)", c.Instances),
		results.ScalingOn:         "scaling on",
		results.ScalingServerless: "serverless",
	}[c.Scaling]
}

// capacityLine says what a search found, for the summary.
func capacityLine(c results.Capacity, steps int, took time.Duration) string {
	found := "no rate held"
	if c.RatePerS > 0 {
		found = fmt.Sprintf("%g/s held", c.RatePerS)
	}
	var limit string
	switch c.LimitedBy {
	case results.LimitedCap:
		limit = "the search's top rate, a lower bound"
	case results.LimitedTime:
		limit = "the search's step budget ran out before a rate was missed, a lower bound"
	default:
		limit = fmt.Sprintf("%g/s missed: %s", c.MissedPerS, limitedWhy(c))
	}
	return fmt.Sprintf("capacity (%s): %s; limited by %s — p%g ≤ %g ms, ≤ %g %% errors, %g s steps; %d steps in %s (percentiles from HdrHistogram, 3 significant digits)",
		scalingLabel(c), found, limit, c.Percentile, c.ObjectiveMS, 100*c.MaxErrors, c.StepS, steps, took.Round(time.Second))
}

func limitedWhy(c results.Capacity) string {
	switch c.LimitedBy {
	case results.LimitedObjective:
		return fmt.Sprintf("p%g over %g ms", c.Percentile, c.ObjectiveMS)
	case results.LimitedErrors:
		return fmt.Sprintf("over %g %% failed", 100*c.MaxErrors)
	case results.LimitedThrottled:
		return fmt.Sprintf("over %g %% throttled (429/503)", 100*c.MaxErrors)
	}
	return c.LimitedBy
}

// throttled is a platform's refusal for want of capacity: 429 from API Gateway's
// and Cloud Functions' limits and the local serverless cap, 503 from a gateway
// with nothing to send to.
func throttled(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

// judge summarises a step. Failed requests count in the latency too, at the time
// they took to fail: dropping them would flatter a target that times out. A step
// is not held for its errors before its latency: throttling when the refusals
// alone pass the error budget, errors otherwise, else the objective.
func (s Rate) judge(rate float64, rs []loadgen.Result, took time.Duration) StepResult {
	h := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	st := StepResult{Rate: rate, Sent: len(rs)}
	for _, x := range rs {
		if !x.OK() {
			st.Failed++
			if throttled(x.Status) {
				st.Throttled++
			}
		}
		_ = h.RecordValue(max(1, x.Latency().Microseconds()))
	}
	st.P50 = time.Duration(h.ValueAtQuantile(50)) * time.Microsecond
	st.PX = time.Duration(h.ValueAtQuantile(s.Percentile)) * time.Microsecond
	st.Max = time.Duration(h.Max()) * time.Microsecond
	if took > 0 {
		st.AchievedPerS = float64(len(rs)-st.Failed) / took.Seconds()
	}
	budget := s.MaxErrors * float64(len(rs))
	switch {
	case len(rs) == 0:
		st.Why = results.LimitedErrors // nothing was sent: nothing held
	case float64(st.Throttled) > budget:
		st.Why = results.LimitedThrottled
	case float64(st.Failed) > budget:
		st.Why = results.LimitedErrors
	case st.PX > s.Objective:
		st.Why = results.LimitedObjective
	}
	st.Held = st.Why == ""
	return st
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
