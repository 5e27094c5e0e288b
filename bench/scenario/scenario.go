// Package scenario holds the experiments: batches (the YOLO study), coldwarm (the
// Eigenfaces study) and rate (the highest arrival rate held, found by open-loop
// steps). Each runs against a Target, which is a base URL, or a URL per route where each route is its own
// function (and, where the platform allows, a way to force cold starts), so local
// deployments and deployed stacks are measured alike. Every request becomes a
// results.Record the moment it completes.
package scenario

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
)

// Target is a deployment under test.
type Target struct {
	Name string // "serverful", "serverless", or a --target name
	URL  string // base URL, no trailing slash; "" when Routes name every route served
	// Routes sends a route ("/predict", "/faces/train") to a URL of its own, as
	// Cloud Functions serve each route from its own function at its own URL.
	// Routes not listed go to URL+route.
	Routes map[string]string
	// Cold forces the next requests to be cold starts; nil when the platform gives
	// no way to (coldwarm then says its cold burst is only as cold as it finds it).
	Cold Coldable
	// Scaling holds a serverful target's scaling off, so that rate can measure
	// its minimum size; nil when it cannot be held.
	Scaling ScalingHold
	// Serverless: the platform scales per request (Lambda, Cloud Functions, the
	// local stand-in), so rate labels its capacity "serverless"; false for a
	// serverful target and for one whose platform is not known.
	Serverless bool
}

// URLFor is the URL route is sent to: its own URL from Routes, else the base URL
// with the route appended; "" when the target serves no such route. Every request
// a scenario sends is addressed through it.
func (t Target) URLFor(route string) string {
	if u, ok := t.Routes[route]; ok {
		return u
	}
	if t.URL == "" {
		return ""
	}
	return t.URL + route
}

// Endpoint describes where the target is, for the results header: its base URL,
// else its routes as "route=URL" in route order.
func (t Target) Endpoint() string {
	if t.URL != "" || len(t.Routes) == 0 {
		return t.URL
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(t.Routes)) {
		parts = append(parts, r+"="+t.Routes[r])
	}
	return strings.Join(parts, " ")
}

// serves reports routes the target has no URL for, before a scenario sends
// anything: a missing function must not become a run of failed requests.
func (t Target) serves(routes ...string) error {
	var missing []string
	for _, r := range routes {
		if t.URLFor(r) == "" {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("target %s serves no %s (it has no base URL and routes only %s)",
			t.Name, strings.Join(missing, ", "), strings.Join(slices.Sorted(maps.Keys(t.Routes)), ", "))
	}
	return nil
}

// Coldable can make a deployment's next requests cold starts.
type Coldable interface {
	ForceCold(ctx context.Context) error
}

// Recorder takes each request's record and each capacity the rate scenario finds
// (a *results.Writer is one).
type Recorder interface {
	Record(results.Record) error
	Capacity(results.Capacity) error
}

// Scenario is one experiment.
type Scenario interface {
	Name() string
	// Planned is how many requests a run against t sends (an upper bound), for
	// progress and cost estimates.
	Planned(t Target) int
	// Run measures t. It returns after every request it sent has been recorded.
	Run(ctx context.Context, r *Runner, t Target) (Summary, error)
}

// Summary is what a scenario says about one target at the end, for the terminal.
type Summary struct {
	Scenario, Target string
	Lines            []string
}

// Runner sends a scenario's requests and records their results.
type Runner struct {
	Attacker *loadgen.Attacker
	Out      Recorder
	Log      *slog.Logger
	Progress func(done int) // called with 1 for every request recorded; may be nil

	mu  sync.Mutex
	seq int // Seq of the next record, across the whole run
	err error
}

// attack runs one attack and records every result; it returns the results so the
// scenario can judge them. A failure to record stops the run.
func (r *Runner) attack(ctx context.Context, tr loadgen.Targeter, p loadgen.Pacer) ([]loadgen.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []loadgen.Result
	for res := range r.Attacker.Attack(ctx, tr, p) {
		rec := res.Record()
		r.mu.Lock()
		rec.Seq = r.seq
		r.seq++
		r.mu.Unlock()
		if err := r.Out.Record(rec); err != nil {
			r.mu.Lock()
			if r.err == nil {
				r.err = err
			}
			r.mu.Unlock()
			cancel()
		}
		if r.Progress != nil {
			r.Progress(1)
		}
		out = append(out, res)
	}
	r.mu.Lock()
	err := r.err
	r.mu.Unlock()
	if err != nil {
		return out, fmt.Errorf("record results: %w", err)
	}
	return out, ctx.Err()
}

// counts tallies results for summaries.
type counts struct {
	n, ok, cold, warm, unknown int
	errs                       map[string]int
}

func count(rs []loadgen.Result) counts {
	c := counts{errs: map[string]int{}}
	for _, r := range rs {
		c.n++
		if r.OK() {
			c.ok++
		} else {
			c.errs[r.Err]++
		}
		switch {
		case r.Cold == nil:
			c.unknown++
		case *r.Cold:
			c.cold++
		default:
			c.warm++
		}
	}
	return c
}

func (c counts) String() string {
	s := fmt.Sprintf("%d/%d ok, %d cold, %d warm", c.ok, c.n, c.cold, c.warm)
	if c.unknown > 0 {
		s += fmt.Sprintf(", %d without server info", c.unknown)
	}
	for e, n := range c.errs {
		s += fmt.Sprintf(", %d× %s", n, e)
	}
	return s
}
