package report

import (
	"bytes"
	"context"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/results"
)

// generate writes h, recs and samples as a results file and reports on it.
func generate(t *testing.T, h results.Header, recs []results.Record, samples []results.Sample) (*Summary, string) {
	t.Helper()
	dir := t.TempDir()
	path := writeResults(t, dir, h, recs, samples, "")
	out := filepath.Join(dir, "report")
	sum, err := Generate(context.Background(), path, Options{OutDir: out, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return sum, out
}

// TestCloudReportPricesFromDeploymentRecord: the typed deployment records are
// the only source the report prices from (instance type, minimum fleet, Lambda
// memory); the untyped config, which `run` never filled, is not read: a fleet of
// m5.large is priced as m5.large whatever the config says. A file without
// records says it assumed the study's defaults and names them. The cost tables
// name the source of each.
func TestCloudReportPricesFromDeploymentRecord(t *testing.T) {
	h, recs, samples := fixture()
	h.Deployments = map[string]results.Deployment{
		"serverful":  {Platform: "ecs", Stack: "serverful", Region: "us-east-1", Endpoint: "http://alb", InstanceType: "m5.large", MinInstances: 3, MaxInstances: 5},
		"serverless": {Platform: "lambda", Stack: "serverless", Region: "us-east-1", Endpoint: "http://apigw", MemoryMB: 1024, Architecture: "x86_64"},
	}
	_, out := generate(t, h, recs, samples)
	costs := readCSV(t, filepath.Join(out, "cost.csv"))
	p := cost.Default()
	obj := (0.0004 + 0.005) / 1000
	// Serverful: m5.large ($0.096/h, no surplus CPU) from the record, not the
	// config's t3.xlarge; the record's minimum of 3 runs at the rate step's 6/5.1 req/s.
	rate := 6 / 5.1
	sf := find(t, costs, "scenario", "rate", "target", "serverful")
	want(t, sf, map[string]float64{"usd_per_1000": (3*(0.096+0.005+30*0.08/730)+2*0.005+0.0225+0.008*rate/25)/(rate*3600)*1000 + obj*1000, "instances": 3})
	if sf["priced_from"] != fromDeployment || !strings.Contains(sf["basis"], "3 × m5.large") || !strings.Contains(sf["basis"], "3..5 × m5.large") {
		t.Errorf("serverful priced from %q, basis %q; want the deployment record's 3..5 × m5.large", sf["priced_from"], sf["basis"])
	}
	// Serverless: 1024 MB from the record, not the config's 4096 (the answers
	// carry no memory_mb): billed mean 550.25 ms × 1 GB.
	lambda1000 := (0.55025*1*p.Lambda.GBSecond + 1.2e-6) * 1000
	sl := find(t, costs, "scenario", "batches", "target", "serverless")
	want(t, sl, map[string]float64{"usd_per_1000": lambda1000 + obj*1000, "memory_mb": 1024})
	if !strings.Contains(sl["priced_from"], "deployment record") {
		t.Errorf("serverless priced from %q, want the deployment record", sl["priced_from"])
	}
	// Cost against load: the m5.large fleet from 3 instances, each holding a
	// third of the 60 req/s the minimum fleet held with scaling off.
	caps := []any{}
	for _, c := range fixtureCapacities() {
		if c.Scaling == results.ScalingHeld {
			c.Instances, c.RatePerS = 3, 60
		}
		caps = append(caps, c)
	}
	dir := t.TempDir()
	path := writeResults(t, dir, h, recs, samples, "", caps...)
	if _, err := Generate(context.Background(), path, Options{OutDir: dir, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	row := find(t, readCSV(t, filepath.Join(dir, "cost_load.csv")), "function", "predict")
	want(t, row, map[string]float64{"min_instances": 3, "capacity_rps_per_instance": 20, "instance_usd_h": 0.096 + 0.005 + 30*0.08/730, "surplus_usd_h": 0, "memory_mb": 1024})
	if row["instance_type"] != "m5.large" {
		t.Errorf("cost against load priced %q, want the record's m5.large", row["instance_type"])
	}

	// An older file: no deployment records. The config is not read; the study's
	// defaults are assumed, and the table says so and names them.
	h.Deployments = nil
	_, out = generate(t, h, recs, samples)
	rows := readCSV(t, filepath.Join(out, "cost.csv"))
	for _, target := range []string{"serverful", "serverless"} {
		got := find(t, rows, "scenario", "rate", "target", target)
		if !strings.Contains(got["priced_from"], "assumed: study defaults (t3a.xlarge, 1..5 instances; Lambda 3000 MB, Cloud Functions 1024 MB)") &&
			!strings.Contains(got["priced_from"], "assumed (the size the stacks deploy") {
			t.Errorf("%s without deployment records: priced from %q, want the study's defaults, named", target, got["priced_from"])
		}
	}
	want(t, find(t, rows, "scenario", "batches", "target", "serverless"), map[string]float64{"memory_mb": 3000})
	if got := find(t, rows, "scenario", "rate", "target", "serverful")["basis"]; !strings.Contains(got, "1..5 × t3a.xlarge") {
		t.Errorf("serverful without records: basis %q, want the study's 1..5 × t3a.xlarge", got)
	}
}

// TestCloudReportMislabelledApart: forced cold starts, first requests after a
// deploy and mislabelled requests are separate rows of the cold-start table;
// the mislabelled are counted and never in a cold or warm figure.
func TestCloudReportMislabelledApart(t *testing.T) {
	h, _, _ := fixture()
	h.Scenarios = []string{"batches", "coldwarm"}
	const sl = "serverless"
	on := func(r results.Record, instance string) results.Record { r.Instance = instance; return r }
	recs := []results.Record{
		// An instance that served a batch request before the bursts.
		on(req("batches", sl, "lambda", "predict", "1", 1, 0, 900, 200, yes, 800, 0), "old"),
		// First burst after the deploy: two fresh cold starts and one warm answer.
		on(req("coldwarm", sl, "lambda", "predict", results.GroupDeployCold, 1, 10, 5000, 200, yes, 700, 0), "d1"),
		on(req("coldwarm", sl, "lambda", "predict", results.GroupDeployCold, 1, 10, 6000, 200, yes, 800, 0), "d2"),
		on(req("coldwarm", sl, "lambda", "predict", results.GroupDeployCold, 1, 10, 200, 200, no, 150, 0), "d1"),
		// Forced cold burst: two fresh, one warm answer, one "cold" answer
		// from the instance that had served the batch.
		on(req("coldwarm", sl, "lambda", "predict", results.GroupCold, 2, 20, 1000, 200, yes, 600, 0), "c1"),
		on(req("coldwarm", sl, "lambda", "predict", results.GroupCold, 2, 20, 1200, 200, yes, 650, 0), "c2"),
		on(req("coldwarm", sl, "lambda", "predict", results.GroupCold, 2, 20, 100, 200, no, 90, 0), "d2"),
		on(req("coldwarm", sl, "lambda", "predict", results.GroupCold, 2, 20, 150, 200, yes, 120, 0), "old"),
		// Warm burst: two warm answers and one cold start.
		on(req("coldwarm", sl, "lambda", "predict", results.GroupWarm, 3, 30, 300, 200, no, 250, 0), "c1"),
		on(req("coldwarm", sl, "lambda", "predict", results.GroupWarm, 3, 30, 500, 200, no, 450, 0), "c2"),
		on(req("coldwarm", sl, "lambda", "predict", results.GroupWarm, 3, 30, 2000, 200, yes, 1500, 0), "w3"),
	}
	sum, out := generate(t, h, recs, nil)
	t1 := readCSV(t, filepath.Join(out, "table1_coldwarm.csv"))
	row := func(start string) map[string]string {
		return find(t, t1, "scenario", "coldwarm", "measure", "client", "start", start)
	}
	// Cold figures hold only the fresh instances' first requests.
	want(t, row(startForced), map[string]float64{"n": 2, "mean_ms": 1100, "p50_ms": 1100, "min_ms": 1000, "max_ms": 1200})
	want(t, row(startDeploy), map[string]float64{"n": 2, "mean_ms": 5500, "p50_ms": 5500, "min_ms": 5000})
	want(t, row(startWarm), map[string]float64{"n": 2, "mean_ms": 400, "p50_ms": 400, "max_ms": 500})
	// Mislabelled: the deploy burst's warm answer (200), the forced burst's warm
	// answer (100) and its answer from a used instance (150); the warm burst's
	// cold start (2000).
	want(t, row(mislabelledCold), map[string]float64{"n": 3, "mean_ms": 150, "p50_ms": 150, "min_ms": 100, "max_ms": 200})
	want(t, row(mislabelledWarm), map[string]float64{"n": 1, "mean_ms": 2000})
	if len(sum.Mislabelled) != 2 || sum.Mislabelled[0].Start != mislabelledCold || sum.Mislabelled[0].N != 3 ||
		sum.Mislabelled[1].Start != mislabelledWarm || sum.Mislabelled[1].N != 1 {
		t.Errorf("mislabelled counts %+v, want 3 of cold bursts and 1 of the warm", sum.Mislabelled)
	}
	notes := strings.Join(sum.Warnings, "\n")
	if !strings.Contains(notes, "3 request(s) of a cold burst") || !strings.Contains(notes, "1 request(s) of a warm burst") {
		t.Errorf("warnings do not count the mislabelled:\n%s", notes)
	}
	// The group counts stay the service's flags.
	for _, g := range sum.Groups {
		if g.Scenario == "coldwarm" && g.Group == results.GroupCold && (g.Cold != 3 || g.Warm != 1) {
			t.Errorf("cold group counts %d cold, %d warm; want the flags' 3 and 1", g.Cold, g.Warm)
		}
	}
}

// TestCloudReportMemorySweep: a Lambda target answered at two memory sizes gets
// a sweep table with warm p50/p90 and cost per 1,000 per size (billed ms from
// platform_report where present, else the measured duration, said so), the
// serverful fleet's cost as a row, and the chart.
func TestCloudReportMemorySweep(t *testing.T) {
	h, _, _ := fixture()
	h.Scenarios = []string{"batches", "sweep"}
	h.Deployments = map[string]results.Deployment{"serverful": {Platform: "ecs", InstanceType: "t3a.xlarge", MinInstances: 1, MaxInstances: 5}}
	const sl = "serverless"
	at := func(mb int, billed float64, r results.Record) results.Record {
		r.MemoryMB = mb
		if billed > 0 {
			r.PlatformReport = &results.PlatformReport{DurationMS: billed - 0.4, BilledMS: billed}
		}
		return r
	}
	recs := []results.Record{
		// The fleet: two answers of 100 ms, 4.9 s apart: 0.4 req/s over 5 s, long
		// enough to stand for a sustained rate.
		req("batches", "serverful", "ecs", "predict", "1", 1, 0, 100, 200, no, 90, 0),
		req("batches", "serverful", "ecs", "predict", "1", 1, 4.9, 100, 200, no, 90, 0),
		// 1024 MB: a forced cold start (not in the sweep) and three warm
		// answers, one without platform figures (server 250.4 ms bills 251).
		at(1024, 2000, req("sweep", sl, "lambda", "predict", results.GroupCold, 1, 10, 2500, 200, yes, 1800, 0)),
		at(1024, 300, req("sweep", sl, "lambda", "predict", results.GroupWarm, 2, 12, 400, 200, no, 290, 0)),
		at(1024, 500, req("sweep", sl, "lambda", "predict", results.GroupWarm, 2, 12, 600, 200, no, 480, 0)),
		at(1024, 0, req("sweep", sl, "lambda", "predict", results.GroupWarm, 2, 12, 800, 200, no, 250.4, 0)),
		// 2048 MB: two warm answers.
		at(2048, 150, req("sweep", sl, "lambda", "predict", results.GroupWarm, 4, 22, 200, 200, no, 140, 0)),
		at(2048, 250, req("sweep", sl, "lambda", "predict", results.GroupWarm, 4, 22, 300, 200, no, 240, 0)),
	}
	sum, out := generate(t, h, recs, nil)
	if len(sum.Sweeps) != 1 || len(sum.Sweeps[0].Points) != 2 {
		t.Fatalf("sweeps %+v, want one of two sizes", sum.Sweeps)
	}
	gbs := cost.Default().Lambda.GBSecond
	rows := readCSV(t, filepath.Join(out, "memory_sweep.csv"))
	// 1024 MB: p50 of 400 600 800 is 600, p90 at h = 1.8: 600 + 0.8 × 200;
	// billed 300, 500, 251 ms → mean 0.3503… s × 1 GB.
	r1 := find(t, rows, "target", sl, "memory_mb", "1024")
	want(t, r1, map[string]float64{"warm_n": 3, "warm_p50_ms": 600, "warm_p90_ms": 760,
		"usd_per_1000": ((300+500+251)/3.0/1000*1*gbs + 1.2e-6) * 1000})
	if !strings.Contains(r1["basis"], "2 of 3") || !strings.Contains(r1["basis"], "measured") {
		t.Errorf("1024 MB basis %q: want it to say 2 of 3 from the platform, the rest measured", r1["basis"])
	}
	// 2048 MB: p50 250, p90 200 + 0.9 × 100; billed mean 0.2 s × 2 GB.
	r2 := find(t, rows, "target", sl, "memory_mb", "2048")
	want(t, r2, map[string]float64{"warm_n": 2, "warm_p50_ms": 250, "warm_p90_ms": 290, "usd_per_1000": (0.2*2*gbs + 1.2e-6) * 1000})
	if !strings.Contains(r2["basis"], "platform billed ms") {
		t.Errorf("2048 MB basis %q: want the platform's billed ms", r2["basis"])
	}
	// The fleet's line: one saturated t3a.xlarge with its 3 addresses, volume and
	// surplus CPU + ALB + LCUs at 2 / 5 s = 0.4 req/s, + the bucket requests.
	want(t, find(t, rows, "target", "serverful"), map[string]float64{
		"usd_per_1000": (0.1504+3*0.005+30*0.08/730+0.12+0.0225+0.008*0.4/25)/(0.4*3600)*1000 + (0.0004+0.005)/1000*1000, "memory_mb": math.NaN(),
	})
	// The cost table prices each sweep request at its own size.
	if basis := find(t, readCSV(t, filepath.Join(out, "cost.csv")), "scenario", "sweep", "target", sl)["basis"]; !strings.Contains(basis, "1024, 2048 MB") {
		t.Errorf("sweep cost basis %q: want both sizes", basis)
	}
	data, err := os.ReadFile(filepath.Join(out, "sweep_serverless_predict.png"))
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(data)); err != nil || img.Bounds().Dy() <= img.Bounds().Dx()/2 {
		t.Errorf("sweep chart: %v, %v; want a two-panel PNG", err, img.Bounds())
	}
	if svg, _ := os.ReadFile(filepath.Join(out, "sweep_serverless_predict.svg")); !bytes.Contains(svg, []byte("serverful fleet at 0.4 req/s")) {
		t.Error("sweep chart lacks the serverful fleet's line")
	}
	// A target at one size has no sweep.
	for i := range recs {
		if recs[i].Target == sl {
			recs[i].MemoryMB = 1024
		}
	}
	sum, out = generate(t, h, recs, nil)
	if _, err := os.Stat(filepath.Join(out, "memory_sweep.csv")); len(sum.Sweeps) != 0 || err == nil {
		t.Errorf("one memory size: sweeps %+v, table written %v", sum.Sweeps, err == nil)
	}
}

// TestCloudReportECSTasksAndInstances: ECS "tasks" and "instances" samples are
// drawn over time in the instances graph, the tasks as their own line.
func TestCloudReportECSTasksAndInstances(t *testing.T) {
	h, recs, _ := fixture()
	var samples []results.Sample
	for i, n := range []float64{1, 2, 2, 1} {
		at := t0.Add(time.Duration(i) * 5 * time.Second)
		samples = append(samples,
			results.Sample{Kind: "sample", Target: "serverful", Metric: results.MetricInstances, Time: at, Value: n},
			results.Sample{Kind: "sample", Target: "serverful", Metric: results.MetricTasks, Time: at, Value: 2 * n})
	}
	_, out := generate(t, h, recs, samples)
	svg, err := os.ReadFile(filepath.Join(out, "instances.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"serverful tasks", "serverful instances"} {
		if !bytes.Contains(svg, []byte(s)) {
			t.Errorf("instances graph lacks %q", s)
		}
	}
	// Only tasks recorded: still drawn.
	var tasks []results.Sample
	for _, s := range samples {
		if s.Metric == results.MetricTasks {
			tasks = append(tasks, s)
		}
	}
	_, out = generate(t, h, recs, tasks)
	if svg, err := os.ReadFile(filepath.Join(out, "instances.svg")); err != nil || !bytes.Contains(svg, []byte("serverful tasks")) {
		t.Errorf("tasks alone not drawn: %v", err)
	}
}
