package lambdafn_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/cloud/awsfake"
	"github.com/servebench/servebench/bench/results"
)

// Lines as Lambda writes them to CloudWatch Logs (text format): tab-separated,
// with a trailing tab and newline; Init Duration only on a cold start.
const (
	coldLine = "REPORT RequestId: 3f1c9a52-7d0e-4b6a-9f3e-0c2d1e4b5a61\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 3000 MB\tMax Memory Used: 140 MB\tInit Duration: 180.20 ms\t\n"
	warmLine = "REPORT RequestId: 8a7b6c5d-1e2f-4a3b-8c9d-0e1f2a3b4c5d\tDuration: 40.11 ms\tBilled Duration: 41 ms\tMemory Size: 3000 MB\tMax Memory Used: 141 MB\t\n"
	// With X-Ray tracing on, the trace line follows in the same event.
	xrayLine = "REPORT RequestId: 5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 3000 MB\tMax Memory Used: 142 MB\t\nXRAY TraceId: 1-5e1b4151-5ac6c58f5b5daa6532e4f2a8\tSegmentId: 6b6d2c2f4a5c8b1e\tSampled: true\t\n"
)

var (
	coldID = "3f1c9a52-7d0e-4b6a-9f3e-0c2d1e4b5a61"
	warmID = "8a7b6c5d-1e2f-4a3b-8c9d-0e1f2a3b4c5d"
	xrayID = "5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

type filterCall struct {
	LogGroupName  string `json:"logGroupName"`
	StartTime     int64  `json:"startTime"`
	EndTime       int64  `json:"endTime"`
	FilterPattern string `json:"filterPattern"`
	NextToken     string `json:"nextToken"`
}

func (e env) filterCalls(t *testing.T) []filterCall {
	t.Helper()
	var out []filterCall
	for _, c := range e.srv.Calls("logs") {
		if c.Operation != "FilterLogEvents" {
			t.Errorf("CloudWatch Logs operation %s", c.Operation)
			continue
		}
		var f filterCall
		if err := c.JSON(&f); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// Reports asks for REPORT lines of the window, follows every page, and parses
// each real-format line into the record's platform figures, by request id.
func TestCloudReports(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000})
	e.logs.PageSize = 2
	stream := "2026/12/01/[$LATEST]0123456789abcdef"
	e.logs.Put(logGroup,
		awsfake.LogEvent{Stream: stream, Time: at(-5), Message: "REPORT RequestId: before-the-window\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 3000 MB\tMax Memory Used: 100 MB\t\n"},
		awsfake.LogEvent{Stream: stream, Time: at(1), Message: "INIT_START Runtime Version: provided:al2023.v100\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:abc\n"},
		awsfake.LogEvent{Stream: stream, Time: at(1), Message: "START RequestId: " + coldID + " Version: $LATEST\n"},
		awsfake.LogEvent{Stream: stream, Time: at(2), Message: "END RequestId: " + coldID + "\n"},
		awsfake.LogEvent{Stream: stream, Time: at(2), Message: coldLine},
		awsfake.LogEvent{Stream: stream, Time: at(3), Message: warmLine},
		awsfake.LogEvent{Stream: stream, Time: at(4), Message: xrayLine},
		awsfake.LogEvent{Stream: stream, Time: at(5), Message: "REPORT RequestId: garbled\tDuration: ab ms\tBilled Duration: 1 ms\t\n"},
	)
	for i := range 3 {
		id := "page-filler-" + strconv.Itoa(i)
		e.logs.Put(logGroup, awsfake.LogEvent{Stream: stream, Time: at(6 + i), Message: "REPORT RequestId: " + id + "\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 3000 MB\tMax Memory Used: 143 MB\t\n"})
	}
	e.logs.Put(logGroup, awsfake.LogEvent{Stream: stream, Time: at(100), Message: "REPORT RequestId: after-the-window\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 3000 MB\tMax Memory Used: 100 MB\t\n"})

	got, err := e.fn.Reports(context.Background(), at(0), at(60))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]results.PlatformReport{
		coldID:          {DurationMS: 102.25, BilledMS: 103, InitMS: 180.20, MaxMemoryMB: 140},
		warmID:          {DurationMS: 40.11, BilledMS: 41, MaxMemoryMB: 141},
		xrayID:          {DurationMS: 12.50, BilledMS: 13, MaxMemoryMB: 142},
		"page-filler-0": {DurationMS: 5, BilledMS: 5, MaxMemoryMB: 143},
		"page-filler-1": {DurationMS: 5, BilledMS: 5, MaxMemoryMB: 143},
		"page-filler-2": {DurationMS: 5, BilledMS: 5, MaxMemoryMB: 143},
	}
	if !maps.Equal(got, want) {
		t.Errorf("reports\n %v\nwant\n %v", got, want)
	}
	// 7 REPORT lines in the window (the garbled one included) in pages of 2.
	calls := e.filterCalls(t)
	if len(calls) != 4 {
		t.Fatalf("%d FilterLogEvents calls, want 4 (pages of 2 of 7 events): %+v", len(calls), calls)
	}
	for i, c := range calls {
		if c.LogGroupName != logGroup || c.StartTime != at(0).UnixMilli() || c.EndTime != at(60).UnixMilli() || c.FilterPattern != `"REPORT RequestId"` {
			t.Errorf("call %d: %+v", i, c)
		}
		if (i == 0) != (c.NextToken == "") {
			t.Errorf("call %d: nextToken %q", i, c.NextToken)
		}
	}
}

// A log group that does not exist is an error naming it.
func TestCloudReportsNoLogGroup(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000})
	e.fn.LogGroup = "/aws/lambda/gone"
	if _, err := e.fn.Reports(context.Background(), at(0), at(60)); err == nil {
		t.Error("no log group: no error")
	}
}

// REPORT lines show up late: WaitReports searches again until every id has one,
// and stops there.
func TestCloudWaitReports(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000})
	e.logs.Put(logGroup,
		awsfake.LogEvent{Stream: "s", Time: at(1), Message: coldLine},
		awsfake.LogEvent{Stream: "s", Time: at(2), Message: warmLine, Delay: 1},
		awsfake.LogEvent{Stream: "s", Time: at(3), Message: xrayLine, Delay: 2},
	)
	// A deadline this far away is never reached when the code is right.
	found, missing, err := e.fn.WaitReports(context.Background(), at(0), at(60), []string{coldID, warmID, xrayID}, time.Now().Add(time.Minute))
	if err != nil || len(missing) != 0 {
		t.Fatalf("missing %v, err %v", missing, err)
	}
	if len(found) != 3 || found[warmID].BilledMS != 41 || found[xrayID].BilledMS != 13 {
		t.Errorf("found %v", found)
	}
	if n := e.logs.Searches(); n != 3 {
		t.Errorf("%d searches, want 3 (the last line shows at the third)", n)
	}
}

// Ids whose REPORT never shows are returned missing at the deadline, without an
// error, beside what was found (also REPORTs no id asked for).
func TestCloudWaitReportsMissing(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000})
	e.logs.Put(logGroup,
		awsfake.LogEvent{Stream: "s", Time: at(1), Message: coldLine},
		awsfake.LogEvent{Stream: "s", Time: at(2), Message: warmLine, Delay: 1},
	)
	ids := []string{coldID, "never-logged-1", "never-logged-2"}
	found, missing, err := e.fn.WaitReports(context.Background(), at(0), at(60), ids, time.Now().Add(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(missing, []string{"never-logged-1", "never-logged-2"}) {
		t.Errorf("missing %v", missing)
	}
	if _, ok := found[coldID]; !ok || len(found) != 2 {
		t.Errorf("found %v, want the asked-for one and the unasked late one", found)
	}
	if n := e.logs.Searches(); n < 2 {
		t.Errorf("%d searches: gave up before searching again", n)
	}
}

// The caller's own cancellation is an error (unlike the deadline), with the ids
// still missing.
func TestCloudWaitReportsCancelled(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000})
	e.logs.Put(logGroup, awsfake.LogEvent{Stream: "s", Time: at(1), Message: coldLine})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, missing, err := e.fn.WaitReports(ctx, at(0), at(60), []string{coldID, "never"}, time.Now().Add(time.Minute))
	if !errors.Is(err, context.Canceled) || !slices.Equal(missing, []string{coldID, "never"}) {
		t.Errorf("cancelled: missing %v err %v", missing, err)
	}
}
