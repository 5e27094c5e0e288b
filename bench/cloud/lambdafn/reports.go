package lambdafn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/servebench/servebench/bench/lambdaemu"
	"github.com/servebench/servebench/bench/results"
)

// reportPattern selects the REPORT lines Lambda writes after every invocation
// (a quoted phrase: CloudWatch Logs filter pattern syntax for unstructured events).
const reportPattern = `"REPORT RequestId"`

// Reports reads the REPORT lines the function's invocations wrote between start
// and end, keyed by Lambda request id. Lambda stamps a REPORT line when the
// invocation ends, so end should be at or after the last answer was received.
// Lines that are not REPORT lines in Lambda's text format are skipped (a
// function logging in JSON format writes platform.report records instead).
func (f *Function) Reports(ctx context.Context, start, end time.Time) (map[string]results.PlatformReport, error) {
	pages := cloudwatchlogs.NewFilterLogEventsPaginator(f.Logs, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  aws.String(f.LogGroup),
		StartTime:     aws.Int64(start.UnixMilli()),
		EndTime:       aws.Int64(end.UnixMilli()),
		FilterPattern: aws.String(reportPattern),
	})
	out := map[string]results.PlatformReport{}
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return out, fmt.Errorf("lambda %s: read REPORT lines from log group %s (needs logs:FilterLogEvents): %w", f.Name, f.LogGroup, err)
		}
		for _, e := range page.Events {
			// With X-Ray tracing on, a second line (XRAY TraceId ...) follows in
			// the same event.
			line, _, _ := strings.Cut(aws.ToString(e.Message), "\n")
			r, ok := lambdaemu.ParseLambdaReport(line)
			if !ok {
				continue
			}
			out[r.RequestID] = results.PlatformReport{
				DurationMS:  r.DurationMS,
				BilledMS:    r.BilledMS,
				InitMS:      r.InitMS,
				MaxMemoryMB: float64(r.MaxMemoryMB),
			}
		}
	}
	return out, nil
}

// WaitReports searches [start, end] until every id in ids has its REPORT line or
// the deadline passes: CloudWatch Logs shows events some seconds after they are
// written. It returns every REPORT found in the window (also of invocations no
// answer named, such as those whose answers were lost: they were billed too) and
// the ids still without one. A deadline passing is not an error: the caller
// records how many are missing and invents no figures for them.
func (f *Function) WaitReports(ctx context.Context, start, end time.Time, ids []string, deadline time.Time) (map[string]results.PlatformReport, []string, error) {
	found := map[string]results.PlatformReport{}
	wait, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for {
		got, err := f.Reports(wait, start, end)
		for id, r := range got {
			found[id] = r
		}
		missing := missingIDs(ids, found)
		switch {
		case len(missing) == 0:
			return found, nil, nil
		case ctx.Err() != nil:
			return found, missing, fmt.Errorf("lambda %s: waiting for REPORT lines: %w", f.Name, context.Cause(ctx))
		case wait.Err() != nil:
			f.log().Warn("lambda: REPORT lines missing at the deadline", "function", f.Name, "missing", len(missing), "asked", len(ids))
			return found, missing, nil
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			return found, missing, err
		}
		t := time.NewTimer(f.poll())
		select {
		case <-t.C:
		case <-wait.Done():
		}
		t.Stop()
	}
}

func missingIDs(ids []string, found map[string]results.PlatformReport) []string {
	var missing []string
	for _, id := range ids {
		if _, ok := found[id]; !ok {
			missing = append(missing, id)
		}
	}
	return missing
}
