package results

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	headLine = `{"kind":"header","started":"2026-01-02T03:04:05Z","command":["servebench","local"],"config":{"memory_mb":3000},"versions":{"go":"go1.26"},"machine":{"hostname":"h","os":"linux","arch":"amd64","cpus":2},"targets":{"serverful":"http://127.0.0.1:1"},"scenarios":["batches"]}`
	recLine  = `{"kind":"request","scenario":"batches","target":"serverful","function":"predict","group":"1","batch":1,"seq":0,"image":"images/dog.jpg","intended":"2026-01-02T03:04:06Z","start":"2026-01-02T03:04:06Z","client_ms":123.5,"status":200,"cold":true,"instance":"i-1","server_ms":100.25,"timings_ms":{"inference":80,"total":100.25}}`
	failLine = `{"kind":"request","scenario":"batches","target":"serverful","function":"predict","group":"1","batch":1,"seq":1,"intended":"2026-01-02T03:04:06Z","start":"2026-01-02T03:04:06Z","client_ms":30000,"status":0,"error":"timeout"}`
	sampLine = `{"kind":"sample","target":"serverful","metric":"instances","time":"2026-01-02T03:04:07Z","value":2}`
)

func TestReadAllKinds(t *testing.T) {
	in := strings.Join([]string{headLine, recLine, "", sampLine, failLine}, "\n") + "\n"
	f, err := Read(strings.NewReader(in))
	h, recs, samples := f.Header, f.Records, f.Samples
	if err != nil {
		t.Fatal(err)
	}
	if h.Machine.CPUs != 2 || h.Config["memory_mb"] != float64(3000) || h.Targets["serverful"] == "" {
		t.Errorf("header = %+v", h)
	}
	if len(recs) != 2 || len(samples) != 1 {
		t.Fatalf("got %d records, %d samples; want 2, 1", len(recs), len(samples))
	}
	r := recs[0]
	if r.ClientMS != 123.5 || r.ServerMS != 100.25 || r.Cold == nil || !*r.Cold || r.TimingsMS["inference"] != 80 || !r.OK() {
		t.Errorf("record = %+v", r)
	}
	if recs[1].OK() || recs[1].Error != "timeout" {
		t.Errorf("failed record = %+v", recs[1])
	}
	if samples[0].Value != 2 || samples[0].Metric != "instances" {
		t.Errorf("sample = %+v", samples[0])
	}
}

func TestReadTruncatedLastLine(t *testing.T) {
	in := headLine + "\n" + recLine + "\n" + recLine[:57] // the writer died mid-line
	f, err := Read(strings.NewReader(in))
	recs := f.Records
	var trunc *TruncatedError
	if !errors.As(err, &trunc) {
		t.Fatalf("err = %v, want *TruncatedError", err)
	}
	if trunc.Line != 3 || trunc.Bytes != 57 {
		t.Errorf("truncated at line %d (%d bytes), want line 3 (57 bytes)", trunc.Line, trunc.Bytes)
	}
	if len(recs) != 1 || recs[0].ClientMS != 123.5 {
		t.Errorf("records before the cut: %+v", recs)
	}

	// The same through ReadFile: the wrapping keeps the type.
	path := filepath.Join(t.TempDir(), "run.jsonl")
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := ReadFile(path); !errors.As(err, &trunc) || len(f.Records) != 1 {
		t.Errorf("ReadFile: %d records, err %v", len(recs), err)
	}
}

func TestReadCompleteLastLineWithoutNewline(t *testing.T) {
	f, err := Read(strings.NewReader(headLine + "\n" + recLine))
	recs := f.Records
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records, err %v", len(recs), err)
	}
}

func TestReadRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":              "",
		"no header":          recLine + "\n",
		"bad middle line":    headLine + "\n{not json\n" + recLine + "\n",
		"bad terminated end": headLine + "\n" + recLine[:40] + "\n",
		"unknown kind":       headLine + "\n" + `{"kind":"bogus"}` + "\n",
		"second header":      headLine + "\n" + headLine + "\n",
		"truncated header":   headLine[:30],
	} {
		f, err := Read(strings.NewReader(in))
		recs := f.Records
		var trunc *TruncatedError
		if err == nil || errors.As(err, &trunc) {
			t.Errorf("%s: err = %v, want a hard error", name, err)
		}
		if recs != nil {
			t.Errorf("%s: returned %d records with a hard error", name, len(recs))
		}
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.jsonl")); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("missing file: %v", err)
	}
}
