package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzReadResults feeds Read any bytes. What must hold:
//   - no panic;
//   - a hard error returns nothing but the header and names the line at fault
//     (the lines before it read cleanly, and the file cut after it fails the
//     same way), or says there is no header when no line holds anything;
//   - a *TruncatedError is only for an unterminated last line that is not valid
//     JSON (a cut-off line), names that line and its length, and comes with
//     exactly what the file before that line reads to;
//   - whatever reads, written again through Writer, reads back to the same File.
func FuzzReadResults(f *testing.F) {
	for _, s := range resultsSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(checkRead)
}

// TestReadHugeLine holds lines longer than Read's 64 KiB buffer to FuzzReadResults'
// properties. They are no fuzz seeds: Read's own code is the same at any line
// length, and the fuzzer would spend its time minimizing 100 KiB inputs.
func TestReadHugeLine(t *testing.T) {
	huge := writtenFile(t, strings.Repeat("connection reset by peer; ", 4000))
	for _, data := range [][]byte{huge, huge[:len(huge)-1], huge[:len(huge)-5000]} {
		checkRead(t, data)
	}
	if f, err := Read(bytes.NewReader(huge)); err != nil || len(f.Records) != 2 || len(f.Records[1].Error) != 26*4000 {
		t.Errorf("huge line: %d records, err %v", len(f.Records), err)
	}
}

// checkRead is FuzzReadResults' property on one input.
func checkRead(t *testing.T, data []byte) {
	file, err := Read(bytes.NewReader(data))
	var trunc *TruncatedError
	switch {
	case errors.As(err, &trunc):
		checkTruncated(t, data, file, trunc)
		checkRewrite(t, file)
	case err != nil:
		checkHardError(t, data, file, err)
	default:
		checkRewrite(t, file)
	}
}

// resultsSeeds are files the Writer produces, with every kind of line, and the
// ways such a file gets damaged: cut in its last line, a line of garbage or of
// the wrong shape in the middle, no header. (A line longer than Read's buffer is
// TestReadHugeLine's.)
func resultsSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	full := writtenFile(tb, "")
	lines := bytes.SplitAfter(full, []byte("\n"))
	head, last := lines[0], lines[len(lines)-2] // the final element is the empty rest after the last newline
	withLine := func(i int, line string) []byte {
		out := bytes.Join(lines[:i], nil)
		out = append(out, line...)
		return append(out, bytes.Join(lines[i:], nil)...)
	}
	return [][]byte{
		full,
		full[:len(full)-1],                   // a complete last line without its newline
		full[:len(full)-len(last)/2],         // cut mid-line: the writer was killed
		bytes.Join(lines[1:], nil),           // no header
		head[:len(head)/2],                   // the header itself cut
		withLine(2, "{oops\n"),               // garbage in the middle
		withLine(2, "\n  \r\n"),              // blank lines are skipped
		withLine(2, `{"kind":"bogus"}`+"\n"), // an unknown kind
		withLine(2, `{"kind":"request","seq":"x"}`+"\n"), // a field of the wrong type
		withLine(2, string(head)),                        // a second header
		append(bytes.Clone(full), `{"kind":"bogus"}`...), // a complete but wrong last line, unterminated
		append(bytes.Clone(full), `{"kind":"request","batch":1e3}`...),
		bytes.ReplaceAll(full, []byte("\n"), []byte("\r\n")),
		{},
		[]byte("\n\n"),
		[]byte("null\n"),
		[]byte(`{"kind":"header","started":"0000-01-01T00:00:00+23:59"}` + "\n"),
	}
}

// writtenFile is a results file as the Writer writes it: a header with every
// field, an answered request, a failed one (its error errText when given), a
// sample and a capacity line.
func writtenFile(tb testing.TB, errText string) []byte {
	tb.Helper()
	at := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)
	if errText == "" {
		errText = "timeout"
	}
	cold := true
	var b bytes.Buffer
	w, err := NewWriter(&b, Header{
		Started: at, Command: []string{"servebench", "local", "-scenarios", "batches,rate"},
		Config:   map[string]any{"memory_mb": 3000.0, "images": []any{"dog.jpg"}, "nested": map[string]any{"x": nil}},
		Versions: map[string]string{"go": "go1.26"}, Machine: Machine{Hostname: "h", OS: "linux", Arch: "amd64", CPUs: 2, MemoryMB: 7900},
		Targets:     map[string]string{"serverful": "http://127.0.0.1:18080", "serverless": "http://127.0.0.1:18081"},
		Scenarios:   []string{"batches", "rate"},
		Deployments: map[string]Deployment{"serverless": {Platform: "lambda", Endpoint: "http://127.0.0.1:18081", MemoryMB: 3000, Functions: map[string]string{"/predict": "http://x"}}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(w.Record(Record{Scenario: "batches", Target: "serverless", Function: "predict", Group: "1", Batch: 1, Seq: 0, Image: "images/dog.jpg",
		Intended: at, Start: at.Add(time.Millisecond), ClientMS: 1234.5, Status: 200, Cold: &cold, Instance: "i-1", Platform: "lambda",
		MemoryMB: 3000, ServerMS: 1100.25, TimingsMS: map[string]float64{"init": 800, "inference": 250.5, "total": 1100.25},
		RequestID: "0b1c", Backend: "onnxruntime", Threads: 2, Codec: "turbojpeg",
		PlatformReport: &PlatformReport{DurationMS: 292.98, BilledMS: 293, InitMS: 11.93, MaxMemoryMB: 117.25}}))
	must(w.Record(Record{Scenario: "rate", Target: "serverful", Function: "predict", Group: "4/s", Batch: 1, Seq: 1,
		Intended: at, Start: at, ClientMS: 30000, Error: errText}))
	must(w.Sample(Sample{Target: "serverful", Metric: MetricInstances, Time: at, Value: 2}))
	must(w.Capacity(Capacity{Scenario: "rate", Target: "serverful", Function: "predict", Scaling: ScalingHeld, Instances: 1,
		RatePerS: 37.5, MissedPerS: 40, LimitedBy: LimitedObjective, Percentile: 99, ObjectiveMS: 1000, MaxErrors: 0.01, StepS: 5}))
	return b.Bytes()
}

// lineEnd is the offset just past line n (1-based) of data, its newline included;
// len(data) when the file has no more lines.
func lineEnd(data []byte, n int) int {
	end := 0
	for range n {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			return len(data)
		}
		end += i + 1
	}
	return end
}

var lineRE = regexp.MustCompile(`^results: line (\d+): `)

func checkHardError(t *testing.T, data []byte, file File, err error) {
	if file.Records != nil || file.Samples != nil || file.Capacities != nil {
		t.Fatalf("hard error %v returned lines beyond the header: %d records, %d samples, %d capacities",
			err, len(file.Records), len(file.Samples), len(file.Capacities))
	}
	m := lineRE.FindStringSubmatch(err.Error())
	if m == nil {
		// The one error that names no line: nothing to read at all.
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				t.Fatalf("error %q names no line, but the input has one", err)
			}
		}
		return
	}
	n, _ := strconv.Atoi(m[1])
	if n < 1 || n > bytes.Count(data, []byte("\n"))+1 {
		t.Fatalf("error %q names line %d of a %d-line input", err, n, bytes.Count(data, []byte("\n"))+1)
	}
	// The line named is the one at fault: the lines before it fail on no line
	// (they may hold no header yet, which names none), and the file cut after
	// it fails the same way.
	if _, berr := Read(bytes.NewReader(data[:lineEnd(data, n-1)])); berr != nil && lineRE.MatchString(berr.Error()) {
		t.Fatalf("error %q, but the lines before line %d fail already: %v", err, n, berr)
	}
	if _, cerr := Read(bytes.NewReader(data[:lineEnd(data, n)])); cerr == nil || cerr.Error() != err.Error() {
		t.Fatalf("error %q, but the file cut after line %d reads with %v", err, n, cerr)
	}
}

func checkTruncated(t *testing.T, data []byte, file File, trunc *TruncatedError) {
	cut := bytes.LastIndexByte(data, '\n') + 1
	head, tail := data[:cut], data[cut:]
	if len(bytes.TrimSpace(tail)) == 0 || json.Valid(bytes.TrimSpace(tail)) {
		t.Fatalf("*TruncatedError %v for a last line %q that is not cut off", trunc, tail)
	}
	if want := bytes.Count(head, []byte("\n")) + 1; trunc.Line != want || trunc.Bytes != len(tail) {
		t.Fatalf("*TruncatedError at line %d (%d bytes), want line %d (%d bytes)", trunc.Line, trunc.Bytes, want, len(tail))
	}
	before, err := Read(bytes.NewReader(head))
	if err != nil {
		t.Fatalf("*TruncatedError %v, but the file before the cut line does not read: %v", trunc, err)
	}
	if a, b := encodeFile(t, before), encodeFile(t, file); !bytes.Equal(a, b) {
		t.Fatalf("with the cut line skipped Read returned\n%s\nbut the lines before it read to\n%s", b, a)
	}
}

// checkRewrite writes file through Writer and reads it back: the same File.
func checkRewrite(t *testing.T, file File) {
	var b bytes.Buffer
	w, err := NewWriter(&b, file.Header)
	if err != nil {
		t.Fatalf("a header that read does not write: %v", err)
	}
	for _, r := range file.Records {
		if err := w.Record(r); err != nil {
			t.Fatalf("a record that read does not write: %v", err)
		}
	}
	for _, s := range file.Samples {
		if err := w.Sample(s); err != nil {
			t.Fatalf("a sample that read does not write: %v", err)
		}
	}
	for _, c := range file.Capacities {
		if err := w.Capacity(c); err != nil {
			t.Fatalf("a capacity that read does not write: %v", err)
		}
	}
	again, err := Read(&b)
	if err != nil {
		t.Fatalf("rewritten file does not read: %v\n%s", err, b.Bytes())
	}
	if x, y := encodeFile(t, file), encodeFile(t, again); !bytes.Equal(x, y) {
		t.Fatalf("read\n%s\nrewritten and read again\n%s", x, y)
	}
}

// encodeFile is f as JSON: the comparable form of a File. Reflect-equality would
// tell apart what the file cannot (an empty map that omitempty drops, two
// *time.Location values of the same offset).
func encodeFile(t *testing.T, f File) []byte {
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatalf("encode %+v: %v", f, err)
	}
	return b
}

// FuzzParsePlatformHeader feeds ParsePlatformHeader any header value (it comes
// over HTTP from a front door). What must hold: no panic; an error names the
// header; a blank value is no report; whatever parses gave each figure once,
// finite and not negative, and writes back through Header() to a value that
// parses to the same report.
func FuzzParsePlatformHeader(f *testing.F) {
	for _, p := range []PlatformReport{
		{DurationMS: 292.98, BilledMS: 293, InitMS: 11.93, MaxMemoryMB: 117.25},
		{DurationMS: 51.53, BilledMS: 52},
		{DurationMS: 0, BilledMS: 1},
	} {
		f.Add(p.Header())
	}
	for _, s := range []string{"", " ", "duration_ms=1", "duration_ms=1, billed_ms=x", "duration_ms=1, billed_ms=2, cpu_ms=3",
		"duration_ms", "duration_ms=NaN, billed_ms=1", "duration_ms=-1, billed_ms=1, init_ms=-5", "duration_ms=1e400, billed_ms=1",
		"duration_ms=1, billed_ms=2, billed_ms=3", "duration_ms=0x1p-2, billed_ms=1_0", ",,", "duration_ms=1,billed_ms=2,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p, err := ParsePlatformHeader(v)
		switch {
		case err != nil:
			if p != nil || !strings.Contains(err.Error(), PlatformHeader) {
				t.Fatalf("%q: %+v with error %q, want no report and an error naming %s", v, p, err, PlatformHeader)
			}
			return
		case p == nil:
			if strings.TrimSpace(v) != "" {
				t.Fatalf("%q: no report and no error", v)
			}
			return
		}
		for name, x := range map[string]float64{"duration_ms": p.DurationMS, "billed_ms": p.BilledMS, "init_ms": p.InitMS, "max_memory_mb": p.MaxMemoryMB} {
			if !(x >= 0) || math.IsInf(x, 1) {
				t.Fatalf("%q: %s = %v", v, name, x)
			}
		}
		// Every figure given is kept: no name was given twice.
		seen := map[string]bool{}
		for _, part := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if seen[name] {
				t.Fatalf("%q: %s given twice, parsed as %+v", v, name, *p)
			}
			seen[name] = true
		}
		again, err := ParsePlatformHeader(p.Header())
		if err != nil || again == nil || *again != *p {
			t.Fatalf("%q → %+v → %q → %+v, %v", v, *p, p.Header(), again, err)
		}
	})
}
