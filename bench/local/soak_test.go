package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servebench/servebench/assets"
	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/procstat"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/bench/stats"
	"github.com/servebench/servebench/study"
)

// Environment variables that shorten or pin a soak (BenchmarkSoak).
const (
	soakDurationEnv = "SERVEBENCH_SOAK_DURATION" // how long the soak runs (default 15m)
	soakRateEnv     = "SERVEBENCH_SOAK_RATE"     // requests/s; set, the capacity search is skipped
)

const (
	soakDefaultDuration = 15 * time.Minute
	// soakLoad is the fraction of the capacity found that the soak sends: busy, yet
	// below the knee, so a queue never builds and what grows is the process's own.
	soakLoad = 0.8
	// soakImage is the one image every request names, so that the work per request
	// is the same all along and any growth is the process's, not the input mix's.
	soakImage = assets.ImagesDir + "/dog.jpg"
	// The shortest and longest soak a variable may ask for: below a few seconds
	// there is nothing after the warm-up to fit; a day is surely a typo.
	soakMinDuration = 10 * time.Second
	soakMaxDuration = 24 * time.Hour
)

// soakSearch is the capacity search the soak's rate comes from: the one
// `servebench local` runs by default, on the soak's image alone.
var soakSearch = func() scenario.Rate {
	r := scenario.LocalRate
	r.Images = []string{soakImage}
	return r
}()

// soakSettings is what one soak runs: for how long, and at what rate (0: 80 %
// of the capacity the search finds first).
type soakSettings struct {
	Duration time.Duration
	Rate     float64
}

// soakSettingsFrom reads the soak's variables through getenv; every bad value
// is reported at once, naming the variable.
func soakSettingsFrom(getenv func(string) string) (soakSettings, error) {
	s := soakSettings{Duration: soakDefaultDuration}
	var errs []error
	if v := getenv(soakDurationEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < soakMinDuration || d > soakMaxDuration {
			errs = append(errs, fmt.Errorf("%s=%q: want a duration from %v to %v, e.g. 1m", soakDurationEnv, v, soakMinDuration, soakMaxDuration))
		} else {
			s.Duration = d
		}
	}
	if v := getenv(soakRateEnv); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || !(r > 0) || math.IsInf(r, 0) {
			errs = append(errs, fmt.Errorf("%s=%q: want requests per second above 0, e.g. 5 (unset: %g × the capacity found)", soakRateEnv, v, soakLoad))
		} else {
			s.Rate = r
		}
	}
	return s, errors.Join(errs...)
}

// warmUp is the start of the soak left out of the slopes: a minute, or a tenth of
// a shorter soak (the pools and caches of a fresh load settle in seconds).
func (s soakSettings) warmUp() time.Duration { return min(time.Minute, s.Duration/10) }

// every is how often the process is sampled: about 180 samples a soak, no more
// often than every second (a sample reads the goroutine profile) and no less
// than every 5 s.
func (s soakSettings) every() time.Duration {
	return min(max(s.Duration/180, time.Second), 5*time.Second)
}

// rate is the soak's open-loop step: the rate scenario at one rate for the whole
// soak, on the soak's image. It is judged against the search's objective, for the
// summary only: the soak asserts that nothing fails, not a latency.
func (s soakSettings) rate(rate float64) scenario.Rate {
	r := soakSearch
	r.Rates, r.MaxRate, r.MaxSteps, r.Step, r.MaxErrors = []float64{rate}, rate, 1, s.Duration, 0
	return r
}

// soakTally is a scenario.Recorder that keeps what the soak reports: every
// request's outcome and latency, and the capacity a search found.
type soakTally struct {
	mu       sync.Mutex
	sent, ok int
	failed   map[string]int // by status and error
	ms       []float64      // client latency of every request, failed ones too
	capacity *results.Capacity
}

// Record implements scenario.Recorder.
func (t *soakTally) Record(r results.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent++
	t.ms = append(t.ms, r.ClientMS)
	if r.OK() {
		t.ok++
		return nil
	}
	if t.failed == nil {
		t.failed = map[string]int{}
	}
	t.failed[fmt.Sprintf("%d %s", r.Status, r.Error)]++
	return nil
}

// Capacity implements scenario.Recorder.
func (t *soakTally) Capacity(c results.Capacity) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.capacity = &c
	return nil
}

// failures lists the failed requests by kind, most frequent first.
func (t *soakTally) failures() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	kinds := slices.SortedFunc(maps.Keys(t.failed), func(a, b string) int {
		return cmp.Or(t.failed[b]-t.failed[a], strings.Compare(a, b))
	})
	var out []string
	for _, k := range kinds {
		out = append(out, fmt.Sprintf("%d× %s", t.failed[k], k))
	}
	return strings.Join(out, ", ")
}

// BenchmarkSoak runs one server process (the service's cmd/server as Build makes
// it, on ONNX Runtime) under the rate scenario for 15 minutes at 80 % of the
// capacity the rate scenario's search finds on that same process first, sampling
// its resident memory, open files and goroutines (through the opt-in pprof
// listener, SERVEBENCH_DEBUG_ADDR) every few seconds. It reports the slope of
// each after the warm-up (least squares, per minute) and logs first/last/min/max
// and the requests' outcome. Any failed request is an error: the soak must lose
// nothing. The slopes are reported, not judged (a shared machine is noisy).
//
// Run it alone (it takes the CPU):
//
//	go test -run '^$' -bench Soak -benchtime 1x -timeout 40m ./bench/local/
//
// SERVEBENCH_SOAK_DURATION=1m shortens it; SERVEBENCH_SOAK_RATE=N sends N/s and
// skips the search. It runs once whatever b.N.
func BenchmarkSoak(b *testing.B) {
	set, err := soakSettingsFrom(os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// What the soak found goes to stderr as it is found: b.Log would keep only
	// the first ten lines of a benchmark's output.
	say := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "soak: "+format+"\n", args...) }
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p := startSoakServer(ctx, b, log)
	target := scenario.Target{Name: "soak", URL: p.URL}
	runner := func(out scenario.Recorder, log *slog.Logger) *scenario.Runner {
		return &scenario.Runner{Attacker: loadgen.NewAttacker(loadgen.Timeout(study.LambdaTimeoutSeconds * time.Second)), Out: out, Log: log}
	}

	rate := set.Rate
	if rate == 0 {
		var found soakTally
		sums, err := soakSearch.Run(ctx, runner(&found, log), target)
		say("capacity search on the soak's one server process (the \"scaling on\" below: there is none to hold):\n%s", scenario.Text([]scenario.Summary{sums}))
		if err != nil {
			b.Fatalf("capacity search: %v%s", err, logTail(p.Log))
		}
		if found.capacity == nil || found.capacity.RatePerS <= 0 {
			b.Fatalf("the capacity search held no rate: nothing to soak at")
		}
		// To 3 significant digits, as the search's own rates read.
		rate, _ = strconv.ParseFloat(strconv.FormatFloat(soakLoad*found.capacity.RatePerS, 'g', 3, 64), 64)
		b.ReportMetric(found.capacity.RatePerS, "capacity-req/s")
	}
	soak := set.rate(rate)
	if err := soak.Validate(); err != nil {
		b.Fatalf("soak at %g/s for %v: %v", rate, set.Duration, err)
	}
	planned := loadgen.Constant{Rate: rate, Duration: set.Duration}.Hits()
	log.Info("soak: started", "rate_per_s", rate, "duration", set.Duration, "requests", planned,
		"sample_every", set.every(), "ends", time.Now().Add(set.Duration).Format(time.TimeOnly))

	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	var (
		samples   []procstat.Sample
		sampleErr error
	)
	go func() {
		defer close(sampled)
		s := procstat.Sampler{Proc: procstat.Of(p.Pid()), DebugURL: p.debugURL}
		samples, sampleErr = s.Run(sctx, set.every())
	}()
	var tally soakTally
	// Its summary is not shown: it judges the step against the search's objective,
	// which the soak does not assert; the outcome is reported from tally below.
	// Nor its log: its step's verdict and a "capacity" it did not search for.
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	_, err = soak.Run(ctx, runner(&tally, quiet), target)
	stopSampling()
	<-sampled
	if err != nil {
		b.Errorf("soak: %v", err)
	}
	if sampleErr != nil {
		b.Errorf("sampling the server: %v", sampleErr)
	}
	if p.Exited() {
		b.Errorf("the server exited during the soak%s", logTail(p.Log))
	}

	lat := stats.Summarize(tally.ms)
	say("requests: %g/s for %v: %d sent of %d planned, %d ok, %d failed; latency from the intended send (exact): p50 %.0f ms, p99 %.0f ms, max %.0f ms",
		rate, set.Duration, tally.sent, planned, tally.ok, tally.sent-tally.ok, lat.P50, lat.P99, lat.Max)
	if tally.sent != planned || tally.ok != tally.sent {
		b.Errorf("the soak lost requests: %d sent of %d planned, %d failed (%s)%s", tally.sent, planned, tally.sent-tally.ok, tally.failures(), logTail(p.Log))
	}

	say("samples (about every tenth):\n%s", soakSeries(samples, 10))
	warm := set.warmUp()
	for _, q := range []struct {
		name, unit string
		value      func(procstat.Sample) float64
	}{
		{"resident memory", "rss-MB/min", func(s procstat.Sample) float64 { return float64(s.RSS) / (1 << 20) }},
		{"goroutines", "goroutines/min", func(s procstat.Sample) float64 { return float64(s.Goroutines) }},
		{"open files", "fds/min", func(s procstat.Sample) float64 { return float64(s.OpenFiles) }},
	} {
		t := procstat.TrendOf(samples, warm, q.value)
		say("%s: first %.1f, last %.1f, min %.1f, max %.1f; slope %+.3f/min (least squares over the %d samples after %v, of %d every %v)",
			q.name, t.First, t.Last, t.Min, t.Max, t.PerMin, t.Fitted, warm, len(samples), set.every())
		if math.IsNaN(t.PerMin) {
			b.Errorf("%s: too few samples after the warm-up to fit a slope", q.name)
			continue
		}
		b.ReportMetric(t.PerMin, q.unit)
	}
	b.ReportMetric(rate, "req/s")
	b.ReportMetric(lat.P50, "p50-ms")
	b.ReportMetric(lat.P99, "p99-ms")
	b.ReportMetric(float64(tally.sent-tally.ok), "failed")
	// The run's length is set by the settings, not measured: hide ns/op.
	b.ReportMetric(0, "ns/op")
}

// soakSeries renders about n of samples, evenly spaced and the last included, as
// a table: enough to see the shape of a trend that a slope summarises.
func soakSeries(samples []procstat.Sample, n int) string {
	var out strings.Builder
	fmt.Fprintf(&out, "  %8s %8s %10s %6s\n", "at", "rss MB", "goroutines", "fds")
	step := max(1, len(samples)/n)
	for i, s := range samples {
		if i%step == 0 || i == len(samples)-1 {
			fmt.Fprintf(&out, "  %8v %8.1f %10d %6d\n", s.At.Round(time.Second), float64(s.RSS)/(1<<20), s.Goroutines, s.OpenFiles)
		}
	}
	return strings.TrimSuffix(out.String(), "\n")
}

// soakServer is the soak's one server process and its pprof listener.
type soakServer struct {
	*Process
	debugURL string
}

// startSoakServer builds the server alone, seeds file:// buckets from the test
// data, and launches one instance with the model preloaded, the pprof listener
// on a loopback port, and one warm-up request answered. It fails unless the
// service runs ONNX Runtime, the backend the soak measures.
func startSoakServer(ctx context.Context, b *testing.B, log *slog.Logger) soakServer {
	b.Helper()
	root, err := FindRoot(".")
	if err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()
	data, err := assets.Locate(ctx, log, root, filepath.Join(work, "assets"))
	if err != nil {
		b.Fatal(err)
	}
	bin, err := Build(ctx, log, root, filepath.Join(work, "bin"), ServerCmd)
	if err != nil {
		b.Fatal(err)
	}
	if bin.Backend != "onnxruntime" {
		b.Fatalf("the soak measures the ONNX Runtime backend; the service would run %s (set %s to libonnxruntime.so.1, or let scripts/setup-onnxruntime fetch it)", bin.Backend, ORTLibEnv)
	}
	buckets, err := Seed(filepath.Join(work, "buckets"), data)
	if err != nil {
		b.Fatal(err)
	}
	// From the instance port range: a port the kernel picks for :0 could be taken
	// by a client connection's source port before the server binds it.
	port, err := freePort()
	if err != nil {
		b.Fatal(err)
	}
	debugAddr := "127.0.0.1:" + strconv.Itoa(port)
	l := &Launcher{Bin: bin, Buckets: buckets, LogDir: filepath.Join(work, "logs"),
		Env: []string{"SERVEBENCH_PRELOAD=true", "SERVEBENCH_DEBUG_ADDR=" + debugAddr}}
	p, err := l.Launch(ctx, "soak")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Stop)
	if err := PredictWarmUp(soakImage)(ctx, p.URL); err != nil {
		b.Fatalf("warm-up: %v%s", err, logTail(p.Log))
	}
	return soakServer{Process: p, debugURL: "http://" + debugAddr}
}

// TestSoakSettings: the defaults, each variable read, and bad values reported
// all at once, naming the variable.
func TestSoakSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	s, err := soakSettingsFrom(env(nil))
	if err != nil || s.Duration != 15*time.Minute || s.Rate != 0 || s.warmUp() != time.Minute || s.every() != 5*time.Second {
		t.Errorf("defaults: %+v, warm-up %v, every %v, %v; want 15 min at 80 %% of the capacity found, 1 min warm-up, every 5 s",
			s, s.warmUp(), s.every(), err)
	}
	s, err = soakSettingsFrom(env(map[string]string{soakDurationEnv: "1m", soakRateEnv: "2.5"}))
	if err != nil || s.Duration != time.Minute || s.Rate != 2.5 || s.warmUp() != 6*time.Second || s.every() != time.Second {
		t.Errorf("1m at 2.5/s: %+v, warm-up %v, every %v, %v", s, s.warmUp(), s.every(), err)
	}
	if r := s.rate(2.5); r.Validate() != nil || r.Step != time.Minute || r.MaxSteps != 1 || !slices.Equal(r.Rates, []float64{2.5}) ||
		r.MaxRate != 2.5 || !slices.Equal(r.Images, []string{soakImage}) {
		t.Errorf("the soak's step: %+v (%v)", r, r.Validate())
	}
	if err := soakSearch.Validate(); err != nil {
		t.Errorf("the search: %v", err)
	}
	for _, bad := range []map[string]string{
		{soakDurationEnv: "15"}, {soakDurationEnv: "1s"}, {soakDurationEnv: "48h"}, {soakDurationEnv: "-1m"},
		{soakRateEnv: "fast"}, {soakRateEnv: "0"}, {soakRateEnv: "-3"}, {soakRateEnv: "NaN"}, {soakRateEnv: "+Inf"},
	} {
		_, err := soakSettingsFrom(env(bad))
		for k, v := range bad {
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s=%q", k, v)) {
				t.Errorf("%s=%q: error %v should name the variable and its value", k, v, err)
			}
		}
	}
	_, err = soakSettingsFrom(env(map[string]string{soakDurationEnv: "x", soakRateEnv: "y"}))
	if err == nil || !strings.Contains(err.Error(), soakDurationEnv) || !strings.Contains(err.Error(), soakRateEnv) {
		t.Errorf("both bad: %v; want both named", err)
	}
}

// TestSoakTally counts outcomes by kind, the failed ones' latency included.
func TestSoakTally(t *testing.T) {
	var tl soakTally
	for _, r := range []results.Record{
		{Status: 200, ClientMS: 10}, {Status: 200, ClientMS: 30}, {Status: 504, Error: "timeout", ClientMS: 30000},
		{Error: "timeout", ClientMS: 30000}, {Status: 504, Error: "timeout", ClientMS: 30000},
	} {
		if err := tl.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := tl.Capacity(results.Capacity{RatePerS: 12}); err != nil || tl.capacity.RatePerS != 12 {
		t.Errorf("capacity %+v, %v", tl.capacity, err)
	}
	if tl.sent != 5 || tl.ok != 2 || len(tl.ms) != 5 || tl.failures() != "2× 504 timeout, 1× 0 timeout" {
		t.Errorf("tally: %d sent, %d ok, %d latencies, failures %q", tl.sent, tl.ok, len(tl.ms), tl.failures())
	}
}
