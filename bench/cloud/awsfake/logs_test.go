package awsfake_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/servebench/servebench/bench/cloud/awsfake"
)

// DescribeLogGroups lists the groups under a prefix, in name order, in pages.
func TestCloudFakeLogsDescribeLogGroups(t *testing.T) {
	srv := awsfake.New(t)
	l := awsfake.NewLogs()
	l.PageSize = 2
	for _, g := range []string{"/aws/lambda/servebench-c", "/aws/lambda/other", "/aws/lambda/servebench-a", "/ecs/servebench-b", "/aws/lambda/servebench-b"} {
		l.AddGroup(g)
	}
	l.Install(srv)
	pages := cloudwatchlogs.NewDescribeLogGroupsPaginator(cloudwatchlogs.NewFromConfig(srv.Config()),
		&cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/servebench-")})
	var names []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range page.LogGroups {
			names = append(names, aws.ToString(g.LogGroupName))
		}
	}
	if want := []string{"/aws/lambda/servebench-a", "/aws/lambda/servebench-b", "/aws/lambda/servebench-c"}; !slices.Equal(names, want) {
		t.Errorf("groups %v, want %v", names, want)
	}
	if n := len(srv.Calls("logs")); n != 2 {
		t.Errorf("%d calls, want 2 pages", n)
	}
}

// The filter pattern: terms and quoted phrases must all occur; syntax the fake
// does not model is refused rather than misjudged.
func TestCloudFakeLogsFilterPattern(t *testing.T) {
	srv := awsfake.New(t)
	l := awsfake.NewLogs()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l.Put("g",
		awsfake.LogEvent{Stream: "s", Time: t0, Message: "REPORT RequestId: a\tDuration: 1 ms"},
		awsfake.LogEvent{Stream: "s", Time: t0, Message: "START RequestId: a Version: $LATEST"},
		awsfake.LogEvent{Stream: "s", Time: t0, Message: "RequestId REPORT reversed"},
	)
	l.Install(srv)
	c := cloudwatchlogs.NewFromConfig(srv.Config())
	count := func(pattern string) (int, error) {
		out, err := c.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g"), FilterPattern: aws.String(pattern)})
		if err != nil {
			return 0, err
		}
		return len(out.Events), nil
	}
	for pattern, want := range map[string]int{`"REPORT RequestId"`: 1, "REPORT RequestId": 2, "RequestId": 3, "": 3, "Version": 1} {
		if n, err := count(pattern); err != nil || n != want {
			t.Errorf("pattern %q: %d events, %v; want %d", pattern, n, err, want)
		}
	}
	for _, pattern := range []string{"?REPORT ?START", "{ $.type = \"platform.report\" }", `"unterminated`} {
		if _, err := count(pattern); err == nil {
			t.Errorf("pattern %q: no error", pattern)
		}
	}
}
