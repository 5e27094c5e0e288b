package cost

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.12g, want %.12g", name, got, want)
	}
}

func TestServerlessPerRequest(t *testing.T) {
	p := Default()
	// Lambda, 1024 MB: 100.2 ms bills 101 ms, 200 ms bills 200 ms → mean 0.1505 GB-s
	// × $0.0000166667 + ($0.20 + $1.00) / 1e6.
	got, err := p.ServerlessPerRequest(Lambda, 1024, []float64{100.2, 200})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "lambda", got, 0.1505*0.0000166667+1.2e-6)

	// Lambda, 3000 MB, one 2500.0001 ms call: 2501 ms × 3000/1024 GB.
	got, _ = p.ServerlessPerRequest(Lambda, 3000, []float64{2500.0001})
	near(t, "lambda 3000MB", got, 2.501*3000.0/1024*0.0000166667+1.2e-6)

	// Cloud Run functions, 2048 MB = 1 vCPU + 2 GiB: $0.000024 + 2 × $0.0000025 a
	// second; 50 ms bills 100 ms, 150 ms bills 200 ms → mean 0.15 s; + $0.40 / 1e6.
	got, err = p.ServerlessPerRequest(CloudFunctions, 2048, []float64{50, 150})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "cloud functions", got, 0.15*0.000029+0.4e-6)

	// 1000 MB falls in the 1 GiB row: 0.583 vCPU.
	got, _ = p.ServerlessPerRequest(CloudFunctions, 1000, []float64{1000})
	near(t, "cloud functions 1000MB", got, 0.583*0.000024+1000.0/1024*0.0000025+0.4e-6)

	for name, call := range map[string]func() error{
		"no durations":   func() error { _, err := p.ServerlessPerRequest(Lambda, 1024, nil); return err },
		"no memory":      func() error { _, err := p.ServerlessPerRequest(Lambda, 0, []float64{1}); return err },
		"not serverless": func() error { _, err := p.ServerlessPerRequest(Serverful, 1024, []float64{1}); return err },
	} {
		if call() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestServerful(t *testing.T) {
	p := Default()
	f := Fleet{InstanceType: "t3a.xlarge", MinInstances: 1, PerInstance: 10}
	// 5 req/s on one instance: 0.1504 + 0.0225 + 0.008 × 5/25 = 0.1745 $/h over 18,000 req/h.
	got, err := p.ServerfulPer1000(f, 5)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "per 1000 at 5 req/s", got, 0.1745/18000*1000)
	if n := f.Size(25); n != 3 {
		t.Errorf("Size(25) = %d, want 3", n)
	}
	if n := (Fleet{PerInstance: 10, MinInstances: 2}).Size(1); n != 2 {
		t.Errorf("min fleet not kept: %d", n)
	}
	if _, err := p.ServerfulPer1000(f, 0); err == nil {
		t.Error("zero throughput: no error")
	}
	if _, err := p.ServerfulPer1000(Fleet{InstanceType: "m9.huge", PerInstance: 1}, 1); err == nil || !strings.Contains(err.Error(), "t3a.xlarge") {
		t.Errorf("unknown type: %v", err)
	}
}

func TestBreakEven(t *testing.T) {
	p := Default()
	// $1e-5 a request is $0.036 an hour per req/s; the ALB's LCUs take 0.008/25 =
	// $0.00032 of it, leaving d = 0.03568.
	const d = 0.036 - 0.00032

	// One instance covers 10 req/s: crossing at (0.1504 + 0.0225)/d in the first step.
	be, err := p.FindBreakEven(1e-5, Fleet{InstanceType: "t3a.xlarge", MinInstances: 1, PerInstance: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !be.Found || be.Fleet != 1 {
		t.Fatalf("%+v, want found with 1 instance", be)
	}
	near(t, "rate", be.Rate, 0.1729/d)
	near(t, "monthly", be.Monthly, 0.036*0.1729/d*730)

	// 4.5 req/s per instance: 4.846 > 4.5 and 9.061 > 9 miss their steps,
	// (3 × 0.1504 + 0.0225)/d = 13.276 ≤ 13.5 hits the third.
	be, _ = p.FindBreakEven(1e-5, Fleet{InstanceType: "t3a.xlarge", MinInstances: 1, PerInstance: 4.5})
	if !be.Found || be.Fleet != 3 {
		t.Fatalf("%+v, want found with 3 instances", be)
	}
	near(t, "rate at 3", be.Rate, (3*0.1504+0.0225)/d)

	// 3 req/s per instance: d × 3 = 0.107 < 0.1504, so each instance costs more than
	// the serverless requests it replaces: no crossing at any rate.
	be, _ = p.FindBreakEven(1e-5, Fleet{InstanceType: "t3a.xlarge", MinInstances: 1, PerInstance: 3})
	if be.Found || be.Why == "" {
		t.Errorf("%+v, want not found with a reason", be)
	}
	if _, err := p.FindBreakEven(1e-5, Fleet{InstanceType: "t3a.xlarge"}); err == nil {
		t.Error("zero capacity: no error")
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "prices.json")
	os.WriteFile(good, []byte(`{"date":"2030-01","lambda":{"gb_second":0.00002},"ec2_hourly":{"c7i.large":0.0893}}`), 0o644)
	p, err := LoadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if p.Date != "2030-01" || p.Lambda.GBSecond != 0.00002 || p.EC2Hourly["c7i.large"] != 0.0893 {
		t.Errorf("overrides not applied: %+v", p)
	}
	// Fields the file leaves out keep their defaults, maps merge.
	if p.Lambda.PerMillionRequests != 0.20 || p.EC2Hourly["t3a.xlarge"] != 0.1504 || p.ALB.Hourly != 0.0225 {
		t.Errorf("defaults lost: %+v", p)
	}
	for name, body := range map[string]string{
		"typo":     `{"lamda":{"gb_second":1}}`,
		"negative": `{"alb":{"hourly":-1}}`,
		"zero lcu": `{"alb":{"new_connections_per_lcu":0}}`,
		"not json": `{`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		os.WriteFile(path, []byte(body), 0o644)
		if _, err := LoadFile(path); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("default list invalid: %v", err)
	}
}
