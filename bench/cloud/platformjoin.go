package cloud

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/servebench/servebench/bench/results"
)

// Sample metrics that count, per Lambda target, the requests whose REPORT line
// was found and those without one.
const (
	MetricReportsJoined  = "platform_reports_joined"
	MetricReportsMissing = "platform_reports_missing"
)

type joinCount struct{ joined, missing int }

// requestLine is the part of a request record the join reads. request_id is the
// Lambda request id the service answers with (results.Record's RequestID).
type requestLine struct {
	Kind      string                  `json:"kind"`
	Target    string                  `json:"target"`
	RequestID string                  `json:"request_id"`
	Start     time.Time               `json:"start"`
	ClientMS  float64                 `json:"client_ms"`
	Platform  *results.PlatformReport `json:"platform_report"`
}

// joinReports gives every Lambda request in the results file at path its REPORT
// figures, in the same platform_report field the local emulator fills: it asks
// fn for the REPORT lines of the records' request ids and rewrites the file
// atomically (a temporary file renamed over it), every other line byte for
// byte, then appends a count of joined and missing reports per target as
// samples. Records are written as requests complete, before Lambda's log has
// the line, hence the rewrite at the end rather than a field filled at once.
func joinReports(ctx context.Context, path string, isLambda func(target string) bool, fn Function, wait time.Duration) (map[string]joinCount, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	lines := bytes.SplitAfter(raw, []byte("\n"))
	parsed := make([]*requestLine, len(lines))
	var ids []string
	var start, end time.Time
	for i, l := range lines {
		var r requestLine
		if len(bytes.TrimSpace(l)) == 0 || json.Unmarshal(l, &r) != nil || r.Kind != "request" || !isLambda(r.Target) || r.RequestID == "" {
			continue
		}
		parsed[i] = &r
		ids = append(ids, r.RequestID)
		if start.IsZero() || r.Start.Before(start) {
			start = r.Start
		}
		if e := r.Start.Add(time.Duration(r.ClientMS * float64(time.Millisecond))); e.After(end) {
			end = e
		}
	}
	counts := map[string]joinCount{}
	if len(ids) == 0 {
		return counts, nil
	}
	reports, _, err := fn.WaitReports(ctx, start.Add(-time.Minute), end.Add(time.Minute), ids, time.Now().Add(wait))
	if err != nil {
		return nil, fmt.Errorf("REPORT lines: %w", err)
	}
	var out bytes.Buffer
	for i, l := range lines {
		r := parsed[i]
		if r == nil {
			out.Write(l)
			continue
		}
		c := counts[r.Target]
		rep, ok := reports[r.RequestID]
		switch {
		case !ok:
			c.missing++
			out.Write(l)
		case r.Platform != nil:
			c.joined++
			out.Write(l) // already has the figures
		default:
			c.joined++
			var m map[string]json.RawMessage
			if err := json.Unmarshal(l, &m); err != nil {
				return nil, fmt.Errorf("results line %d: %w", i+1, err)
			}
			b, _ := json.Marshal(rep)
			m["platform_report"] = b
			nb, err := json.Marshal(m)
			if err != nil {
				return nil, fmt.Errorf("results line %d: %w", i+1, err)
			}
			out.Write(append(nb, '\n'))
		}
		counts[r.Target] = c
	}
	now := time.Now().UTC()
	for _, t := range sortedKeys(counts) {
		for _, s := range []results.Sample{
			{Kind: "sample", Target: t, Metric: MetricReportsJoined, Time: now, Value: float64(counts[t].joined)},
			{Kind: "sample", Target: t, Metric: MetricReportsMissing, Time: now, Value: float64(counts[t].missing)},
		} {
			b, _ := json.Marshal(s)
			out.Write(append(b, '\n'))
		}
	}
	if err := replaceFile(path, out.Bytes()); err != nil {
		return nil, err
	}
	return counts, nil
}

// replaceFile writes data to path through a temporary file renamed over it, so a
// crash leaves either the old file or the new one.
func replaceFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	bw := bufio.NewWriter(f)
	if _, err := bw.Write(data); err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("results: rewrite with platform figures: %w", err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
