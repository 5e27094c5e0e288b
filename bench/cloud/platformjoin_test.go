package cloud

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/servebench/servebench/bench/cloud/awsfake"
	"github.com/servebench/servebench/bench/cloud/lambdafn"
	"github.com/servebench/servebench/bench/results"
)

// The join through the real lambdafn on the CloudWatch Logs fake, with REPORT
// lines as Lambda writes them: each Lambda request of the results file gets its
// figures in platform_report, a request without a REPORT line is counted
// missing, every other line stays byte for byte, and the file still reads.
func TestCloudJoinReportsFromLogs(t *testing.T) {
	srv := awsfake.New(t)
	logs := awsfake.NewLogs()
	logs.Install(srv)
	const group = "/aws/lambda/servebench-serverless-service"
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	logs.Put(group,
		awsfake.LogEvent{Stream: "s", Time: start.Add(time.Second), Message: "REPORT RequestId: id-cold\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 3000 MB\tMax Memory Used: 140 MB\tInit Duration: 180.20 ms\t\n"},
		awsfake.LogEvent{Stream: "s", Time: start.Add(2 * time.Second), Message: "REPORT RequestId: id-warm\tDuration: 40.11 ms\tBilled Duration: 41 ms\tMemory Size: 1024 MB\tMax Memory Used: 141 MB\t\n", Delay: 1},
	)
	fn := &lambdafn.Function{Name: "servebench-serverless-service", LogGroup: group,
		Lambda: lambda.NewFromConfig(srv.Config()), Logs: cloudwatchlogs.NewFromConfig(srv.Config()), Poll: time.Millisecond}

	path := filepath.Join(t.TempDir(), ResultsFile)
	w, err := results.Create(path, results.Header{Started: start})
	if err != nil {
		t.Fatal(err)
	}
	local := &results.PlatformReport{DurationMS: 1, BilledMS: 1}
	for i, r := range []results.Record{
		{Target: "serverless", Group: "cold", RequestID: "id-cold", Start: start, Status: 200},
		{Target: "serverless@1024", Group: "warm", RequestID: "id-warm", Start: start.Add(time.Second), Status: 200},
		{Target: "serverless", Group: "warm", RequestID: "id-lost", Start: start.Add(time.Second), Status: 200},
		{Target: "serverful", Group: "cold", Start: start, Status: 200},
		{Target: "serverless", Group: "warm", RequestID: "", Status: 429},
		{Target: "serverful", Group: "warm", RequestID: "id-cold", PlatformReport: local, Status: 200}, // not a Lambda target
	} {
		r.Seq = i
		if err := w.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Sample(results.Sample{Target: "serverful", Metric: "instances", Time: start, Value: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	isLambda := lambdaTargets(deployed{deployments: map[string]results.Deployment{"serverless": {Platform: "lambda"}, "serverful": {Platform: "ecs"}}})
	counts, err := joinReports(context.Background(), path, isLambda, fn, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c := counts["serverless"]; c.joined != 1 || c.missing != 1 {
		t.Errorf("serverless: %+v, want 1 joined, 1 missing (id-lost)", c)
	}
	if c := counts["serverless@1024"]; c.joined != 1 || c.missing != 0 {
		t.Errorf("serverless@1024: %+v, want 1 joined", c)
	}
	if _, ok := counts["serverful"]; ok {
		t.Error("serverful counted: it is no Lambda target")
	}

	f, err := results.ReadFile(path)
	h, recs, samples := f.Header, f.Records, f.Samples
	if err != nil {
		t.Fatal(err)
	}
	if !h.Started.Equal(start) || len(recs) != 6 {
		t.Fatalf("header %v, %d records", h.Started, len(recs))
	}
	want := map[string]*results.PlatformReport{
		"id-cold": {DurationMS: 102.25, BilledMS: 103, InitMS: 180.2, MaxMemoryMB: 140},
		"id-warm": {DurationMS: 40.11, BilledMS: 41, MaxMemoryMB: 141},
	}
	for _, r := range recs[:3] {
		got, w := r.PlatformReport, want[r.RequestID]
		if (got == nil) != (w == nil) || (got != nil && *got != *w) {
			t.Errorf("%s: platform_report %+v, want %+v", r.RequestID, got, w)
		}
	}
	if recs[3].PlatformReport != nil || *recs[5].PlatformReport != *local {
		t.Errorf("non-Lambda records changed: %+v, %+v", recs[3].PlatformReport, recs[5].PlatformReport)
	}
	metrics := map[string]float64{}
	for _, s := range samples {
		metrics[s.Target+" "+s.Metric] = s.Value
	}
	if metrics["serverless "+MetricReportsMissing] != 1 || metrics["serverless@1024 "+MetricReportsJoined] != 1 || metrics["serverful instances"] != 1 {
		t.Errorf("samples %v", metrics)
	}
	// Lines the join does not touch stay as they were.
	after, _ := os.ReadFile(path)
	for i, line := range bytes.SplitAfter(before, []byte("\n")) {
		if i == 1 || i == 2 || len(line) == 0 {
			continue // the joined two
		}
		if !bytes.Contains(after, line) {
			t.Errorf("line %d changed or lost: %s", i+1, line)
		}
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Error("the temporary file is left behind")
	}
	// The log search named the function's group.
	calls := srv.Calls("logs")
	if len(calls) == 0 || !strings.Contains(string(calls[0].Body), group) {
		t.Errorf("FilterLogEvents calls %v", srv.Operations("logs"))
	}
}
