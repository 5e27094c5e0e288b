package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/servebench/servebench/bench/results"
)

// FuzzReport builds the report from any results file bytes, as Generate does but
// without the graphs: drawing them takes about half a second per report, which
// would leave the fuzzer a few executions a second, and they are drawn from the
// same grouping the tables are. What must hold: no panic; either an error that
// says "report:" and names the results file, with nothing written (not even the
// output directory), or the whole report: exactly the files it lists, none left
// half-written (no temporary file), every table's CSV well formed with its
// header's columns, the latency table accounting for every request and failure,
// and a page that fetches nothing from outside.
func FuzzReport(f *testing.F) {
	for _, s := range reportSeeds(f) {
		f.Add(s)
	}
	base := memDir(f)
	f.Fuzz(func(t *testing.T, data []byte) { checkReport(t, base, data) })
}

// checkReport is FuzzReport's property on one results file, built in a new
// directory under base.
func checkReport(t *testing.T, base string, data []byte) {
	dir, err := os.MkdirTemp(base, "")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "run.jsonl")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	b, err := build(path, Options{OutDir: out, Log: quiet}, quiet)
	if err != nil {
		if !strings.HasPrefix(err.Error(), "report: ") || !strings.Contains(err.Error(), path) {
			t.Fatalf("error %q: want one saying report: and naming %s", err, path)
		}
		if _, serr := os.Stat(out); !os.IsNotExist(serr) {
			t.Fatalf("error %v, but the output directory exists (%v)", err, serr)
		}
		return
	}
	if err := b.write(context.Background(), out, nil, nil); err != nil {
		t.Fatalf("a report that computed does not write: %v", err)
	}
	checkWritten(t, out, b)
}

// memDir is a directory for reports built many times: in memory where the
// machine has a tmpfs, as writeAtomic syncs every file and a disk's sync would
// take most of an execution's time.
func memDir(tb testing.TB) string {
	dir, err := os.MkdirTemp("/dev/shm", "servebench-report-fuzz-")
	if err != nil {
		return tb.TempDir()
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// reportSeeds are a results file as a run writes it, cut to a few records (one
// answered request of each scenario and side, a failure, a sample and a capacity
// line: inputs of a few kilobytes keep the fuzzer quick; TestReportFixture holds
// the whole fixture to the same properties) and the damage the issue names: a
// last line cut off, a line of garbage in the middle, no header, no request.
func reportSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	h, recs, samples := fixture()
	small := fixtureFile(tb, h, []results.Record{recs[0], recs[3], recs[6], recs[12], recs[16], recs[17]}, samples[:1], fixtureCapacities()[:1])
	lines := bytes.SplitAfter(small, []byte("\n"))
	// Names are the run's own, but a page must show any name as text.
	hostile := []results.Record{recs[0], recs[6]}
	hostile[0].Target, hostile[1].Function = `<script src="//x">|`+"\n", "a</td><iframe src=//x>"
	return [][]byte{
		small,
		fixtureFile(tb, h, hostile, nil, nil),
		small[:len(small)-40], // the last line cut off
		append(bytes.Clone(small), `{"kind":"request","scen`...),
		slices.Concat(lines[0], lines[1], []byte("{garbage\n"), bytes.Join(lines[2:], nil)),
		bytes.Join(lines[1:], nil), // no header
		lines[0],                   // no request
		{},
	}
}

// TestReportFixture holds the tests' whole fixture (every scenario, both sides,
// samples, capacities), and the fixture cut in its last line, to FuzzReport's
// properties: too big a seed for the fuzzer to spend its time on.
func TestReportFixture(t *testing.T) {
	h, recs, samples := fixture()
	full := fixtureFile(t, h, recs, samples, fixtureCapacities())
	base := memDir(t)
	checkReport(t, base, full)
	checkReport(t, base, full[:len(full)-20])
}

// fixtureFile is a results file of the fixture's parts, as writeResults writes it.
func fixtureFile(tb testing.TB, h results.Header, recs []results.Record, samples []results.Sample, caps []results.Capacity) []byte {
	tb.Helper()
	var extra []any
	for _, c := range caps {
		extra = append(extra, c)
	}
	b, err := os.ReadFile(writeResults(tb, tb.TempDir(), h, recs, samples, "", extra...))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// checkWritten checks the written report is whole and consistent.
func checkWritten(t *testing.T, out string, b *built) {
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := slices.Clone(b.sum.Files)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("output directory holds %q, the report lists %q", names, want)
	}
	for _, tb := range b.tables {
		for _, ext := range []string{".md", ".csv"} {
			if !slices.Contains(names, tb.Name+ext) {
				t.Fatalf("table %s has no %s file", tb.Name, ext)
			}
		}
		rows := readCSV(t, filepath.Join(out, tb.Name+".csv"))
		if len(rows) != len(tb.Rows) {
			t.Fatalf("%s.csv has %d rows, the table %d", tb.Name, len(rows), len(tb.Rows))
		}
	}
	var requests, failed int
	for _, r := range readCSV(t, filepath.Join(out, "latency.csv")) {
		if r["measure"] != Client {
			continue
		}
		n, err1 := strconv.Atoi(r["requests"])
		e, err2 := strconv.Atoi(r["errors"])
		if err1 != nil || err2 != nil {
			t.Fatalf("latency row %v: requests or errors not a count", r)
		}
		requests, failed = requests+n, failed+e
	}
	if requests != b.sum.Requests || failed != b.sum.Failed {
		t.Fatalf("latency table counts %d requests, %d failed; the file has %d, %d", requests, failed, b.sum.Requests, b.sum.Failed)
	}
	for _, name := range []string{"report.md", "index.html"} {
		if !slices.Contains(names, name) {
			t.Fatalf("no %s", name)
		}
	}
	// The page fetches nothing from outside. Names from the file may read like
	// markup (src=//x) but must stay text: escaped, they hold no '<' or '>', so
	// every tag is the code's own, and it is the tags that must fetch nothing.
	page, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	var tags []byte
	for rest := page; ; {
		i := bytes.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := bytes.IndexByte(rest[i:], '>')
		if j < 0 {
			t.Fatalf("index.html: unclosed tag %.40q", rest[i:])
		}
		tags = append(append(tags, rest[i:i+j+1]...), '\n')
		rest = rest[i+j+1:]
	}
	tagsFile := filepath.Join(filepath.Dir(out), "tags.html")
	if err := os.WriteFile(tagsFile, tags, 0o644); err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, tagsFile)
}
