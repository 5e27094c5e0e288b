package lambdaemu

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Report is the emulator's account of one invocation, as Lambda's REPORT log line.
type Report struct {
	RequestID  string
	DurationMS float64 // the invocation; on a cold start the emulator's includes the wait for init
	BilledMS   float64
	// Cold: an init ran before this invocation. InitMS is that init's duration
	// from the emulator's INIT REPORT: bootstrap start until it asked for its first
	// event. (The REPORT line's own "Init Duration" only times the emulator
	// handing the init over, well under a millisecond, and is not used.)
	Cold         bool
	InitMS       float64
	MemorySizeMB int
	// MaxMemoryMB is "Max Memory Used" as printed. This emulator prints the
	// configured memory size there, not a measurement.
	MaxMemoryMB int
}

// ParseReport reads one REPORT line of the emulator's standard output:
// "REPORT RequestId: ID\t[Init Duration: X ms\t]Duration: X ms\tBilled Duration: X
// ms\tMemory Size: N MB\tMax Memory Used: N MB\t". InitMS is left 0: the INIT
// REPORT line on standard error carries it (see Log).
func ParseReport(line string) (Report, bool) {
	r, _, ok := parseReport(line)
	return r, ok
}

// ParseLambdaReport reads a REPORT line as Lambda itself writes it to CloudWatch
// Logs, where "Init Duration" is the init's own duration: InitMS is set from it.
func ParseLambdaReport(line string) (Report, bool) {
	r, initMS, ok := parseReport(line)
	r.InitMS = initMS
	return r, ok
}

// parseReport reads a REPORT line; initMS is its "Init Duration".
func parseReport(line string) (r Report, initMS float64, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "REPORT RequestId: ")
	if !ok {
		return Report{}, 0, false
	}
	fields := strings.Split(rest, "\t")
	r = Report{RequestID: strings.TrimSpace(fields[0])}
	var seen int
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, ": ")
		if !ok {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(v), " ")
		x, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return Report{}, 0, false
		}
		switch {
		case k == "Init Duration" && unit == "ms":
			r.Cold, initMS = true, x
		case k == "Duration" && unit == "ms":
			r.DurationMS, seen = x, seen|1
		case k == "Billed Duration" && unit == "ms":
			r.BilledMS, seen = x, seen|2
		case k == "Memory Size" && unit == "MB":
			r.MemorySizeMB = int(x)
		case k == "Max Memory Used" && unit == "MB":
			r.MaxMemoryMB = int(x)
		}
	}
	return r, initMS, r.RequestID != "" && seen == 3
}

var (
	initReportRE  = regexp.MustCompile(`\(rapid\) INIT REPORT\(durationMs: ([0-9.]+)`)
	invokeStartRE = regexp.MustCompile(`\(rapid\) INVOKE START\(requestId: ([^)\s]+)\)`)
)

// Log reads an emulator's standard output and error as they are written (pass
// its writers as the process's Stdout and Stderr) and keeps the Report of every
// invocation, joined by request id. An INIT REPORT joins the invocation that
// starts right after it: the emulator runs the init on the first invoke and serves
// one invocation at a time.
type Log struct {
	mu      sync.Mutex
	reports map[string]Report
	inits   map[string]float64 // request id → init duration, for cold invocations
	initMS  *float64           // an init reported and not yet joined
	changed chan struct{}      // closed and replaced at every new fact
	stdout  lineWriter
	stderr  lineWriter
}

// NewLog returns a Log whose writers also copy everything to w (the instance's
// log file), which may be nil.
func NewLog(w io.Writer) *Log {
	if w == nil {
		w = io.Discard
	}
	l := &Log{reports: map[string]Report{}, inits: map[string]float64{}, changed: make(chan struct{})}
	l.stdout = lineWriter{w: w, line: l.stdoutLine}
	l.stderr = lineWriter{w: w, line: l.stderrLine}
	return l
}

// Stdout is the writer for the emulator's standard output (REPORT lines and the
// function's own output).
func (l *Log) Stdout() io.Writer { return &l.stdout }

// Stderr is the writer for the emulator's standard error (its own log, with the
// INIT REPORT lines).
func (l *Log) Stderr() io.Writer { return &l.stderr }

func (l *Log) stdoutLine(s string) {
	r, ok := ParseReport(s)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reports[r.RequestID] = r
	l.notify()
}

func (l *Log) stderrLine(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := initReportRE.FindStringSubmatch(s); m != nil {
		if x, err := strconv.ParseFloat(m[1], 64); err == nil {
			l.initMS = &x
		}
		return
	}
	if m := invokeStartRE.FindStringSubmatch(s); m != nil && l.initMS != nil {
		l.inits[m[1]] = *l.initMS
		l.initMS = nil
		l.notify()
	}
}

func (l *Log) notify() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// Report waits for the REPORT of the invocation id (the emulator prints it just
// before it answers, but the output is read concurrently) and, for a cold one, for
// its init duration, until ctx ends. A Report is handed out once and forgotten.
func (l *Log) Report(ctx context.Context, id string) (Report, error) {
	for {
		l.mu.Lock()
		r, ok := l.reports[id]
		init, hasInit := l.inits[id]
		if ok && (!r.Cold || hasInit) {
			r.InitMS = init
			delete(l.reports, id)
			delete(l.inits, id)
			l.mu.Unlock()
			return r, nil
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return Report{}, fmt.Errorf("REPORT of request %s: %w", id, context.Cause(ctx))
		}
	}
}

// lineWriter copies to w and hands every complete line to line.
type lineWriter struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	line func(string)
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.buf = append(lw.buf, p...)
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 {
			break
		}
		lw.line(string(lw.buf[:i]))
		lw.buf = lw.buf[i+1:]
	}
	// A runaway line without a newline is not kept whole.
	if len(lw.buf) > 1<<20 {
		lw.buf = lw.buf[:0]
	}
	return lw.w.Write(p)
}
