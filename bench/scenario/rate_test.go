package scenario

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
)

// rateFor is a search with the given ramp and cap, the rest at test settings.
func rateFor(rates []float64, maxRate float64) Rate {
	return Rate{Rates: rates, MaxRate: maxRate, Precision: 0.1, MaxSteps: 12, Step: time.Second,
		Percentile: 99, Objective: time.Second, MaxErrors: 0.01, Images: []string{"images/a.jpg", "images/b.jpg"}}
}

// capacityProbe holds every rate up to capacity and misses above it for why,
// counting what it was asked.
type capacityProbe struct {
	capacity float64
	why      string
	tried    []float64
}

func (p *capacityProbe) probe(rate float64) (StepResult, error) {
	p.tried = append(p.tried, rate)
	if rate <= p.capacity {
		return StepResult{Rate: rate, Held: true}, nil
	}
	return StepResult{Rate: rate, Why: p.why}, nil
}

// The search's course against a target of known capacity, step by step: the ramp
// climbs and doubles past Rates to the first miss, bisection narrows to within
// the precision of the missed rate, and what limited it is the miss's reason.
func TestRateSearchNarrowsToPrecision(t *testing.T) {
	s := rateFor([]float64{2, 4}, 1000)
	p := &capacityProbe{capacity: 37, why: results.LimitedObjective}
	var c results.Capacity
	steps, err := s.searchWith(0, &c, p.probe)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{2, 4, 8, 16, 32, 64, 48, 40, 36} // 40 − 36 ≤ 10 % of 40
	if fmt.Sprint(p.tried) != fmt.Sprint(want) || steps != len(want) {
		t.Errorf("tried %v in %d steps, want %v", p.tried, steps, want)
	}
	if c.RatePerS != 36 || c.MissedPerS != 40 || c.LimitedBy != results.LimitedObjective {
		t.Errorf("capacity %+v, want 36/s held, 40/s missed, limited by objective", c)
	}
	if c.MissedPerS-c.RatePerS > s.Precision*c.MissedPerS {
		t.Errorf("gap %g–%g wider than the precision", c.RatePerS, c.MissedPerS)
	}
}

func TestRateSearchStopsAtCapAndBudget(t *testing.T) {
	// Never saturates: the ramp stops at the cap (not a power of two of the ramp).
	s := rateFor([]float64{10}, 50)
	p := &capacityProbe{capacity: math.Inf(1)}
	var c results.Capacity
	if _, err := s.searchWith(0, &c, p.probe); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.tried) != "[10 20 40 50]" || c.RatePerS != 50 || c.MissedPerS != 0 || c.LimitedBy != results.LimitedCap {
		t.Errorf("tried %v, capacity %+v; want 10 20 40 50, limited by cap", p.tried, c)
	}

	// The step budget ends the ramp, and ends bisection too.
	for _, tc := range []struct {
		capacity float64
		steps    int
		held     float64
		missed   float64
		limited  string
	}{
		{math.Inf(1), 3, 40, 0, results.LimitedTime},
		{37, 5, 35, 40, results.LimitedObjective}, // 10 20 40(miss) 30 35: not yet within 10 %
	} {
		s := rateFor([]float64{10}, 1000)
		s.MaxSteps = tc.steps
		p := &capacityProbe{capacity: tc.capacity, why: results.LimitedObjective}
		var c results.Capacity
		steps, err := s.searchWith(0, &c, p.probe)
		if err != nil {
			t.Fatal(err)
		}
		if steps != tc.steps || len(p.tried) != tc.steps {
			t.Errorf("capacity %g: %d steps (%v), budget %d", tc.capacity, steps, p.tried, tc.steps)
		}
		if c.RatePerS != tc.held || c.MissedPerS != tc.missed || c.LimitedBy != tc.limited {
			t.Errorf("capacity %g: %+v, want %g/s held, %g/s missed, limited by %s", tc.capacity, c, tc.held, tc.missed, tc.limited)
		}
	}
}

// A first rate already missed halves down, and gives up below a step of too few
// requests to judge: no rate held.
func TestRateSearchBelowTheRamp(t *testing.T) {
	s := rateFor([]float64{16}, 64)
	s.Step = 4 * time.Second
	p := &capacityProbe{capacity: 5, why: results.LimitedErrors}
	var c results.Capacity
	if _, err := s.searchWith(0, &c, p.probe); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.tried) != "[16 8 4 6 5 5.5]" || c.RatePerS != 5 || c.MissedPerS != 5.5 || c.LimitedBy != results.LimitedErrors {
		t.Errorf("tried %v, capacity %+v", p.tried, c)
	}
	p = &capacityProbe{capacity: 1, why: results.LimitedErrors}
	c = results.Capacity{}
	if _, err := s.searchWith(0, &c, p.probe); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.tried) != "[16 8 4]" || c.RatePerS != 0 || c.MissedPerS != 4 {
		t.Errorf("tried %v (2/s × 4 s is under %d requests), capacity %+v", p.tried, minStepRequests, c)
	}
}

// concurrencyServer serves n requests at a time, each for d, queueing the rest:
// its capacity is n/d.
func concurrencyServer(t *testing.T, n int, d time.Duration) *httptest.Server {
	sem := make(chan struct{}, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sem <- struct{}{}
		time.Sleep(d)
		<-sem
		fmt.Fprint(w, `{"server":{"cold":false,"instance":"x"},"timings_ms":{"total":100}}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A server that holds 40/s (8 at a time × 200 ms) is found at 40 ± 10 %. Below
// 40/s nothing queues (200 ms); above it the queue grows for the whole step, so
// by 44/s over 4 s the last requests wait 0.4 s: past a 600 ms objective. The
// 400 ms between service time and objective absorbs the stalls of a busy
// machine's load generator.
func TestRateFindsCapacityOfKnownServer(t *testing.T) {
	srv := concurrencyServer(t, 8, 200*time.Millisecond)
	out := &memRecorder{}
	r, progress := newRunner(out)
	s := rateFor([]float64{30}, 160)
	s.Step, s.Objective = 4*time.Second, 600*time.Millisecond
	sum, err := s.Run(context.Background(), r, Target{Name: "t", URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.caps) != 1 {
		t.Fatalf("%d capacities, want 1", len(out.caps))
	}
	c := out.caps[0]
	t.Logf("found %g/s held, %g/s missed", c.RatePerS, c.MissedPerS)
	if c.RatePerS < 36 || c.RatePerS > 44 || c.LimitedBy != results.LimitedObjective || c.Scaling != results.ScalingOn {
		t.Errorf("capacity %+v, want 40/s ± 10 %%, limited by the objective, scaling on", c)
	}
	if c.MissedPerS <= c.RatePerS || c.MissedPerS-c.RatePerS > s.Precision*c.MissedPerS {
		t.Errorf("held %g/s, missed %g/s: not within %g", c.RatePerS, c.MissedPerS, s.Precision)
	}
	if c.Target != "t" || c.Scenario != "rate" || c.Function != "predict" || c.Percentile != 99 || c.ObjectiveMS != 600 || c.StepS != 4 || c.MaxErrors != 0.01 {
		t.Errorf("capacity labels %+v", c)
	}
	// Every request is recorded under its step, open loop at the step's rate.
	steps := map[int]string{}
	n := map[int]int{}
	for _, rec := range out.recs {
		if g, ok := steps[rec.Batch]; ok && g != rec.Group {
			t.Errorf("step %d has groups %q and %q", rec.Batch, g, rec.Group)
		}
		steps[rec.Batch] = rec.Group
		n[rec.Batch]++
	}
	for b, g := range steps {
		var rate float64
		if _, err := fmt.Sscanf(g, "%g/s", &rate); err != nil {
			t.Fatalf("group %q: %v", g, err)
		}
		if want := (loadgen.Constant{Rate: rate, Duration: s.Step}).Hits(); n[b] != want {
			t.Errorf("step %d (%s): %d requests, want %d", b, g, n[b], want)
		}
	}
	if *progress != len(out.recs) || len(out.recs) > s.Planned(Target{}) {
		t.Errorf("%d records, progress %d, planned at most %d", len(out.recs), *progress, s.Planned(Target{}))
	}
	last := sum.Lines[len(sum.Lines)-1]
	if !strings.Contains(last, fmt.Sprintf("capacity (scaling on): %g/s held; limited by %g/s missed: p99 over 600 ms", c.RatePerS, c.MissedPerS)) ||
		len(sum.Lines) != len(steps)+1 {
		t.Errorf("summary %q", sum.Lines)
	}
}

// bucketServer answers at once while its token bucket (rate per second, burst 8,
// which absorbs the load generator's jitter on a busy machine) has a token, and
// 429 otherwise, as a platform's throttle does.
func bucketServer(t *testing.T, rate float64) *httptest.Server {
	var mu sync.Mutex
	tokens, last := 8.0, time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now := time.Now()
		tokens = min(8, tokens+now.Sub(last).Seconds()*rate)
		last = now
		ok := tokens >= 1
		if ok {
			tokens--
		}
		mu.Unlock()
		if !ok {
			http.Error(w, `{"error":"too_many_requests"}`, http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `{"server":{"cold":false,"instance":"x"},"timings_ms":{"total":1}}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRateThrottledServerlessAndCap(t *testing.T) {
	out := &memRecorder{}
	r, _ := newRunner(out)
	s := rateFor([]float64{10}, 40)
	s.Step = 2 * time.Second
	// Throttled at 25/s: found at most 29/s (the burst lets that pass for 2 s),
	// and above the first rate (under a load average of 20 on 2 cores the load
	// generator's bunched sends were throttled from 22.5/s), limited by
	// throttling, labelled serverless.
	if _, err := s.Run(context.Background(), r, Target{Name: "sl", URL: bucketServer(t, 25).URL, Serverless: true}); err != nil {
		t.Fatal(err)
	}
	// Never saturated: stops at the cap, never beyond it.
	s.Step = 500 * time.Millisecond
	if _, err := s.Run(context.Background(), r, Target{Name: "fast", URL: concurrencyServer(t, 1000, 0).URL}); err != nil {
		t.Fatal(err)
	}
	if len(out.caps) != 2 {
		t.Fatalf("capacities %+v", out.caps)
	}
	th, fast := out.caps[0], out.caps[1]
	t.Logf("throttled: %g/s held, %g/s missed", th.RatePerS, th.MissedPerS)
	if th.Scaling != results.ScalingServerless || th.LimitedBy != results.LimitedThrottled || th.RatePerS <= 10 || th.RatePerS > 29 || th.MissedPerS > 32 {
		t.Errorf("throttled at 25/s: %+v", th)
	}
	if fast.LimitedBy != results.LimitedCap || fast.RatePerS != 40 || fast.MissedPerS != 0 {
		t.Errorf("never saturated, cap 40/s: %+v", fast)
	}
	for _, rec := range out.recs {
		if rec.Target == "fast" && rec.Group != "10/s" && rec.Group != "20/s" && rec.Group != "40/s" {
			t.Errorf("request at %s beyond the cap", rec.Group)
		}
	}
}

// holder is a ScalingHold that counts its holds and resumes.
type holder struct {
	mu             sync.Mutex
	held, resumed  int
	holding        bool
	heldDuringHold int // requests seen while held
}

func (h *holder) HoldScaling(context.Context) (int, func(context.Context) error, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held++
	h.holding = true
	return 1, func(context.Context) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.resumed++
		h.holding = false
		return nil
	}, nil
}

// A serverful target whose scaling can be held is searched held at its minimum
// size, then resumed and searched with scaling on from the held rate, its steps
// labelled apart.
func TestRateHeldThenOn(t *testing.T) {
	h := &holder{}
	out := &memRecorder{}
	r, _ := newRunner(out)
	s := rateFor([]float64{10}, 40)
	s.Step = 500 * time.Millisecond
	sum, err := s.Run(context.Background(), r, Target{Name: "sf", URL: concurrencyServer(t, 1000, 0).URL, Scaling: h})
	if err != nil {
		t.Fatal(err)
	}
	if h.held != 1 || h.resumed != 1 {
		t.Errorf("held %d, resumed %d times; want 1, 1", h.held, h.resumed)
	}
	if len(out.caps) != 2 || out.caps[0].Scaling != results.ScalingHeld || out.caps[0].Instances != 1 ||
		out.caps[1].Scaling != results.ScalingOn || out.caps[1].Instances != 0 {
		t.Fatalf("capacities %+v", out.caps)
	}
	groups := map[string]bool{}
	for _, rec := range out.recs {
		groups[rec.Group] = true
	}
	// Held: 10 20 40 (the cap); on: from 40, the cap at once.
	if fmt.Sprint(groups) != "map[10/s:true 20/s:true 40/s:true 40/s on:true]" {
		t.Errorf("groups %v", groups)
	}
	if !strings.Contains(strings.Join(sum.Lines, "\n"), "capacity (scaling held at 1 instance(s)): 40/s held; limited by the search's top rate") {
		t.Errorf("summary %q", sum.Lines)
	}
}

// A failing hold stops the scenario before anything is sent; a failing resume is
// reported.
type badHold struct{ holdErr, resumeErr error }

func (b badHold) HoldScaling(context.Context) (int, func(context.Context) error, error) {
	return 1, func(context.Context) error { return b.resumeErr }, b.holdErr
}

func TestRateHoldErrors(t *testing.T) {
	srv := concurrencyServer(t, 1000, 0)
	s := rateFor([]float64{10}, 10)
	s.Step = 200 * time.Millisecond
	for _, b := range []badHold{{holdErr: errors.New("no quota")}, {resumeErr: errors.New("gone")}} {
		out := &memRecorder{}
		r, _ := newRunner(out)
		_, err := s.Run(context.Background(), r, Target{Name: "sf", URL: srv.URL, Scaling: b})
		want := "rate on sf: hold scaling: no quota"
		if b.resumeErr != nil {
			want = "rate on sf: resume scaling: gone"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v, want %q", err, want)
		}
		if b.holdErr != nil && len(out.recs) != 0 {
			t.Errorf("sent %d requests after the hold failed", len(out.recs))
		}
	}
}

// judge's verdict from known latencies: the percentile (HdrHistogram, 3
// significant digits) against the objective, failures against the error budget,
// throttling apart from other errors.
func TestRateJudge(t *testing.T) {
	base := time.Now()
	results := func(failed, status int) []loadgen.Result {
		var rs []loadgen.Result
		for i := 1; i <= 100; i++ { // latencies 10, 20, ..., 1000 ms
			r := loadgen.Result{Intended: base, Start: base, End: base.Add(time.Duration(i) * 10 * time.Millisecond), Status: 200}
			if i <= failed {
				r.Status, r.Err = status, "failed"
			}
			rs = append(rs, r)
		}
		return rs
	}
	// Within 3 significant digits (HdrHistogram reports a bucket's upper end).
	near := func(d, want time.Duration) bool { return d >= want && d <= want+want/1000 }
	s := Rate{Percentile: 99, Objective: 991 * time.Millisecond, MaxErrors: 0.01}
	st := s.judge(10, results(0, 0), 10*time.Second)
	if !st.Held || st.Why != "" || st.Sent != 100 || st.Failed != 0 || !near(st.P50, 500*time.Millisecond) || !near(st.PX, 990*time.Millisecond) || !near(st.Max, time.Second) {
		t.Errorf("all ok: %+v", st)
	}
	if st.AchievedPerS != 10 {
		t.Errorf("achieved %g/s, want 10", st.AchievedPerS)
	}
	s.Objective = 989 * time.Millisecond
	if st := s.judge(10, results(0, 0), time.Second); st.Held || st.Why != "objective" {
		t.Errorf("p99 990 ms held an objective of 989 ms: %+v", st)
	}
	s.Objective = time.Second
	if st := s.judge(10, results(1, 500), time.Second); !st.Held || st.Failed != 1 {
		t.Errorf("1 %% failed within a 1 %% budget: %+v", st)
	}
	for status, why := range map[int]string{500: "errors", 0: "errors", 429: "throttled", 503: "throttled"} {
		if st := s.judge(10, results(2, status), time.Second); st.Held || st.Why != why {
			t.Errorf("2 %% failed with %d held a 1 %% budget or not for %s: %+v", status, why, st)
		}
	}
	if st := s.judge(10, nil, time.Second); st.Held {
		t.Errorf("a step with no requests held: %+v", st)
	}
}

func TestRateValidate(t *testing.T) {
	base := rateFor([]float64{1, 2}, 2)
	bad := []struct {
		mut  func(*Rate)
		want string
	}{
		{func(r *Rate) { r.Rates = []float64{2, 1}; r.MaxRate = 2 }, "rate rates 2,1: must be ascending (1 after 2)"},
		{func(r *Rate) { r.Rates = []float64{0} }, "rate rates 0: must be arrival rates above 0 (0 is not)"},
		{func(r *Rate) { r.Rates = nil }, "rate rates (none): must be one or more"},
		{func(r *Rate) { r.MaxRate = 1.5 }, "rate max-rate 1.5: must be at least the last ramp rate (2)"},
		{func(r *Rate) { r.Precision = 0 }, "rate precision 0: must be from 0.01 to 0.5"},
		{func(r *Rate) { r.Precision = 1 }, "rate precision 1: must be from 0.01 to 0.5"},
		{func(r *Rate) { r.MaxSteps = 0 }, "rate max-steps 0: must be a whole number ≥ 1"},
		{func(r *Rate) { r.Percentile = 101 }, "rate percentile 101: must be above 0 and at most 100"},
		{func(r *Rate) { r.Step = 0 }, "rate step 0s: must be a duration above 0"},
		{func(r *Rate) { r.Objective = -time.Second }, "rate objective -1s: must be a duration above 0"},
		{func(r *Rate) { r.MaxErrors = 1 }, "rate max-errors 1: must be a fraction from 0 up to"},
		{func(r *Rate) { r.Images = nil }, "rate images none: must be at least one image"},
	}
	for _, b := range bad {
		r := base
		b.mut(&r)
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("err %v, want %q", err, b.want)
		}
	}
	if err := base.Validate(); err != nil {
		t.Error(err)
	}
}

// Planned bounds the requests of any course the search can take.
func TestRatePlannedBoundsEveryCourse(t *testing.T) {
	s := rateFor([]float64{2, 4}, 100)
	s.MaxSteps = 6
	hits := func(rate float64) int { return loadgen.Constant{Rate: rate, Duration: s.Step}.Hits() }
	most := 0
	for capacity := 0.5; capacity <= 120; capacity += 0.5 {
		p := &capacityProbe{capacity: capacity, why: results.LimitedObjective}
		var c results.Capacity
		if _, err := s.searchWith(0, &c, p.probe); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range p.tried {
			n += hits(r)
		}
		most = max(most, n)
	}
	// Exactly the dearest course (the probes above reach it); two searches where
	// scaling can be held.
	if got := s.Planned(Target{}); got != most {
		t.Errorf("planned %d, dearest course %d requests", got, most)
	}
	if got := s.Planned(Target{Scaling: &holder{}}); got != 2*most {
		t.Errorf("planned %d with scaling held and on, want 2 × %d", got, most)
	}
}

// A search cut short (Ctrl-C) records no capacity and says so; the requests it
// sent are recorded.
func TestRateInterruptedRecordsNoCapacity(t *testing.T) {
	out := &memRecorder{}
	r, _ := newRunner(out)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	s := rateFor([]float64{10}, 40)
	sum, err := s.Run(ctx, r, Target{Name: "t", URL: concurrencyServer(t, 1000, 0).URL})
	if err == nil || len(out.caps) != 0 || len(out.recs) == 0 {
		t.Fatalf("err %v, %d capacities, %d records; want an error, none, some", err, len(out.caps), len(out.recs))
	}
	if last := sum.Lines[len(sum.Lines)-1]; last != "capacity (scaling on): not found, the search stopped after 1 steps" {
		t.Errorf("summary %q", sum.Lines)
	}
}
