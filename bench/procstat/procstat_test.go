package procstat

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// fakeProc is a /proc with process 42: its status (VmRSS as given) and three fds.
func fakeProc(vmRSS string) Proc {
	status := "Name:\tserver\nState:\tS (sleeping)\nVmPeak:\t  999999 kB\n" + vmRSS + "VmHWM:\t  888888 kB\nThreads:\t9\n"
	return Proc{FS: fstest.MapFS{
		"42/status": {Data: []byte(status)},
		"42/fd/0":   {Data: nil},
		"42/fd/1":   {Data: nil},
		"42/fd/7":   {Data: nil},
	}, PID: 42}
}

func TestFakeProc(t *testing.T) {
	p := fakeProc("VmRSS:\t  123456 kB\n")
	if n, err := p.RSS(); err != nil || n != 123456*1024 {
		t.Errorf("RSS = %d, %v; want %d (VmRSS, not VmPeak or VmHWM)", n, err, 123456*1024)
	}
	if n, err := p.PeakRSS(); err != nil || n != 888888*1024 {
		t.Errorf("PeakRSS = %d, %v; want %d (VmHWM)", n, err, 888888*1024)
	}
	if n, err := p.OpenFiles(); err != nil || n != 3 {
		t.Errorf("OpenFiles = %d, %v; want 3", n, err)
	}
	for _, bad := range []string{"", "VmRSS:\tlots kB\n", "VmRSS:\t12 MB\n", "VmRSS:\t-5 kB\n", "VmRSS:\n"} {
		if n, err := fakeProc(bad).RSS(); err == nil || !strings.Contains(err.Error(), "pid 42") {
			t.Errorf("VmRSS line %q: RSS = %d, %v; want an error naming the pid", bad, n, err)
		}
	}
	gone := Proc{FS: fstest.MapFS{}, PID: 7}
	if _, err := gone.RSS(); err == nil || !strings.Contains(err.Error(), "pid 7") {
		t.Errorf("no such process: RSS err %v", err)
	}
	if _, err := gone.OpenFiles(); err == nil || !strings.Contains(err.Error(), "pid 7") {
		t.Errorf("no such process: OpenFiles err %v", err)
	}
}

// TestSelf reads this test process: resident memory is there, and a file opened
// counts one more open file until it is closed.
func TestSelf(t *testing.T) {
	p := Self()
	rss, err := p.RSS()
	if err != nil || rss < 1<<20 || rss > 1<<40 {
		t.Errorf("RSS of this process = %d, %v", rss, err)
	}
	before, err := p.OpenFiles()
	if err != nil || before < 3 {
		t.Fatalf("OpenFiles = %d, %v; want at least stdin, stdout, stderr", before, err)
	}
	f, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	during, _ := p.OpenFiles()
	f.Close()
	after, _ := p.OpenFiles()
	if during != before+1 || after != before {
		t.Errorf("open files %d, then %d with one more open, then %d closed", before, during, after)
	}
}

// debugServer serves this process's pprof as the server's debug listener does.
func debugServer(t *testing.T) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestGoroutines: the count from the profile follows goroutines started and ended.
func TestGoroutines(t *testing.T) {
	ctx := context.Background()
	u := debugServer(t)
	s := Sampler{DebugURL: u}
	before, err := Goroutines(ctx, s.client(), u)
	if err != nil || before < 2 {
		t.Fatalf("Goroutines = %d, %v", before, err)
	}
	release := make(chan struct{})
	for range 100 {
		go func() { <-release }()
	}
	during, err := Goroutines(ctx, s.client(), u)
	close(release)
	if err != nil || during < before+100 {
		t.Errorf("with 100 more goroutines: %d (was %d), %v", during, before, err)
	}
	if _, err := Goroutines(ctx, s.client(), u+"/nowhere"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("no profile there: err %v", err)
	}
}

func TestParseGoroutineTotal(t *testing.T) {
	for in, want := range map[string]int{
		"goroutine profile: total 17\n5 @ 0x1 0x2\n": 17,
		"goroutine profile: total 3":                 3, // no newline
	} {
		if n, err := ParseGoroutineTotal(strings.NewReader(in)); err != nil || n != want {
			t.Errorf("%q: %d, %v; want %d", in, n, err, want)
		}
	}
	for _, bad := range []string{"", "\n", "<html>404 page not found", "goroutine profile: total x\n", "goroutine profile: total 0\n",
		"goroutine profile: total -3\n", "heap profile: 1: 2 [3: 4] @ heap/1048576\n", strings.Repeat("x", 1000)} {
		if n, err := ParseGoroutineTotal(strings.NewReader(bad)); err == nil {
			t.Errorf("%.40q: %d, want an error", bad, n)
		}
	}
}

// TestRun samples this process a few times, each sample complete and in order;
// a process that is gone fails every sample and Run says so.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel()
	samples, err := Sampler{Proc: Self(), DebugURL: debugServer(t)}.Run(ctx, 100*time.Millisecond)
	if err != nil || len(samples) < 3 || len(samples) > 5 {
		t.Fatalf("%d samples in 350 ms every 100 ms, err %v", len(samples), err)
	}
	for i, s := range samples {
		if s.RSS <= 0 || s.OpenFiles <= 0 || s.Goroutines <= 0 || (i > 0 && s.At <= samples[i-1].At) {
			t.Errorf("sample %d: %+v", i, s)
		}
	}

	ctx, cancel = context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	samples, err = Sampler{Proc: Proc{FS: fstest.MapFS{}, PID: 7}}.Run(ctx, 100*time.Millisecond)
	if len(samples) != 0 || err == nil || !strings.Contains(err.Error(), "pid 7") {
		t.Errorf("a process gone: %d samples, err %v", len(samples), err)
	}
	if _, err := (Sampler{Proc: Self()}).Run(ctx, 0); err == nil {
		t.Errorf("every 0: no error")
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestSlope fits known lines: exact ones, one far from the origin (Unix times in
// minutes), a flat one, and noise symmetric about a line.
func TestSlope(t *testing.T) {
	line := func(a, b float64, xs ...float64) []float64 {
		var ys []float64
		for _, x := range xs {
			ys = append(ys, a*x+b)
		}
		return ys
	}
	xs := []float64{0, 1, 2, 3, 4, 5}
	far := []float64{29e6, 29e6 + 0.5, 29e6 + 1, 29e6 + 2, 29e6 + 3.5}
	for _, c := range []struct {
		name   string
		xs, ys []float64
		want   float64
	}{
		{"y = 3x + 2", xs, line(3, 2, xs...), 3},
		{"y = -0.25x + 100", xs, line(-0.25, 100, xs...), -0.25},
		{"flat", xs, line(0, 7, xs...), 0},
		{"two points", []float64{1, 3}, []float64{10, 4}, -3},
		{"far from the origin", far, line(2, -5e7, far...), 2},
		// ±1 about y = x at every x, alternating in pairs so the noise cancels.
		{"noise about y = x", []float64{0, 0, 1, 1, 2, 2}, []float64{1, -1, 2, 0, 3, 1}, 1},
	} {
		got, err := Slope(c.xs, c.ys)
		if err != nil || !near(got, c.want) {
			t.Errorf("%s: slope %g, %v; want %g", c.name, got, err, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		xs, ys []float64
	}{
		{"none", nil, nil},
		{"one point", []float64{1}, []float64{1}},
		{"every x equal", []float64{2, 2, 2}, []float64{1, 2, 3}},
		{"lengths differ", []float64{1, 2, 3}, []float64{1, 2}},
	} {
		if got, err := Slope(c.xs, c.ys); err == nil {
			t.Errorf("%s: slope %g, want an error", c.name, got)
		}
	}
}

// TestTrendOf: a warm-up spike is in first/min/max but not the slope, which is
// fitted to the line after it.
func TestTrendOf(t *testing.T) {
	var samples []Sample
	for i := range 9 { // every 15 s for 2 minutes: whole bytes at 2 MB a minute
		at := time.Duration(i) * 15 * time.Second
		mb := 100 + 2*at.Minutes() // 2 MB a minute
		if at < 30*time.Second {
			mb = 300 - float64(i) // the warm-up: high, then falling
		}
		samples = append(samples, Sample{At: at, RSS: int64(mb * (1 << 20)), Goroutines: 9})
	}
	rss := TrendOf(samples, 30*time.Second, func(s Sample) float64 { return float64(s.RSS) / (1 << 20) })
	if !near(rss.PerMin, 2) || rss.Fitted != 7 || rss.First != 300 || !near(rss.Last, 104) || rss.Min != 101 || rss.Max != 300 {
		t.Errorf("RSS trend %+v; want 2 MB/min over 7 samples, first 300, last 104, min 101, max 300", rss)
	}
	g := TrendOf(samples, 0, func(s Sample) float64 { return float64(s.Goroutines) })
	if g.PerMin != 0 || g.Fitted != 9 || g.Min != 9 || g.Max != 9 {
		t.Errorf("flat goroutines: %+v", g)
	}
	short := TrendOf(samples, 2*time.Minute, func(s Sample) float64 { return 1 })
	if !math.IsNaN(short.PerMin) || short.Fitted != 1 || short.First != 1 {
		t.Errorf("one sample after the warm-up: %+v; want no slope (NaN)", short)
	}
	none := TrendOf(nil, 0, func(s Sample) float64 { return 1 })
	if !math.IsNaN(none.First) || !math.IsNaN(none.PerMin) || none.Fitted != 0 {
		t.Errorf("no samples: %+v", none)
	}
}
