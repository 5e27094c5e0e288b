package cloud

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
)

// ResultsFile is the name of the results file in the output directory.
const ResultsFile = "results.jsonl"

// DefaultReportsWait bounds the wait for Lambda's REPORT lines to reach
// CloudWatch Logs, which shows events some seconds to a minute after they are written.
const DefaultReportsWait = 2 * time.Minute

// deployed is what the deploy step stood up, ready to measure.
type deployed struct {
	deployments map[string]results.Deployment // by target name
	targets     []scenario.Target
	fleet       Fleet    // nil without the serverful stack
	fn          Function // nil without the serverless stack
}

// reorder puts coldwarm first, so that its first cold burst is the first load
// each target sees after deploy.
func reorder(ss []scenario.Scenario) []scenario.Scenario {
	out := slices.Clone(ss)
	slices.SortStableFunc(out, func(a, b scenario.Scenario) int {
		_, ca := a.(scenario.ColdWarm)
		_, cb := b.(scenario.ColdWarm)
		switch {
		case ca && !cb:
			return -1
		case cb && !ca:
			return 1
		}
		return 0
	})
	return out
}

// measure runs the scenarios against every target, then the memory sweep,
// sampling the fleet throughout, and joins Lambda's REPORT lines to the records.
// A cancelled ctx stops the load; what was measured is kept and joined.
func measure(ctx context.Context, o Options, d deployed) (path string, err error) {
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return "", fmt.Errorf("output directory: %w", err)
	}
	mainScenarios := reorder(o.Scenarios)
	sweep, hasSweep := sweepScenario(o.Scenarios)
	if d.fn == nil || len(o.LambdaMemoryMB) == 0 {
		hasSweep = false
	} else if !hasSweep {
		o.Log.Warn("no memory sweep: it runs coldwarm's predict bursts, and -scenarios has no coldwarm")
	}

	h := o.Header
	h.Started = time.Now().UTC()
	h.Targets = map[string]string{}
	h.Deployments = map[string]results.Deployment{}
	for _, t := range d.targets {
		h.Targets[t.Name] = t.Endpoint()
		h.Deployments[t.Name] = d.deployments[t.Name]
	}
	if hasSweep {
		base := d.deployments["serverless"]
		for _, mb := range o.LambdaMemoryMB {
			dep := base
			dep.MemoryMB = mb
			h.Targets[sweepName("serverless", mb)] = base.Endpoint
			h.Deployments[sweepName("serverless", mb)] = dep
		}
	}
	h.Scenarios = scenario.Plan{Scenarios: mainScenarios}.Names()
	path = filepath.Join(o.Out, ResultsFile)
	w, err := results.Create(path, h)
	if err != nil {
		return "", err
	}

	var wg sync.WaitGroup
	stopSampling := make(chan struct{})
	if d.fleet != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sampleFleet(ctx, o, d.fleet, "serverful", w, stopSampling)
		}()
	}

	labels := newColdLabels(w)
	targets := make([]scenario.Target, len(d.targets))
	for i, t := range d.targets {
		t.Cold = labels.wrap(t.Name, t.Cold)
		targets[i] = t
	}
	r := &scenario.Runner{Attacker: o.Attacker, Out: labels, Log: o.Log}
	sums, runErr := scenario.Plan{Scenarios: mainScenarios, Targets: targets}.Run(ctx, r)
	if runErr == nil && hasSweep {
		var more []scenario.Summary
		more, runErr = runSweep(ctx, o, d, r, sweep)
		sums = append(sums, more...)
	}
	close(stopSampling)
	wg.Wait()
	closeErr := w.Close()
	fmt.Fprintf(o.Stdout, "\n%s", scenario.Text(sums))
	fmt.Fprintf(o.Stdout, "%d requests recorded in %s\n", w.Records(), path)

	if d.fn != nil {
		// A fresh context: an interrupted run still gets its platform figures,
		// which teardown would delete with the log group.
		jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ReportsWait+time.Minute)
		n, err := joinReports(jctx, path, lambdaTargets(d), d.fn, o.ReportsWait)
		cancel()
		if err != nil {
			o.Log.Warn("platform figures: REPORT lines not joined", "err", err)
		} else {
			for _, t := range sortedKeys(n) {
				fmt.Fprintf(o.Stdout, "%s: %d requests joined to their REPORT line, %d without one\n", t, n[t].joined, n[t].missing)
			}
		}
	}
	return path, errors.Join(runErr, closeErr)
}

// runSweep sets each Lambda memory size in turn and runs the cold and warm
// predict bursts against it, as target serverless@<MB>.
func runSweep(ctx context.Context, o Options, d deployed, r *scenario.Runner, sweep scenario.ColdWarm) ([]scenario.Summary, error) {
	base := d.deployments["serverless"]
	current := base.MemoryMB
	var sums []scenario.Summary
	for _, mb := range o.LambdaMemoryMB {
		o.Log.Info("memory sweep", "memory_mb", mb)
		t := scenario.Target{Name: sweepName("serverless", mb), URL: base.Endpoint, Cold: &memorySize{fn: d.fn, mb: mb, current: &current}}
		s, err := scenario.Plan{Scenarios: []scenario.Scenario{sweep}, Targets: []scenario.Target{t}}.Run(ctx, r)
		sums = append(sums, s...)
		if err != nil {
			return sums, fmt.Errorf("memory sweep at %d MB: %w", mb, err)
		}
	}
	if base.MemoryMB > 0 && current != base.MemoryMB {
		// Back to what the stack declares, so a kept stack has no drift.
		if err := d.fn.SetMemory(ctx, base.MemoryMB); err != nil {
			return sums, fmt.Errorf("memory sweep: back to %d MB: %w", base.MemoryMB, err)
		}
	}
	return sums, nil
}

// lambdaTargets says which target names the Lambda function serves: its
// stack's and the sweep's (serverless@<MB>).
func lambdaTargets(d deployed) func(string) bool {
	return func(name string) bool {
		if dep, ok := d.deployments[name]; ok {
			return dep.Platform == "lambda"
		}
		stack, _, ok := strings.Cut(name, "@")
		return ok && d.deployments[stack].Platform == "lambda"
	}
}

// sampleFleet records the fleet's tasks and instances every SampleEvery until stop.
func sampleFleet(ctx context.Context, o Options, f Fleet, target string, w *results.Writer, stop <-chan struct{}) {
	t := time.NewTicker(o.SampleEvery)
	defer t.Stop()
	for {
		s, err := f.Sample(ctx)
		if err != nil {
			o.Log.Warn("fleet sample", "err", err)
		} else {
			for _, x := range s.Records(target, time.Now().UTC()) {
				if err := w.Sample(x); err != nil {
					o.Log.Warn("fleet sample", "err", err)
				}
			}
		}
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
