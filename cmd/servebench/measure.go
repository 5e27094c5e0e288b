package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
)

// ResultsFile is the name of a run's JSON Lines file inside its output directory.
const ResultsFile = "results.jsonl"

// measurement is one run, local or remote, from results file to report.
type measurement struct {
	dir       string
	started   time.Time
	config    map[string]any
	versions  map[string]string
	targets   []scenario.Target
	scenarios []scenario.Scenario
	attacker  *loadgen.Attacker
	samples   *sampleSink // set while the results file is open; may be nil
	noReport  bool
	prices    string // price file for the report ("" for the built-in list)
	stdout    io.Writer

	// deployments says what targets run on, by name (nil when nothing is known).
	deployments map[string]results.Deployment
}

// measure writes the results file, runs the plan, prints the scenarios' summaries
// and writes the report. When ctx is cancelled (Ctrl-C) it stops sending, keeps
// what was measured and still writes the report from it.
func measure(ctx context.Context, log *slog.Logger, m measurement) error {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	plan := scenario.Plan{Scenarios: m.scenarios, Targets: m.targets}
	urls := map[string]string{}
	for _, t := range m.targets {
		urls[t.Name] = t.Endpoint()
	}
	path := filepath.Join(m.dir, ResultsFile)
	w, err := results.Create(path, header(ctx, m.started, m.config, m.versions, urls, m.deployments, plan.Names()))
	if err != nil {
		return err
	}
	m.samples.set(w)
	log.Info("servebench: recording", "results", path, "requests_planned", plan.Planned())

	bar := newProgress(stderr, plan.Planned())
	r := &scenario.Runner{Attacker: m.attacker, Out: w, Log: log, Progress: bar.Add}
	sums, runErr := plan.Run(ctx, r)
	bar.Close()
	m.samples.set(nil)
	closeErr := w.Close()
	m.attacker.Close()

	fmt.Fprintf(m.stdout, "\n%s", scenario.Text(sums))
	fmt.Fprintf(m.stdout, "%d requests recorded in %s\n", w.Records(), path)
	interrupted := runErr != nil && errors.Is(ctx.Err(), context.Canceled)
	if interrupted {
		fmt.Fprintln(m.stdout, "interrupted: the report covers what was measured before the stop")
	}
	if runErr != nil && !interrupted {
		return errors.Join(runErr, closeErr)
	}
	if closeErr != nil {
		return closeErr
	}
	if !m.noReport && w.Records() > 0 {
		// A fresh context: an interrupted run still gets its report.
		if err := writeReport(context.WithoutCancel(ctx), log, path, m.dir, m.prices, m.stdout); err != nil {
			return err
		}
	}
	if interrupted {
		return runErr
	}
	return nil
}

// sampleSink forwards time-series samples to the results file while it is open and
// drops them otherwise (before it is created, after it is closed). The local
// deployments start sampling before the file exists, since the header names
// their URLs.
type sampleSink struct {
	w atomic.Pointer[results.Writer]
}

func (s *sampleSink) set(w *results.Writer) {
	if s != nil {
		s.w.Store(w)
	}
}

// Sample implements local.SampleSink.
func (s *sampleSink) Sample(x results.Sample) error {
	if w := s.w.Load(); w != nil {
		return w.Sample(x)
	}
	return nil
}
