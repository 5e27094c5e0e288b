// Package procstat samples a running process from outside, for a soak: its
// resident memory and open files from /proc, its goroutines from the
// net/http/pprof endpoint it serves (they are visible only from inside), and
// fits the trend of each over the run by least squares, so that a leak shows as
// a slope.
package procstat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Proc is one process as /proc shows it. FS is the /proc tree (os.DirFS("/proc"),
// or a fake in tests); PID names the process in it.
type Proc struct {
	FS  fs.FS
	PID int
}

// Self is this process in the system's /proc, for tests and comparisons.
func Self() Proc { return Proc{FS: os.DirFS("/proc"), PID: os.Getpid()} }

// Of is process pid in the system's /proc.
func Of(pid int) Proc { return Proc{FS: os.DirFS("/proc"), PID: pid} }

// RSS is the process's resident memory in bytes: VmRSS of <pid>/status.
func (p Proc) RSS() (int64, error) { return p.statusBytes("VmRSS", "resident memory") }

// PeakRSS is the process's peak resident memory in bytes: VmHWM of <pid>/status
// (what Lambda reports as Max Memory Used).
func (p Proc) PeakRSS() (int64, error) { return p.statusBytes("VmHWM", "peak resident memory") }

// statusBytes reads field of <pid>/status, which the kernel gives in kB, in bytes;
// what names it in errors.
func (p Proc) statusBytes(field, what string) (int64, error) {
	name := strconv.Itoa(p.PID) + "/status"
	b, err := fs.ReadFile(p.FS, name)
	if err != nil {
		return 0, fmt.Errorf("%s of pid %d: %w", what, p.PID, err)
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(v), " ")
		kb, err := strconv.ParseInt(num, 10, 64)
		if err != nil || unit != "kB" || kb < 0 {
			return 0, fmt.Errorf("%s of pid %d: %s: malformed %s %q", what, p.PID, name, field, strings.TrimSpace(v))
		}
		return kb << 10, nil
	}
	// A kernel thread or a zombie has no memory lines.
	return 0, fmt.Errorf("%s of pid %d: no %s in %s", what, p.PID, field, name)
}

// OpenFiles is the number of the process's open file descriptors: the entries
// of <pid>/fd (files, sockets, pipes alike).
func (p Proc) OpenFiles() (int, error) {
	es, err := fs.ReadDir(p.FS, strconv.Itoa(p.PID)+"/fd")
	if err != nil {
		return 0, fmt.Errorf("open files of pid %d: %w", p.PID, err)
	}
	return len(es), nil
}

// GoroutinePath is where net/http/pprof serves the goroutine profile as text:
// its first line is "goroutine profile: total N".
const GoroutinePath = "/debug/pprof/goroutine?debug=1"

// Goroutines asks the pprof endpoint at debugURL (http://host:port, no path) how
// many goroutines its process runs, through client.
func Goroutines(ctx context.Context, client *http.Client, debugURL string) (int, error) {
	u := debugURL + GoroutinePath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("goroutines: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("goroutines: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("goroutines: GET %s: %s", u, resp.Status)
	}
	n, err := ParseGoroutineTotal(resp.Body)
	// The rest of the profile (a stack per goroutine group) is read and dropped so
	// the connection ends cleanly.
	_, _ = io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, fmt.Errorf("goroutines: GET %s: %w", u, err)
	}
	return n, nil
}

// ParseGoroutineTotal reads N from the first line of a debug=1 goroutine
// profile, "goroutine profile: total N".
func ParseGoroutineTotal(r io.Reader) (int, error) {
	line, err := bufio.NewReaderSize(r, 256).ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("goroutine profile: total "))
	n, perr := strconv.Atoi(string(v))
	if !ok || perr != nil || n < 1 { // the process serving the profile runs at least the goroutine serving it
		return 0, fmt.Errorf("not a goroutine profile: first line %q", line)
	}
	return n, nil
}

// Sample is one reading of a process, At from the start of sampling.
type Sample struct {
	At         time.Duration
	RSS        int64 // bytes
	OpenFiles  int
	Goroutines int
}

// Sampler reads a process: from /proc, and from its pprof endpoint when DebugURL
// is set (Goroutines stays 0 without one).
type Sampler struct {
	Proc     Proc
	DebugURL string
	// Client asks the pprof endpoint; nil uses one that opens a new connection
	// each time, so that sampling keeps no connection (no fd, no goroutine) open
	// in the process it measures.
	Client *http.Client
}

// Sample reads the process once; at is recorded as the sample's time.
func (s Sampler) Sample(ctx context.Context, at time.Duration) (Sample, error) {
	out := Sample{At: at}
	var errs []error
	var err error
	if out.RSS, err = s.Proc.RSS(); err != nil {
		errs = append(errs, err)
	}
	if out.OpenFiles, err = s.Proc.OpenFiles(); err != nil {
		errs = append(errs, err)
	}
	if s.DebugURL != "" {
		if out.Goroutines, err = Goroutines(ctx, s.client(), s.DebugURL); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

func (s Sampler) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
}

// Run samples at once and then every interval until ctx is done, and returns the
// samples taken. A sample that fails is not kept; its error is returned with the
// others, joined, after ctx is done (a process that went away fails every one).
func (s Sampler) Run(ctx context.Context, every time.Duration) ([]Sample, error) {
	if every <= 0 {
		return nil, fmt.Errorf("sample every %v: must be above 0", every)
	}
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var (
		out  []Sample
		errs []error
	)
	for {
		x, err := s.Sample(ctx, time.Since(start))
		switch {
		case ctx.Err() != nil:
			return out, errors.Join(errs...) // cut short by the end, not a failure
		case err != nil:
			errs = append(errs, fmt.Errorf("at %v: %w", x.At.Round(time.Millisecond), err))
		default:
			out = append(out, x)
		}
		select {
		case <-ctx.Done():
			return out, errors.Join(errs...)
		case <-tick.C:
		}
	}
}

// Trend describes one quantity over a run: its first, last, least and greatest
// values over every sample, and its slope per minute fitted over the samples at
// or after the warm-up (a process grows its caches and pools at first).
type Trend struct {
	First, Last, Min, Max float64
	PerMin                float64 // least-squares slope after the warm-up, units per minute
	Fitted                int     // samples the slope was fitted over
}

// TrendOf is value's trend over samples (in time order). The slope is NaN when
// fewer than two samples, or two at one instant, come after warmUp.
func TrendOf(samples []Sample, warmUp time.Duration, value func(Sample) float64) Trend {
	t := Trend{First: math.NaN(), Last: math.NaN(), Min: math.NaN(), Max: math.NaN(), PerMin: math.NaN()}
	var xs, ys []float64
	for i, s := range samples {
		v := value(s)
		if i == 0 {
			t.First, t.Min, t.Max = v, v, v
		}
		t.Last, t.Min, t.Max = v, min(t.Min, v), max(t.Max, v)
		if s.At >= warmUp {
			xs, ys = append(xs, s.At.Minutes()), append(ys, v)
		}
	}
	t.Fitted = len(xs)
	if slope, err := Slope(xs, ys); err == nil {
		t.PerMin = slope
	}
	return t
}

// Slope is the least-squares slope of y against x: Σ(x−x̄)(y−ȳ) / Σ(x−x̄)².
// Centring first keeps it exact for large x (Unix times) where the textbook
// n·Σxy − Σx·Σy cancels catastrophically.
func Slope(xs, ys []float64) (float64, error) {
	if len(xs) != len(ys) {
		return 0, fmt.Errorf("slope: %d x values for %d y values", len(xs), len(ys))
	}
	if len(xs) < 2 {
		return 0, fmt.Errorf("slope: %d points; need at least 2", len(xs))
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var sxy, sxx float64
	for i := range xs {
		dx := xs[i] - mx
		sxy += dx * (ys[i] - my)
		sxx += dx * dx
	}
	if sxx == 0 {
		return 0, fmt.Errorf("slope: every x is %g; no line fits", xs[0])
	}
	return sxy / sxx, nil
}
