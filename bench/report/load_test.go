package report

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/servebench/servebench/bench/results"
)

// generateWithCapacities reports on the fixture with its capacity lines and
// returns the summary and the output directory.
func generateWithCapacities(t *testing.T) (*Summary, string) {
	t.Helper()
	h, recs, samples := fixture()
	var caps []any
	for _, c := range fixtureCapacities() {
		caps = append(caps, c)
	}
	dir := t.TempDir()
	path := writeResults(t, dir, h, recs, samples, "", caps...)
	out := filepath.Join(dir, "report")
	sum, err := Generate(context.Background(), path, Options{OutDir: out, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return sum, out
}

// TestHeadlineNumbersAreTheTables: every number the headline states is the
// cost-against-load table's (and the capacity table's), to the digits shown;
// report.md, index.html and the terminal summary say the same sentences, and
// the page opens with them and the chart, the per-group latency table folded.
func TestHeadlineNumbersAreTheTables(t *testing.T) {
	sum, out := generateWithCapacities(t)
	row := find(t, readCSV(t, filepath.Join(out, "cost_load.csv")), "function", "predict")
	lines := sum.Headline()
	if len(lines) < 2 {
		t.Fatalf("headline %q: want the verdict and the capacity of predict", lines)
	}
	verdict, capacity := lines[0], lines[1]
	for _, c := range []struct {
		re, col string
	}{
		{`below ([0-9.]+) req/s serverless is cheaper, above it serverful, if this rate were sustained`, "break_even_rps"},
		{`\(\$([0-9.]+) a month either way`, "monthly_usd_at_break_even"},
		{`warm p95 ([0-9.]+) ms vs`, "serverless_warm_p95_ms"},
		{`warm p95 [0-9.]+ ms vs ([0-9.]+) ms`, "serverful_warm_p95_ms"},
		{`cold starts add ([0-9.]+) ms each`, "cold_add_ms"},
		{`and ([0-9.]+) % of requests start cold`, "cold_share"},
	} {
		checkNumber(t, verdict, c.re, row[c.col], c.col == "cold_share")
	}
	checkNumber(t, capacity, `serverful ([0-9.]+) req/s per instance`, row["capacity_rps_per_instance"], false)
	caps := readCSV(t, filepath.Join(out, "capacity.csv"))
	checkNumber(t, capacity, `, ([0-9.]+) req/s with scaling on`, find(t, caps, "target", "serverful", "scaling", "on")["rate_rps"], false)
	checkNumber(t, capacity, `serverless ([0-9.]+) req/s \(limited by cap\)`, find(t, caps, "target", "serverless")["rate_rps"], false)
	if !strings.Contains(capacity, "measured: the rate scenario held 20.000 req/s on 1 instance(s)") {
		t.Errorf("capacity %q: want where the per-instance capacity came from", capacity)
	}

	// The chart marks the break-even at the table's rate and shades the range

	svg, err := os.ReadFile(filepath.Join(out, "cost_load_predict.svg"))
	if err != nil {
		t.Fatal(err)
	}
	rate, _ := strconv.ParseFloat(row["break_even_rps"], 64)
	for _, s := range []string{"break-even " + rps(rate) + " req/s", "measured " + rps(6/5.3) + "–" + rps(64.0) + " req/s"} {
		if !bytes.Contains(svg, []byte(s)) {
			t.Errorf("cost_load_predict.svg lacks %q", s)
		}
	}

	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	page, _ := os.ReadFile(filepath.Join(out, "index.html"))
	var text bytes.Buffer
	if err := sum.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if !bytes.Contains(md, []byte(l)) {
			t.Errorf("report.md lacks the headline %q", l)
		}
		if !strings.Contains(text.String(), l) {
			t.Errorf("terminal summary lacks the headline %q", l)
		}
	}
	// The page opens with the answer: the sentences, then the chart, before any
	// per-scenario figure; the latency table is folded away in <details>.
	first := bytes.Index(page, []byte("<h2"))
	answer := bytes.Index(page, []byte("below "))
	chart := bytes.Index(page, []byte(`<figure id="f-cost_load_predict"`))
	scenarios := bytes.Index(page, []byte("<h2 id=scenarios>"))
	if first < 0 || first != bytes.Index(page, []byte("<h2 id=headline>")) || !(first < answer && answer < chart && chart < scenarios) {
		t.Errorf("index.html does not open with the answer and its chart (h2 %d, answer %d, chart %d, scenarios %d)", first, answer, chart, scenarios)
	}
	if i, j := bytes.Index(page, []byte("<details>")), bytes.Index(page, []byte(`<h3 id="t-latency">`)); i < 0 || j < i || bytes.Contains(page[i:j], []byte("</details>")) {
		t.Error("the latency table is not folded in <details>")
	}
}

// checkNumber finds re's number in s and checks it is the table's cell (full
// precision) to the digits the sentence shows; pct: the cell is a fraction.
func checkNumber(t *testing.T, s, re, cell string, pct bool) {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Errorf("%q: no match for %s", s, re)
		return
	}
	got, _ := strconv.ParseFloat(m[1], 64)
	want, err := strconv.ParseFloat(cell, 64)
	if err != nil {
		t.Errorf("table cell %q for %s: %v", cell, re, err)
		return
	}
	if pct {
		want *= 100
	}
	// Half a unit of the last digit shown.
	tol := 0.5
	if i := strings.IndexByte(m[1], '.'); i >= 0 {
		tol = 0.5 * math.Pow10(-(len(m[1]) - i - 1))
	}
	if pct {
		tol = want * 0.005 // 3 significant digits
	}
	if d := got - want; d > tol*1.0001 || d < -tol*1.0001 {
		t.Errorf("%s: headline says %s, table %s", re, m[1], cell)
	}
}

// TestLocalRunSaysSo: a local run's deployment records (platform local) price the
// serverless side at the memory the run assumed and the fleet as the study's
// instance type, and the headline says the durations are this machine's.
func TestLocalRunSaysSo(t *testing.T) {
	h, recs, samples := fixture()
	h.Deployments = map[string]results.Deployment{
		"serverful":  {Platform: "local", Endpoint: "http://127.0.0.1:1", MinInstances: 2, MaxInstances: 4},
		"serverless": {Platform: "local", Endpoint: "http://127.0.0.1:2", MemoryMB: 3000},
	}
	sum, out := generate(t, h, recs, samples)
	var local string
	for _, l := range sum.Headline() {
		if strings.Contains(l, "a local run") {
			local = l
		}
	}
	for _, s := range []string{"durations come from this machine", "lambda at 3000 MB (assumed by the local run", "2..4 × t3a.xlarge", "instance type assumed: the study's t3a.xlarge"} {
		if !strings.Contains(local, s) {
			t.Errorf("local headline %q lacks %q", local, s)
		}
	}
	row := find(t, readCSV(t, filepath.Join(out, "cost_load.csv")), "function", "predict")
	want(t, row, map[string]float64{"memory_mb": 3000, "min_instances": 2})
	if !strings.Contains(row["note"], "durations from this machine") {
		t.Errorf("cost_load note %q: want it to say the durations are this machine's", row["note"])
	}
}

// TestOverloadedStepsLeftOut: the rate scenario's steps above the highest rate a
// side held are overload, not a steady state: their warm requests count in
// neither the warm p95 nor the warm billed time.
func TestOverloadedStepsLeftOut(t *testing.T) {
	h, recs, samples := fixture()
	// The serverful side held 20/s with scaling held (50/s with it on): its
	// 30/s step of the scaling-on search and the serverless side's 80/s step
	// (above its 64/s) queued.
	for i := range 6 {
		recs = append(recs, req("rate", "serverful", "ecs", "predict", "30/s on", 2, 50+float64(i), 9000, 200, no, 80, 0),
			req("rate", "serverless", "lambda", "predict", "80/s", 2, 50+float64(i), 9000, 200, no, 8000, 0))
	}
	var caps []any
	for _, c := range fixtureCapacities() {
		caps = append(caps, c)
	}
	dir := t.TempDir()
	if _, err := Generate(context.Background(), writeResults(t, dir, h, recs, samples, "", caps...), Options{OutDir: dir, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	// As in TestGenerate, without the 80/s step; the serverless side held 64/s.
	want(t, find(t, readCSV(t, filepath.Join(dir, "cost_load.csv")), "function", "predict"), map[string]float64{
		"serverful_warm_p95_ms": 255, "serverless_warm_p95_ms": 380, "warm_n": 9, "warm_billed_ms": 2307.0 / 9,
	})
}
