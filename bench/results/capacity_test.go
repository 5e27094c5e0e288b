package results

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// A Capacity line written by the Writer comes back from Read as written, among
// the other kinds, and Read (which has no place for it) still reads the file.
func TestCapacityRoundTrip(t *testing.T) {
	caps := []Capacity{
		{Scenario: "rate", Target: "serverful", Function: "predict", Scaling: ScalingHeld, Instances: 1,
			RatePerS: 37.5, MissedPerS: 40, LimitedBy: LimitedObjective, Percentile: 99, ObjectiveMS: 1000, MaxErrors: 0.01, StepS: 5},
		{Scenario: "rate", Target: "serverless", Function: "predict", Scaling: ScalingServerless,
			RatePerS: 64, LimitedBy: LimitedCap, Percentile: 99, ObjectiveMS: 1000, MaxErrors: 0.01, StepS: 5},
	}
	path := filepath.Join(t.TempDir(), "results.jsonl")
	w, err := Create(path, Header{Scenarios: []string{"rate"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Record(Record{Scenario: "rate", Target: "serverful", Group: "40/s", Status: 200}); err != nil {
		t.Fatal(err)
	}
	for _, c := range caps {
		if err := w.Capacity(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Sample(Sample{Target: "serverful", Metric: MetricInstances, Value: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 1 || len(f.Samples) != 1 || len(f.Capacities) != 2 {
		t.Fatalf("read %d records, %d samples, %d capacities; want 1, 1, 2", len(f.Records), len(f.Samples), len(f.Capacities))
	}
	for i, want := range caps {
		want.Kind = "capacity"
		if f.Capacities[i] != want {
			t.Errorf("capacity %d: read %+v, wrote %+v", i, f.Capacities[i], want)
		}
	}
	if lines := readLines(t, path); lines[2]["kind"] != "capacity" || lines[2]["rate_per_s"] != 37.5 || lines[2]["limited_by"] != "objective" {
		t.Errorf("capacity line = %v", lines[2])
	}
	if f, err := ReadFile(path); err != nil || len(f.Records) != 1 || len(f.Samples) != 1 {
		t.Errorf("ReadFile: %d records, %d samples, err %v", len(f.Records), len(f.Samples), err)
	}
}

// A truncated capacity line at the end is skipped like any other kind.
func TestCapacityTruncatedKeepsTheRest(t *testing.T) {
	var b bytes.Buffer
	w, err := NewWriter(&b, Header{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Capacity(Capacity{Target: "a", RatePerS: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Capacity(Capacity{Target: "b", RatePerS: 2}); err != nil {
		t.Fatal(err)
	}
	in := strings.TrimSuffix(b.String(), "\n")
	f, err := Read(strings.NewReader(in[:len(in)-5]))
	var trunc *TruncatedError
	if !errors.As(err, &trunc) || len(f.Capacities) != 1 || f.Capacities[0].Target != "a" {
		t.Errorf("capacities %+v, err %v; want a's only and a *TruncatedError", f.Capacities, err)
	}
}
