package results

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestWriterLinesArriveAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	started := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	w, err := Create(path, Header{Started: started, Targets: map[string]string{"serverless": "http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	cold := true
	if err := w.Record(Record{Scenario: "batches", Target: "serverless", Seq: 0, Status: 200, Cold: &cold, ClientMS: 12.5}); err != nil {
		t.Fatal(err)
	}
	// Read before Close: the line must already be in the file.
	lines := readLines(t, path)
	if len(lines) != 2 {
		t.Fatalf("before close: %d lines, want header + 1 record", len(lines))
	}
	if lines[0]["kind"] != "header" || lines[0]["started"] != "2026-11-23T10:00:00Z" {
		t.Errorf("header line = %v", lines[0])
	}
	if lines[1]["kind"] != "request" || lines[1]["cold"] != true || lines[1]["client_ms"] != 12.5 {
		t.Errorf("record line = %v", lines[1])
	}
	if err := w.Sample(Sample{Target: "serverless", Metric: "instances", Value: 3}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines = readLines(t, path)
	if len(lines) != 3 || lines[2]["kind"] != "sample" || lines[2]["value"] != 3.0 {
		t.Fatalf("after close: %v", lines)
	}
}

func TestWriterConcurrentRecordsAllKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	w, err := Create(path, Header{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Record(Record{Seq: i, Status: 200, Error: "long error text to make lines big enough to interleave if writes were split"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := w.Records(); got != n {
		t.Errorf("Records() = %d, want %d", got, n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)[1:]
	var seqs []int
	for _, l := range lines {
		seqs = append(seqs, int(l["seq"].(float64)))
	}
	sort.Ints(seqs)
	if len(seqs) != n {
		t.Fatalf("%d records in file, want %d", len(seqs), n)
	}
	for i, s := range seqs {
		if s != i {
			t.Fatalf("seq %d missing or duplicated (got %d at %d)", i, s, i)
		}
	}
}

func TestCreateRefusesExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if err := os.WriteFile(path, []byte("earlier run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(path, Header{}); err == nil {
		t.Fatal("Create overwrote an existing results file")
	}
	b, _ := os.ReadFile(path)
	if string(b) != "earlier run\n" {
		t.Errorf("existing file changed to %q", b)
	}
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %q", len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}
