package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/results"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// req makes one answered request sent at at seconds after t0.
func req(scenario, target, platform, fn, group string, batch int, at, clientMS float64, status int, cold *bool, serverMS, initMS float64) results.Record {
	r := results.Record{
		Kind: "request", Scenario: scenario, Target: target, Function: fn, Group: group, Batch: batch,
		Intended: t0.Add(time.Duration(at * float64(time.Second))), ClientMS: clientMS, Status: status,
	}
	r.Start = r.Intended
	if status == 0 {
		r.Error = "connection refused"
		return r
	}
	r.Cold, r.Platform, r.Instance, r.ServerMS = cold, platform, target+"-1", serverMS
	if cold != nil && *cold {
		// A cold answer is a new instance's first.
		r.Instance = fmt.Sprintf("%s-%g-%g", target, at, clientMS)
	}
	if serverMS > 0 {
		r.TimingsMS = map[string]float64{"download": 10, "inference": serverMS - 20, "upload": 10, "total": serverMS}
		if initMS > 0 {
			r.TimingsMS["init"] = initMS
		}
	}
	return r
}

var yes, no = func() *bool { b := true; return &b }(), func() *bool { b := false; return &b }()

// fixture is a small run with numbers chosen so every statistic can be worked out
// by hand (see the expectations in TestGenerate).
func fixture() (results.Header, []results.Record, []results.Sample) {
	h := results.Header{
		Kind: "header", Started: t0, Command: []string{"servebench", "local"},
		// The untyped config is no source of prices any more: these would price
		// the serverless side at 4096 MB and the fleet as t3.xlarge.
		Config:    map[string]any{"memory_mb": map[string]any{"serverless": 4096.0}, "instance_type": "t3.xlarge", "min_instances": 3.0},
		Versions:  map[string]string{"servebench": "test"},
		Machine:   results.Machine{Hostname: "box", OS: "linux", Arch: "amd64", CPUs: 2},
		Targets:   map[string]string{"serverful": "http://127.0.0.1:1", "serverless": "http://127.0.0.1:2"},
		Scenarios: []string{"batches", "coldwarm", "rate"},
		Deployments: map[string]results.Deployment{
			"serverful":  {Platform: "ecs", Endpoint: "http://127.0.0.1:1", InstanceType: "t3a.xlarge", MinInstances: 1, MaxInstances: 5},
			"serverless": {Platform: "lambda", Endpoint: "http://127.0.0.1:2", MemoryMB: 2048},
		},
	}
	const sf, sl = "serverful", "serverless"
	recs := []results.Record{
		// batches, serverful, batch 1: three answers and one 503, all sent at 0 s.
		req("batches", sf, "ecs", "predict", "1", 1, 0, 100, 200, yes, 80, 0),
		req("batches", sf, "ecs", "predict", "1", 1, 0, 200, 200, no, 150, 0),
		req("batches", sf, "ecs", "predict", "1", 1, 0, 300, 200, no, 250, 0),
		req("batches", sf, "ecs", "predict", "1", 1, 0, 50, 503, nil, 0, 0),
		// batch 2 at 10 s.
		req("batches", sf, "ecs", "predict", "2", 2, 10, 110, 200, no, 100, 0),
		req("batches", sf, "ecs", "predict", "2", 2, 10, 130, 200, no, 120, 0),
		// serverless, batch 1: a cold start with 500 ms init, one warm; batch 2: warm.
		req("batches", sl, "lambda", "predict", "1", 1, 0, 1000, 200, yes, 900, 500),
		req("batches", sl, "lambda", "predict", "1", 1, 0, 400, 200, no, 300, 0),
		req("batches", sl, "lambda", "predict", "2", 2, 10, 250, 200, no, 200, 0),
		req("batches", sl, "lambda", "predict", "2", 2, 10, 350, 200, no, 300.4, 0),
		// coldwarm: serverless bursts of two; serverful one cold answer and one refusal.
		req("coldwarm", sl, "lambda", "faces/predict", "cold", 1, 20, 3000, 200, yes, 600, 0),
		req("coldwarm", sl, "lambda", "faces/predict", "cold", 1, 20, 3200, 200, yes, 700, 0),
		req("coldwarm", sl, "lambda", "faces/predict", "warm", 2, 30, 500, 200, no, 400, 0),
		req("coldwarm", sl, "lambda", "faces/predict", "warm", 2, 30, 700, 200, no, 420, 0),
		req("coldwarm", sf, "ecs", "faces/predict", "cold", 1, 20, 800, 200, yes, 700, 0),
		req("coldwarm", sf, "ecs", "faces/predict", "cold", 1, 20, 5, 0, nil, 0, 0),
	}
	// rate: one step of 6 warm requests a second apart on each side, 40 s to
	// 45.1 s (serverful) and 45.3 s (serverless): long enough to stand for a rate.
	for i := range 6 {
		at := 40 + float64(i)
		recs = append(recs,
			req("rate", sf, "ecs", "predict", "4/s", 1, at, 100, 200, no, 80, 0),
			req("rate", sl, "lambda", "predict", "4/s", 1, at, 300, 200, no, 250.4, 0))
	}
	samples := []results.Sample{
		{Kind: "sample", Target: sf, Metric: "instances", Time: t0.Add(time.Second), Value: 1},
		{Kind: "sample", Target: sf, Metric: "instances", Time: t0.Add(10050 * time.Millisecond), Value: 2},
		{Kind: "sample", Target: sf, Metric: "instances", Time: t0.Add(25 * time.Second), Value: 3}, // after batches
	}
	return h, recs, samples
}

// fixtureCapacities are what the rate scenario's search found in the fixture's
// run: one serverful instance holds 20 req/s with scaling held, 50 with it on;
// the serverless side held the search's top rate, 64/s.
func fixtureCapacities() []results.Capacity {
	c := results.Capacity{Kind: "capacity", Scenario: "rate", Function: "predict", Percentile: 95, ObjectiveMS: 1000, MaxErrors: 0.01, StepS: 10}
	held, on, sl := c, c, c
	held.Target, held.Scaling, held.Instances, held.RatePerS, held.MissedPerS, held.LimitedBy = "serverful", results.ScalingHeld, 1, 20, 22, results.LimitedObjective
	on.Target, on.Scaling, on.Instances, on.RatePerS, on.LimitedBy = "serverful", results.ScalingOn, 3, 50, results.LimitedCap
	sl.Target, sl.Scaling, sl.RatePerS, sl.LimitedBy = "serverless", results.ScalingServerless, 64, results.LimitedCap
	return []results.Capacity{held, on, sl}
}

// writeResults writes a results file: h, recs with samples after the fourth,
// then extra lines (capacities), then tail (e.g. a cut-off line).
func writeResults(t testing.TB, dir string, h results.Header, recs []results.Record, samples []results.Sample, tail string, extra ...any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.Encode(h)
	for i, r := range recs {
		r.Seq = i
		enc.Encode(r)
		if i == 3 {
			for _, s := range samples {
				enc.Encode(s)
			}
		}
	}
	for _, x := range extra {
		enc.Encode(x)
	}
	b.WriteString(tail)
	path := filepath.Join(dir, "run.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readCSV returns the rows of a CSV file as maps from column to cell.
func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, c := range rows[0] {
			m[c] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// find returns the one row whose cells match all of kv.
func find(t *testing.T, rows []map[string]string, kv ...string) map[string]string {
	t.Helper()
	var hits []map[string]string
	for _, r := range rows {
		ok := true
		for i := 0; i < len(kv); i += 2 {
			ok = ok && r[kv[i]] == kv[i+1]
		}
		if ok {
			hits = append(hits, r)
		}
	}
	if len(hits) != 1 {
		t.Fatalf("%d rows match %v, want 1", len(hits), kv)
	}
	return hits[0]
}

// want checks numeric cells; NaN means the cell must be empty (undefined).
func want(t *testing.T, row map[string]string, kv map[string]float64) {
	t.Helper()
	for col, w := range kv {
		cell, ok := row[col]
		if !ok {
			t.Errorf("no column %q", col)
			continue
		}
		if math.IsNaN(w) {
			if cell != "" {
				t.Errorf("%s = %q, want empty (undefined)", col, cell)
			}
			continue
		}
		got, err := strconv.ParseFloat(cell, 64)
		if err != nil || math.Abs(got-w) > 1e-9*math.Max(1, math.Abs(w)) {
			t.Errorf("%s = %q, want %v (row %v)", col, cell, w, row)
		}
	}
}

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	h, recs, samples := fixture()
	// The writer died mid-line: the report must still come out, saying so.
	var caps []any
	for _, c := range fixtureCapacities() {
		caps = append(caps, c)
	}
	path := writeResults(t, dir, h, recs, samples, `{"kind":"request","scenario":"batches","tar`, caps...)
	out := filepath.Join(dir, "report")
	sum, err := Generate(context.Background(), path, Options{OutDir: out, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requests != 28 || sum.Failed != 2 || len(sum.Capacities) != 3 {
		t.Errorf("requests %d failed %d capacities %d, want 28, 2 and 3", sum.Requests, sum.Failed, len(sum.Capacities))
	}
	if !slices.ContainsFunc(sum.Warnings, func(w string) bool { return strings.Contains(w, "truncated") }) {
		t.Errorf("no truncation warning in %v", sum.Warnings)
	}

	lat := readCSV(t, filepath.Join(out, "latency.csv"))
	// serverful batch 1 client: 100 200 300 (the 503 is an error only). Mean 200,
	// std sqrt((100²+0+100²)/2) = 100; p90: h = 2·0.9 = 1.8 → 200 + 0.8·100 = 280;
	// p95 290; p99 298. Span 0 → 0.3 s (the 503 ended at 0.05 s): 3/0.3 = 10 req/s.
	want(t, find(t, lat, "scenario", "batches", "target", "serverful", "group", "1", "measure", "client"), map[string]float64{
		"requests": 4, "errors": 1, "error_rate": 0.25, "throughput_rps": 10, "n": 3, "cold": 1, "warm": 2,
		"mean_ms": 200, "min_ms": 100, "max_ms": 300, "std_ms": 100, "p50_ms": 200, "p90_ms": 280, "p95_ms": 290, "p99_ms": 298,
	})
	// server: 80 150 250; mean 160; ss = 6400+100+8100 = 14600 → std sqrt(7300);
	// p90 150 + 0.8·100 = 230.
	want(t, find(t, lat, "scenario", "batches", "target", "serverful", "group", "1", "measure", "server"), map[string]float64{
		"n": 3, "mean_ms": 160, "min_ms": 80, "max_ms": 250, "std_ms": math.Sqrt(7300), "p50_ms": 150, "p90_ms": 230,
	})
	// serverful batch 2: 110 130 over 0.13 s.
	want(t, find(t, lat, "scenario", "batches", "target", "serverful", "group", "2", "measure", "client"), map[string]float64{
		"n": 2, "mean_ms": 120, "std_ms": math.Sqrt(200), "p50_ms": 120, "throughput_rps": 2 / 0.13, "error_rate": 0,
	})
	// coldwarm serverful: one answer (std undefined) and one refusal.
	want(t, find(t, lat, "scenario", "coldwarm", "target", "serverful", "measure", "client"), map[string]float64{
		"requests": 2, "errors": 1, "error_rate": 0.5, "n": 1, "mean_ms": 800, "std_ms": math.NaN(), "p99_ms": 800,
	})

	t1 := readCSV(t, filepath.Join(out, "table1_coldwarm.csv"))
	// serverless coldwarm: cold 3000 3200 → mean 3100, std sqrt(2·100²/1) = 141.42…;
	// warm server 400 420 → mean 410, std sqrt(200).
	// sem = std / √n = 141.42… / √2 = 100.
	want(t, find(t, t1, "scenario", "coldwarm", "target", "serverless", "measure", "client", "start", "forced-cold"), map[string]float64{
		"memory_mb": 2048, "n": 2, "mean_ms": 3100, "min_ms": 3000, "max_ms": 3200, "std_ms": math.Sqrt(20000), "sem_ms": 100,
	})
	want(t, find(t, t1, "scenario", "coldwarm", "target", "serverless", "measure", "server", "start", "warm"), map[string]float64{
		"n": 2, "mean_ms": 410, "std_ms": math.Sqrt(200),
	})
	// batches serverful cold/warm by the service's flag: cold = the 100 ms answer only.
	want(t, find(t, t1, "scenario", "batches", "target", "serverful", "measure", "client", "start", "cold"), map[string]float64{
		"n": 1, "mean_ms": 100, "std_ms": math.NaN(),
	})
	// warm: 200 300 110 130; serverful has no memory size.
	want(t, find(t, t1, "scenario", "batches", "target", "serverful", "measure", "client", "start", "warm"), map[string]float64{
		"n": 4, "mean_ms": 185, "memory_mb": math.NaN(),
	})

	costs := readCSV(t, filepath.Join(out, "cost.csv"))
	p := cost.Default()
	obj := (0.0004 + 0.005) / 1000 // predict: one GET and one PUT
	// Lambda, 2048 MB from the deployment record: billed 900+500, 300, 200, ⌈300.4⌉ = 301 ms
	// → mean 550.25 ms × 2 GB; + $0.20 + $1.00 per million; + the bucket requests.
	lambda1000 := (0.55025*2*p.Lambda.GBSecond + 1.2e-6) * 1000
	want(t, find(t, costs, "scenario", "batches", "target", "serverless"), map[string]float64{"usd_per_1000": lambda1000 + obj*1000, "memory_mb": 2048})
	// Serverful, batches: no group ran minSustainedSpan (4 s), so no rate to
	// price the fleet on.
	bsf := find(t, costs, "scenario", "batches", "target", "serverful")
	want(t, bsf, map[string]float64{"usd_per_1000": math.NaN(), "sustained_rps": math.NaN()})
	if !strings.Contains(bsf["basis"], minSustainedSpan.String()+" or longer") {
		t.Errorf("batches serverful basis %q, want why it is not priced", bsf["basis"])
	}
	// Serverful, rate: 6 requests over 40 → 45.1 s, on the minimum 1 instance
	// (no sample in the step), saturated: t3a.xlarge + 3 addresses + 30 GiB gp3
	// + surplus (4 − 1.6) × $0.05 + ALB + LCUs, an hour, over the requests of an hour.
	rate := 6 / 5.1
	hourly := 0.1504 + 3*0.005 + 30*0.08/730 + 0.12 + 0.0225 + 0.008*rate/25
	want(t, find(t, costs, "scenario", "rate", "target", "serverful"), map[string]float64{
		"usd_per_1000": hourly/(rate*3600)*1000 + obj*1000, "instances": 1, "sustained_rps": rate,
	})

	// Cost against load, predict: serverless warm = batches 300, 200, ⌈300.4⌉ and
	// rate 6 × ⌈250.4⌉ billed ms (mean 2307/9); the one cold request bills 900 + 500.
	loadRow := find(t, readCSV(t, filepath.Join(out, "cost_load.csv")), "function", "predict")
	warmMS := 2307.0 / 9
	gbs := 2 * p.Lambda.GBSecond / 1000 // $ per billed ms at 2048 MB
	warmUSD := warmMS*gbs + 1.2e-6
	extra := (1400 - warmMS) * gbs
	share := warmMS / 3.6e6 // one replacement per instance-hour
	perReq := warmUSD + share*extra
	// Warm client p95: serverless 250, 300 × 6, 350, 400 → h = 7.6 → 380;
	// serverful 100 × 6, 110, 130, 200, 300 → h = 8.55 → 255. Cold adds
	// 1000 − 2800/9 ms.
	want(t, loadRow, map[string]float64{
		"memory_mb": 2048, "warm_n": 9, "warm_billed_ms": warmMS, "warm_usd": warmUSD, "cold_n": 1, "cold_extra_usd": extra,
		"cold_share": share, "serverless_usd_per_request": perReq, "object_usd": obj,
		"min_instances": 1, "capacity_rps_per_instance": 20,
		"instance_usd_h": 0.1504 + 0.005 + 30*0.08/730, "surplus_usd_h": 0.12, "fixed_usd_h": 0.0225 + 2*0.005,
		"serverless_warm_p95_ms": 380, "serverful_warm_p95_ms": 255, "cold_add_ms": 1000 - 2800.0/9,
	})
	be, err := p.FindBreakEven(cost.Load{Serverless: perReq, Object: obj, Fleet: cost.Fleet{InstanceType: "t3a.xlarge", MinInstances: 1, PerInstance: 20}})
	if err != nil || !be.Found {
		t.Fatalf("fixture has no break-even: %+v %v", be, err)
	}
	want(t, loadRow, map[string]float64{"break_even_rps": be.Rate, "fleet_at_break_even": float64(be.Fleet), "monthly_usd_at_break_even": be.Monthly, "crossings": float64(be.Crossings)})
	if loadRow["instance_type"] != "t3a.xlarge" || !strings.Contains(loadRow["capacity_basis"], "measured") {
		t.Errorf("cost_load row %v: want t3a.xlarge from the deployment record and a measured capacity", loadRow)
	}

	sumRows := readCSV(t, filepath.Join(out, "summary.csv"))
	// serverless over all batches: client 1000 400 250 350 → mean 500; p95: h = 2.85
	// on 250 350 400 1000 → 400 + 0.85·600 = 910.
	want(t, find(t, sumRows, "scenario", "batches", "target", "serverless"), map[string]float64{"client_mean_ms": 500, "client_p95_ms": 910, "requests": 4})

	stages := readCSV(t, filepath.Join(out, "stages.csv"))
	// serverless predict cold: one request, init 500, inference 880, other 0.
	want(t, find(t, stages, "target", "serverless", "function", "predict", "start", "cold"), map[string]float64{
		"n": 1, "init_ms": 500, "inference_ms": 880, "download_ms": 10, "other_ms": 0,
	})

	// Verdicts: serverful has the lower mean on batches (mean 168 vs 500).
	var cmpBatches *Comparison
	for i := range sum.Comparisons {
		if sum.Comparisons[i].Scenario == "batches" {
			cmpBatches = &sum.Comparisons[i]
		}
	}
	if cmpBatches == nil || cmpBatches.FasterMean != "serverful" {
		t.Errorf("batches comparison: %+v", cmpBatches)
	}

	checkFiles(t, out)

	var text bytes.Buffer
	if err := sum.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"== batches ==", "== coldwarm ==", "== rate ==", "faster on mean client time: serverful", "serverless is cheaper, above it serverful", "truncated", "index.html"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("terminal summary lacks %q:\n%s", s, text.String())
		}
	}
}

// checkFiles checks every promised file exists, PNGs decode, markdown and CSV
// agree, and the HTML references nothing outside itself.
func checkFiles(t *testing.T, out string) {
	t.Helper()
	var names []string
	for _, tb := range []string{"summary", "cost_load", "latency", "table1_coldwarm", "stages", "cost", "servers", "capacity"} {
		names = append(names, tb+".md", tb+".csv")
	}
	for _, f := range []string{"batches", "timeline_serverful", "timeline_serverless", "cdf_batches", "cdf_coldwarm",
		"coldwarm_serverful", "coldwarm_serverless", "stages", "instances", "cost_load_predict"} {
		names = append(names, f+".png", f+".svg")
	}
	names = append(names, "report.md", "index.html")
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(out, n))
		if err != nil {
			t.Errorf("missing %s: %v", n, err)
			continue
		}
		switch filepath.Ext(n) {
		case ".png":
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Errorf("%s does not decode: %v", n, err)
			} else if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
				t.Errorf("%s is %v", n, b)
			}
		case ".svg":
			if !bytes.Contains(data, []byte("<svg")) {
				t.Errorf("%s is not SVG", n)
			}
		}
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "table1_coldwarm.md"))
	if !strings.Contains(string(md), "| 3100.0 | 3000.0 | 3200.0 | 141.4 | 100.0 |") || !strings.Contains(string(md), "| 100.0 | 100.0 | 100.0 | – | – |") {
		t.Errorf("markdown Table 1 does not show the CSV's numbers:\n%s", md)
	}
	page := checkSelfContained(t, filepath.Join(out, "index.html"))
	for _, s := range []string{"The answer", "exact", "ddof = 1", "server.cold", "0.0000166667", "Break-even", "<svg", "box", "Table 1", "standard error", "truncated"} {
		if !bytes.Contains(page, []byte(s)) {
			t.Errorf("index.html lacks %q", s)
		}
	}
}

// checkSelfContained fails if the page would fetch anything: no external src,
// href or url(), no scripts, stylesheets or imports. It returns the page.
func checkSelfContained(t *testing.T, path string) []byte {
	t.Helper()
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:|//|file:)|url\(\s*["']?\s*(https?:|//)|@import|<script|<link|<iframe`)
	if m := external.Find(page); m != nil {
		t.Errorf("%s references something outside itself: %q", path, m)
	}
	return page
}

var quiet = slog.New(slog.DiscardHandler)

func TestGenerateSkipsAbsentGraphs(t *testing.T) {
	dir := t.TempDir()
	h, recs, _ := fixture()
	var warm []results.Record
	for _, r := range recs {
		if r.Scenario == "coldwarm" && (r.Cold == nil || !*r.Cold) {
			warm = append(warm, r)
		}
	}
	h.Scenarios = []string{"coldwarm"}
	path := writeResults(t, dir, h, warm, nil, "")
	out := filepath.Join(dir, "r")
	sum, err := Generate(context.Background(), path, Options{OutDir: out, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(out, "index.html"))
	for _, s := range []string{"no batches scenario", "no instance samples", "no request was reported cold"} {
		if !bytes.Contains(page, []byte(s)) || !slices.ContainsFunc(sum.Warnings, func(w string) bool { return strings.Contains(w, s) }) {
			t.Errorf("skipped graph not explained: %q", s)
		}
	}
	for _, n := range []string{"batches.png", "instances.png"} {
		if _, err := os.Stat(filepath.Join(out, n)); err == nil {
			t.Errorf("%s drawn without data", n)
		}
	}
}

func TestGenerateBadInputWritesNothing(t *testing.T) {
	dir := t.TempDir()
	h, recs, samples := fixture()
	good := writeResults(t, dir, h, recs, samples, "")
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"kind":"header"}`+"\n{oops\n"), 0o644)
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, []byte(`{"kind":"header"}`+"\n"), 0o644)
	prices := filepath.Join(dir, "prices.json")
	os.WriteFile(prices, []byte(`{"lambda":{"gb_secnd":1}}`), 0o644)
	for name, c := range map[string]struct {
		path string
		opt  Options
		msg  string
	}{
		"malformed line": {bad, Options{}, "line 2"},
		"no records":     {empty, Options{}, "no request records"},
		"missing file":   {filepath.Join(dir, "nope.jsonl"), Options{}, "nope.jsonl"},
		"bad price file": {good, Options{PricesFile: prices}, "gb_secnd"},
	} {
		out := filepath.Join(dir, "out-"+strings.ReplaceAll(name, " ", "-"))
		c.opt.OutDir, c.opt.Log = out, quiet
		_, err := Generate(context.Background(), c.path, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: err = %v, want one naming %q", name, err, c.msg)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: output directory created", name)
		}
	}
	if _, err := Generate(context.Background(), good, Options{}); err == nil {
		t.Error("no OutDir: no error")
	}
}

// TestPriceOverride prices serverless at twice the list price and half the
// memory, the memory coming either from the options (over the deployment
// record's 2048 MB) or, where the record names none, from the service's own
// answers: the same compute charge as in TestGenerate either way.
func TestPriceOverride(t *testing.T) {
	for _, c := range []struct {
		name     string
		optMB    map[string]int
		reported int // memory_mb on every serverless record
	}{
		{"memory from options", map[string]int{"serverless": 1024}, 0},
		{"memory reported by the service", nil, 1024},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			h, recs, samples := fixture()
			for i := range recs {
				if recs[i].Target == "serverless" {
					recs[i].MemoryMB = c.reported
				}
			}
			if c.reported > 0 {
				h.Deployments["serverless"] = results.Deployment{Platform: "lambda"}
			}
			path := writeResults(t, dir, h, recs, samples, "")
			p := cost.Default()
			p.Lambda.GBSecond *= 2
			out := filepath.Join(dir, "r")
			if _, err := Generate(context.Background(), path, Options{OutDir: out, Log: quiet, Prices: &p, MemoryMB: c.optMB}); err != nil {
				t.Fatal(err)
			}
			want(t, find(t, readCSV(t, filepath.Join(out, "cost.csv")), "scenario", "batches", "target", "serverless"), map[string]float64{
				"usd_per_1000": (0.55025*2*cost.Default().Lambda.GBSecond+1.2e-6)*1000 + (0.0004+0.005)/1000*1000, "memory_mb": 1024,
			})
		})
	}
}

// bigRun is 10,000 records: two targets, three scenarios, a failure every 97th
// request, a cold start every 50th, instance samples.
func bigRun() (results.Header, []results.Record, []results.Sample) {
	h, _, _ := fixture()
	h.Scenarios = []string{"batches", "coldwarm", "rate"}
	var recs []results.Record
	var samples []results.Sample
	for i := range 10000 {
		target, platform := "serverful", "ecs"
		if i%2 == 1 {
			target, platform = "serverless", "lambda"
		}
		scenario, group := "batches", fmt.Sprint(1+i/2%4)
		switch i % 10 {
		case 7:
			scenario, group = "coldwarm", "warm"
		case 8:
			scenario, group = "rate", fmt.Sprintf("%d/s", 10*(1+i%3))
		}
		status := 200
		if i%97 == 0 {
			status = 0
		}
		cold := no
		if i%50 == 1 {
			cold = yes
		}
		at := float64(i) * 0.01
		server := 20 + float64(i%37)
		recs = append(recs, req(scenario, target, platform, "predict", group, 1, at, server+5+float64(i%13), status, cold, server, 0))
		if i%100 == 0 {
			samples = append(samples, results.Sample{Kind: "sample", Target: "serverful", Metric: "instances", Time: t0.Add(time.Duration(at * float64(time.Second))), Value: float64(1 + i/2500)})
		}
	}
	return h, recs, samples
}

// TestGenerateLargeRunAddsUp checks, on 10,000 records, that the latency table
// accounts for every request and failure of the file and that the page stays
// self-contained.
func TestGenerateLargeRunAddsUp(t *testing.T) {
	dir := t.TempDir()
	h, recs, samples := bigRun()
	path := writeResults(t, dir, h, recs, samples, "")
	out := filepath.Join(dir, "out")
	if _, err := Generate(context.Background(), path, Options{OutDir: out, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	var requests, errs, n int
	var weighted float64
	for _, r := range readCSV(t, filepath.Join(out, "latency.csv")) {
		if r["measure"] != Client {
			continue
		}
		rq, _ := strconv.Atoi(r["requests"])
		e, _ := strconv.Atoi(r["errors"])
		k, _ := strconv.Atoi(r["n"])
		m, _ := strconv.ParseFloat(r["mean_ms"], 64)
		requests, errs, n, weighted = requests+rq, errs+e, n+k, weighted+m*float64(k)
	}
	var wantErrs int
	var wantSum float64
	for _, r := range recs {
		if r.Status == 0 {
			wantErrs++
		} else {
			wantSum += r.ClientMS
		}
	}
	if requests != 10000 || errs != wantErrs || n != 10000-wantErrs {
		t.Errorf("latency table: %d requests, %d errors, %d samples; want 10000, %d, %d", requests, errs, n, wantErrs, 10000-wantErrs)
	}
	if math.Abs(weighted-wantSum) > 1e-6*wantSum {
		t.Errorf("group means weighted by n sum to %v, want the file's %v", weighted, wantSum)
	}
	checkSelfContained(t, filepath.Join(out, "index.html"))
}

// BenchmarkGenerate10k reports the time to build the whole report from 10,000
// records.
func BenchmarkGenerate10k(b *testing.B) {
	dir := b.TempDir()
	h, recs, samples := bigRun()
	path := writeResults(b, dir, h, recs, samples, "")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Generate(context.Background(), path, Options{OutDir: filepath.Join(dir, "out"), Log: quiet}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBestAndTie(t *testing.T) {
	sides := []Side{{Target: "a", ClientMean: 100}, {Target: "b", ClientMean: 80}, {Target: "c", ClientMean: math.NaN()}}
	mean := func(s Side) float64 { return s.ClientMean }
	if got := best(sides, mean); got != "b" {
		t.Errorf("best = %q, want b", got)
	}
	sides[0].ClientMean = 80.5 // within 1 % of 80
	if got := best(sides, mean); got != Tie {
		t.Errorf("best = %q, want a tie", got)
	}
	if got := best(sides[1:], mean); got != "" {
		t.Errorf("one side with a value: best = %q, want none", got)
	}
	c := Comparison{Scenario: "s", FasterMean: Tie, Sides: sides[:2]}
	if v := c.Verdict(); len(v) != 1 || !strings.Contains(v[0], "no clear difference") {
		t.Errorf("verdict %q", v)
	}
}

// TestBilledFromPlatform: requests carrying the platform's REPORT figures show
// billed time beside client and server time, and are priced on it.
func TestBilledFromPlatform(t *testing.T) {
	dir := t.TempDir()
	h, recs, samples := fixture()
	billed := []float64{1500, 320, 210, 305} // the serverless batches, in fixture order
	i := 0
	for k := range recs {
		if recs[k].Target == "serverless" && recs[k].Scenario == "batches" {
			recs[k].PlatformReport = &results.PlatformReport{DurationMS: billed[i] - 0.5, BilledMS: billed[i]}
			i++
		}
	}
	path := writeResults(t, dir, h, recs, samples, "")
	out := filepath.Join(dir, "r")
	if _, err := Generate(context.Background(), path, Options{OutDir: out, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	summary := readCSV(t, filepath.Join(out, "summary.csv"))
	want(t, find(t, summary, "scenario", "batches", "target", "serverless"), map[string]float64{
		"billed_mean_ms": (1500 + 320 + 210 + 305) / 4.0, "server_mean_ms": (900 + 300 + 200 + 300.4) / 4,
	})
	want(t, find(t, summary, "scenario", "batches", "target", "serverful"), map[string]float64{"billed_mean_ms": math.NaN()})
	latency := readCSV(t, filepath.Join(out, "latency.csv"))
	want(t, find(t, latency, "scenario", "batches", "target", "serverless", "group", "1", "measure", Billed), map[string]float64{
		"n": 2, "mean_ms": 910, "min_ms": 320, "max_ms": 1500,
	})
	if rows := slices.DeleteFunc(latency, func(r map[string]string) bool {
		return r["measure"] != Billed || r["target"] == "serverless" && r["scenario"] == "batches"
	}); len(rows) != 0 {
		t.Errorf("billed rows for requests without platform figures: %v", rows)
	}
	coldwarm := readCSV(t, filepath.Join(out, "table1_coldwarm.csv"))
	want(t, find(t, coldwarm, "scenario", "batches", "target", "serverless", "measure", Billed, "start", "cold"), map[string]float64{"n": 1, "mean_ms": 1500})
	// Priced on the platform's billed milliseconds (2048 MB from the deployment
	// record), + the bucket requests.
	want(t, find(t, readCSV(t, filepath.Join(out, "cost.csv")), "scenario", "batches", "target", "serverless"), map[string]float64{
		"usd_per_1000": (0.58375*2*cost.Default().Lambda.GBSecond+1.2e-6)*1000 + (0.0004+0.005)/1000*1000,
	})
}

// TestServersTable: what answered each target, one row per kind of answer, counted,
// so a fallback backend or another thread count shows beside the usual one.
func TestServersTable(t *testing.T) {
	h, recs, samples := fixture()
	for i := range recs {
		if recs[i].Instance == "" {
			continue
		}
		recs[i].Backend, recs[i].Threads, recs[i].Codec, recs[i].MemoryMB = "onnxruntime", 2, "turbojpeg", 0
		if recs[i].Target == "serverless" {
			recs[i].Threads, recs[i].MemoryMB = 1, 1024
		}
	}
	// One serverless answer came from an instance that fell back to pure Go.
	recs[7].Backend, recs[7].Codec = "gomlx", "go"
	dir := t.TempDir()
	out := filepath.Join(dir, "report")
	if _, err := Generate(context.Background(), writeResults(t, dir, h, recs, samples, ""), Options{OutDir: out, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(out, "servers.csv"))
	if len(rows) != 3 {
		t.Fatalf("%d rows, want serverful, serverless and serverless on gomlx: %v", len(rows), rows)
	}
	// serverful: 14 records, 1 failed before any answer (no server object); the 503 answered.
	r := find(t, rows, "target", "serverful")
	if r["platform"] != "ecs" || r["backend"] != "onnxruntime" || r["threads"] != "2" || r["codec"] != "turbojpeg" || r["answers"] != "13" || r["memory_mb"] != dash {
		t.Errorf("serverful row %v", r)
	}
	r = find(t, rows, "target", "serverless", "backend", "onnxruntime")
	if r["threads"] != "1" || r["memory_mb"] != "1024" || r["answers"] != "13" {
		t.Errorf("serverless row %v", r)
	}
	r = find(t, rows, "target", "serverless", "backend", "gomlx")
	if r["codec"] != "go" || r["answers"] != "1" {
		t.Errorf("fallback row %v", r)
	}
}
