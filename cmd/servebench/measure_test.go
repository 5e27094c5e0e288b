package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
)

// contractServer answers /predict like the service (cold once), after delay, with
// the platform figures the local Lambda front door adds (an init when cold).
func contractServer(t *testing.T, delay time.Duration, hits *atomic.Int64) *httptest.Server {
	var served atomic.Bool
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		cold := !served.Swap(true)
		p := results.PlatformReport{DurationMS: float64(delay.Milliseconds()) + 0.5, BilledMS: float64(delay.Milliseconds()) + 1}
		if cold {
			p.InitMS = 4
		}
		w.Header().Set(results.PlatformHeader, p.Header())
		fmt.Fprintf(w, `{"server":{"cold":%t,"instance":"i-1","platform":"test"},"timings_ms":{"inference":%d,"total":%d}}`,
			cold, delay.Milliseconds(), delay.Milliseconds())
	}))
	t.Cleanup(s.Close)
	return s
}

func readResults(t *testing.T, path string) (results.Header, []results.Record) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rf, err := results.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	h, recs := rf.Header, rf.Records
	return h, recs
}

func TestMeasureWritesResultsAndReport(t *testing.T) {
	stderr = newConsole(os.Stderr)
	var hits atomic.Int64
	srv := contractServer(t, 10*time.Millisecond, &hits)
	dir := t.TempDir()
	var out bytes.Buffer
	err := measure(context.Background(), slog.New(slog.DiscardHandler), measurement{
		dir: dir, started: time.Now(), config: map[string]any{"batches": "2"},
		versions:  map[string]string{"backend": "test"},
		targets:   []scenario.Target{{Name: "a", URL: srv.URL}},
		scenarios: []scenario.Scenario{scenario.Batches{Size: 3, Batches: 2, Images: []string{"images/dog.jpg"}}},
		attacker:  loadgen.NewAttacker(), stdout: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, recs := readResults(t, filepath.Join(dir, ResultsFile))
	if h.Targets["a"] != srv.URL || h.Versions["backend"] != "test" || h.Versions["go"] == "" || h.Machine.CPUs < 1 ||
		len(h.Scenarios) != 1 || h.Scenarios[0] != "batches" || h.Config["batches"] != "2" {
		t.Errorf("header %+v", h)
	}
	if len(recs) != 6 || hits.Load() != 6 {
		t.Fatalf("%d records, %d requests served; want 6", len(recs), hits.Load())
	}
	for _, r := range recs {
		p := r.PlatformReport
		if p == nil || p.BilledMS != 11 || p.DurationMS != 10.5 || (p.InitMS == 4) != *r.Cold {
			t.Errorf("record %d (cold %v): platform figures %+v, want billed 11 ms, duration 10.5 ms, init 4 ms when cold", r.Seq, *r.Cold, p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		t.Errorf("no report: %v", err)
	}
	for _, want := range []string{"batch 1: mean", "1 cold, 2 warm", "6 requests recorded", "servebench report: 6 requests, 0 failed", "billed_mean_ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out.String())
		}
	}
}

// Cancelling (Ctrl-C) mid-run keeps every request sent and still writes the report.
func TestMeasureInterruptedKeepsWhatWasSent(t *testing.T) {
	stderr = newConsole(os.Stderr)
	var hits atomic.Int64
	srv := contractServer(t, 50*time.Millisecond, &hits)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(400*time.Millisecond, cancel)
	var out bytes.Buffer
	err := measure(ctx, slog.New(slog.DiscardHandler), measurement{
		dir: dir, started: time.Now(),
		targets: []scenario.Target{{Name: "a", URL: srv.URL}},
		scenarios: []scenario.Scenario{scenario.Rate{Rates: []float64{20}, MaxRate: 20, Precision: 0.1, MaxSteps: 1, Step: time.Minute, Percentile: 99,
			Objective: time.Second, Images: []string{"images/dog.jpg"}}},
		attacker: loadgen.NewAttacker(), stdout: &out,
	})
	if err == nil {
		t.Fatal("an interrupted run returned no error")
	}
	_, recs := readResults(t, filepath.Join(dir, ResultsFile))
	if len(recs) == 0 || int64(len(recs)) < hits.Load() {
		t.Errorf("%d records for %d requests the server saw", len(recs), hits.Load())
	}
	if !strings.Contains(out.String(), "interrupted") {
		t.Errorf("output does not say it was interrupted:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		t.Errorf("no report after an interrupted run: %v", err)
	}
}

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ResultsFile)
	w, err := results.Create(path, results.Header{Started: time.Now(), Scenarios: []string{"batches"}})
	if err != nil {
		t.Fatal(err)
	}
	cold := true
	for i := range 3 {
		if err := w.Record(results.Record{Scenario: "batches", Target: "serverless", Function: "predict", Group: "1", Batch: 1, Seq: i,
			Intended: time.Now(), Start: time.Now(), ClientMS: 100 + float64(i), Status: 200, Cold: &cold, ServerMS: 90}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	out := filepath.Join(dir, "again")
	if err := reportCmd(context.Background(), log, []string{"-out", out, path}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "index.html")); err != nil {
		t.Errorf("no report: %v", err)
	}
	if err := reportCmd(context.Background(), log, []string{filepath.Join(dir, "missing.jsonl")}); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("missing file: %v", err)
	}
	if err := reportCmd(context.Background(), log, nil); err == nil || !strings.Contains(err.Error(), "give one results file") {
		t.Errorf("no argument: %v", err)
	}
}
