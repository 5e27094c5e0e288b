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
