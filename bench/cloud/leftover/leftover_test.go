package leftover_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"

	"github.com/servebench/servebench/bench/cloud/awsfake"
	"github.com/servebench/servebench/bench/cloud/leftover"
)

var stackTags = map[string]string{"servebench:stack": "serverful", "servebench:project": "servebench"}

func arn(service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, awsfake.Region, awsfake.FakeAccount, resource)
}

func clients(srv *awsfake.Server) leftover.Clients {
	cfg := srv.Config()
	return leftover.Clients{
		Tagging: tagging.NewFromConfig(cfg), ECR: ecr.NewFromConfig(cfg), Logs: cloudwatchlogs.NewFromConfig(cfg),
		ECS: ecs.NewFromConfig(cfg), ELB: elb.NewFromConfig(cfg), AutoScaling: autoscaling.NewFromConfig(cfg),
	}
}

func ids(ls []leftover.Leftover) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.ID)
	}
	return out
}

type getResources struct {
	PaginationToken  *string `json:"PaginationToken"`
	ResourcesPerPage int     `json:"ResourcesPerPage"`
	TagFilters       []struct {
		Key    string   `json:"Key"`
		Values []string `json:"Values"`
	} `json:"TagFilters"`
}

// Every tag is a filter (ANDed by the API), and the pages are followed until the
// token comes back empty; kinds nothing re-checks are reported as the API lists
// them, saying so.
func TestCloudLeftoverTagFiltersAndPaging(t *testing.T) {
	srv := awsfake.New(t)
	tg := awsfake.NewTagging()
	tg.PageSize = 2
	tg.Install(srv)
	var want []string
	for i := range 5 {
		a := arn("lambda", fmt.Sprintf("function:servebench-serverful-%d", i))
		want = append(want, a)
		tg.Add(awsfake.TaggedResource{ARN: a, Tags: map[string]string{"servebench:stack": "serverful", "servebench:project": "servebench", "Name": "x"}})
	}
	tg.Add(awsfake.TaggedResource{ARN: arn("lambda", "function:other"), Tags: map[string]string{"servebench:stack": "serverless", "servebench:project": "servebench"}},
		awsfake.TaggedResource{ARN: arn("lambda", "function:untagged-project"), Tags: map[string]string{"servebench:stack": "serverful"}})

	got, err := leftover.Find(context.Background(), leftover.Query{Tags: stackTags}, clients(srv))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), want) {
		t.Errorf("leftovers %v, want %v", ids(got), want)
	}
	for _, l := range got {
		if l.Kind != "lambda:function" || !strings.Contains(l.Why, "Resource Groups Tagging API only") ||
			!strings.Contains(l.Why, "servebench:project=servebench, servebench:stack=serverful") {
			t.Errorf("leftover %+v", l)
		}
	}
	calls := srv.Calls("tagging")
	if len(calls) != 3 {
		t.Fatalf("GetResources called %d times, want 3 (5 resources, 2 a page)", len(calls))
	}
	for i, c := range calls {
		var in getResources
		if err := c.JSON(&in); err != nil {
			t.Fatal(err)
		}
		if c.Operation != "GetResources" || in.ResourcesPerPage != 50 || len(in.TagFilters) != 2 ||
			in.TagFilters[0].Key != "servebench:project" || !slices.Equal(in.TagFilters[0].Values, []string{"servebench"}) ||
			in.TagFilters[1].Key != "servebench:stack" || !slices.Equal(in.TagFilters[1].Values, []string{"serverful"}) {
			t.Errorf("call %d: %s %s", i, c.Operation, c.Body)
		}
		wantToken := map[int]string{1: "page-2", 2: "page-4"}[i]
		if got := ""; in.PaginationToken != nil {
			got = *in.PaginationToken
			if got != wantToken || i == 0 {
				t.Errorf("call %d: PaginationToken %q, want %q", i, got, wantToken)
			}
		} else if i > 0 {
			t.Errorf("call %d: no PaginationToken, want %q", i, wantToken)
		}
	}
}

// What the tagging API lists is re-checked with its own service: deleted,
// INACTIVE or deregistered resources are dropped, live ones kept with their state.
func TestCloudLeftoverRechecksTaggedResources(t *testing.T) {
	srv := awsfake.New(t)
	tg, e, lb, as, repos := awsfake.NewTagging(), awsfake.NewECS(), awsfake.NewELB(), awsfake.NewAutoScaling(), awsfake.NewECR()
	for _, m := range []interface{ Install(*awsfake.Server) }{tg, e, lb, as, repos} {
		m.Install(srv)
	}
	e.SetCluster("gone-cluster", "INACTIVE")
	e.SetCluster("live-cluster", "ACTIVE")
	e.AddService("live-cluster", "live-svc", 1)
	e.AddService("live-cluster", "dead-svc", 1)
	e.Update("live-cluster", "dead-svc", func(s *awsfake.ECSService) { s.Status = "INACTIVE" })
	e.SetTaskDefinition("web:3", "INACTIVE")
	e.SetTaskDefinition("web:4", "ACTIVE")
	liveTG := lb.SetTargetGroup(awsfake.TargetGroup{Name: "live-tg"})
	liveLB := arn("elasticloadbalancing", "loadbalancer/app/live/0123")
	lb.SetLoadBalancer(liveLB, true)
	as.SetGroup(awsfake.ASGroup{Name: "live-asg"})
	repos.SetRepository("live-repo", true)

	live := map[string]string{ // ARN → what the re-check must say
		arn("ecs", "cluster/live-cluster"):          "ecs still shows it: ACTIVE",
		arn("ecs", "service/live-cluster/live-svc"): "ecs still shows it: ACTIVE",
		arn("ecs", "task-definition/web:4"):         "ecs still shows it: ACTIVE",
		liveTG:                                      "elasticloadbalancing still shows it: exists",
		liveLB:                                      "elasticloadbalancing still shows it: active",
		arn("autoscaling", "autoScalingGroup:0000:autoScalingGroupName/live-asg"): "autoscaling still shows it: exists",
		arn("ecr", "repository/live-repo"):                                        "ecr still shows it: exists",
	}
	gone := []string{
		arn("ecs", "cluster/gone-cluster"),
		arn("ecs", "cluster/never-was"),
		arn("ecs", "service/live-cluster/dead-svc"),
		arn("ecs", "service/live-cluster/never-was"),
		arn("ecs", "task-definition/web:3"),
		arn("ecs", "task-definition/web:1"),
		arn("elasticloadbalancing", "targetgroup/dead-tg/0123"),
		arn("elasticloadbalancing", "loadbalancer/app/dead/0123"),
		arn("autoscaling", "autoScalingGroup:0000:autoScalingGroupName/dead-asg"),
		arn("ecr", "repository/dead-repo"),
	}
	var all []string
	for a := range live {
		all = append(all, a)
	}
	all = append(all, gone...)
	slices.Sort(all)
	for _, a := range all {
		tg.Add(awsfake.TaggedResource{ARN: a, Tags: stackTags})
	}

	got, err := leftover.Find(context.Background(), leftover.Query{Tags: stackTags}, clients(srv))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(live) {
		t.Errorf("%d leftovers, want %d: %v", len(got), len(live), got)
	}
	for _, l := range got {
		want, ok := live[l.ID]
		if !ok || !strings.HasSuffix(l.Why, want) {
			t.Errorf("leftover %v; want only live ones, saying %q", l, want)
		}
	}

	// The requests: each kind asked of its own service, by the listed ARN or name.
	var clusters struct {
		Clusters []string `json:"clusters"`
	}
	var svc struct {
		Cluster  string   `json:"cluster"`
		Services []string `json:"services"`
	}
	var td struct {
		TaskDefinition string `json:"taskDefinition"`
	}
	seen := map[string]bool{}
	for _, c := range srv.Calls("ecs") {
		switch c.Operation {
		case "DescribeClusters":
			_ = c.JSON(&clusters)
			seen[clusters.Clusters[0]] = true
		case "DescribeServices":
			_ = c.JSON(&svc)
			if svc.Cluster != "live-cluster" {
				t.Errorf("DescribeServices in cluster %q", svc.Cluster)
			}
			seen[svc.Services[0]] = true
		case "DescribeTaskDefinition":
			_ = c.JSON(&td)
			seen[td.TaskDefinition] = true
		}
	}
	for _, c := range srv.Calls("elasticloadbalancing") {
		seen[c.Form.Get("TargetGroupArns.member.1")+c.Form.Get("LoadBalancerArns.member.1")] = true
	}
	for _, c := range srv.Calls("autoscaling") {
		seen["asg:"+c.Form.Get("AutoScalingGroupNames.member.1")] = true
	}
	for _, c := range srv.Calls("ecr") {
		var in struct {
			RepositoryNames []string `json:"repositoryNames"`
		}
		_ = c.JSON(&in)
		seen["ecr:"+strings.Join(in.RepositoryNames, ",")] = true
	}
	for _, a := range all {
		key := a
		switch {
		case strings.Contains(a, ":autoscaling:"):
			key = "asg:" + a[strings.LastIndex(a, "/")+1:]
		case strings.Contains(a, ":ecr:"):
			key = "ecr:" + a[strings.LastIndex(a, "/")+1:]
		}
		if !seen[key] {
			t.Errorf("%s not re-checked (asked: %v)", a, seen)
		}
	}
}

// afterFirstListing runs fn once the first full listing of the tags is done.
type afterFirstListing struct {
	leftover.Tagging
	fn    func()
	calls int
}

func (a *afterFirstListing) GetResources(ctx context.Context, in *tagging.GetResourcesInput, opts ...func(*tagging.Options)) (*tagging.GetResourcesOutput, error) {
	out, err := a.Tagging.GetResources(ctx, in, opts...)
	if a.calls++; err == nil && out.PaginationToken != nil && *out.PaginationToken == "" && a.fn != nil {
		a.fn()
		a.fn = nil
	}
	return out, err
}

// With Settle, what no re-check covers is listed again after the wait; what the
// API no longer lists by then is dropped, what it still lists is reported.
func TestCloudLeftoverSettleListsAgain(t *testing.T) {
	srv := awsfake.New(t)
	tg := awsfake.NewTagging()
	tg.Install(srv)
	tg.PageSize = 1
	deleted, kept := arn("lambda", "function:deleted-late"), arn("ec2", "vpc/vpc-0123")
	tg.Add(awsfake.TaggedResource{ARN: deleted, Tags: stackTags}, awsfake.TaggedResource{ARN: kept, Tags: stackTags})
	c := clients(srv)
	wrapped := &afterFirstListing{Tagging: c.Tagging, fn: func() { tg.Remove(deleted) }}
	c.Tagging = wrapped

	got, err := leftover.Find(context.Background(), leftover.Query{Tags: stackTags, Settle: time.Millisecond}, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != kept || got[0].Kind != "ec2:vpc" || !strings.Contains(got[0].Why, "still listed by the Resource Groups Tagging API after 1ms") {
		t.Errorf("leftovers %v, want only %s, still listed", got, kept)
	}
	// Two pages, then one page after the wait.
	if wrapped.calls != 3 {
		t.Errorf("GetResources called %d times, want 3", wrapped.calls)
	}

	// Without Settle nothing is listed again.
	tg.Add(awsfake.TaggedResource{ARN: deleted, Tags: stackTags})
	wrapped.calls = 0
	if got, err := leftover.Find(context.Background(), leftover.Query{Tags: stackTags}, c); err != nil || len(got) != 2 || wrapped.calls != 2 {
		t.Errorf("without Settle: %v, %v after %d calls", got, err, wrapped.calls)
	}
}

// A re-check that fails keeps the resource listed, saying why.
func TestCloudLeftoverFailedRecheckKeepsTheResource(t *testing.T) {
	srv := awsfake.New(t)
	tg := awsfake.NewTagging()
	tg.Install(srv) // no ELB fake: the re-check's call fails
	a := arn("elasticloadbalancing", "targetgroup/tg/0123")
	tg.Add(awsfake.TaggedResource{ARN: a, Tags: stackTags})
	got, err := leftover.Find(context.Background(), leftover.Query{Tags: stackTags}, clients(srv))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != a || got[0].Kind != "elasticloadbalancing:targetgroup" || !strings.Contains(got[0].Why, "re-checking it failed") {
		t.Errorf("leftovers %+v", got)
	}
}

// Repositories are checked one name a call (a missing one fails the whole call);
// log groups by prefix, following pages; what two checks find is listed once.
func TestCloudLeftoverRepositoriesAndLogGroups(t *testing.T) {
	srv := awsfake.New(t)
	tg, repos, logs := awsfake.NewTagging(), awsfake.NewECR(), awsfake.NewLogs()
	tg.Install(srv)
	repos.Install(srv)
	logs.Install(srv)
	logs.PageSize = 1
	repos.SetRepository("servebench-serverless-lambda", true)
	repos.SetRepository("servebench-serverful-ecs", false)
	for _, g := range []string{"/aws/lambda/servebench-serverless-fn", "/aws/lambda/servebench-serverless-fn2", "/aws/lambda/other", "/ecs/servebench-serverless"} {
		logs.AddGroup(g)
	}
	repoARN := arn("ecr", "repository/servebench-serverless-lambda")
	tg.Add(awsfake.TaggedResource{ARN: repoARN, Tags: stackTags})

	got, err := leftover.Find(context.Background(), leftover.Query{
		Tags:             stackTags,
		Repositories:     []string{"servebench-serverless-lambda", "servebench-serverful-ecs"},
		LogGroupPrefixes: []string{"/aws/lambda/servebench-serverless", "/ecs/servebench-serverless"},
	}, clients(srv))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{repoARN,
		arn("logs", "log-group:/aws/lambda/servebench-serverless-fn"),
		arn("logs", "log-group:/aws/lambda/servebench-serverless-fn2"),
		arn("logs", "log-group:/ecs/servebench-serverless")}
	if !slices.Equal(ids(got), want) {
		t.Errorf("leftovers %v, want %v", ids(got), want)
	}
	if len(got) == 4 && (got[1].Kind != "logs:log-group" || !strings.Contains(got[1].Why, "/aws/lambda/servebench-serverless-fn ")) {
		t.Errorf("log group leftover %+v", got[1])
	}
	var names []string
	for _, c := range srv.Calls("ecr") {
		var in struct {
			RepositoryNames []string `json:"repositoryNames"`
		}
		if err := c.JSON(&in); err != nil || c.Operation != "DescribeRepositories" || len(in.RepositoryNames) != 1 {
			t.Errorf("ECR call %s %s", c.Operation, c.Body)
		}
		names = append(names, in.RepositoryNames...)
	}
	// Once for the tagged ARN's re-check, then each named repository.
	if wantNames := []string{"servebench-serverless-lambda", "servebench-serverless-lambda", "servebench-serverful-ecs"}; !slices.Equal(names, wantNames) {
		t.Errorf("repositories asked %v, want %v", names, wantNames)
	}
	var prefixes []string
	for _, c := range srv.Calls("logs") {
		var in struct {
			Prefix    string `json:"logGroupNamePrefix"`
			NextToken string `json:"nextToken"`
		}
		_ = c.JSON(&in)
		prefixes = append(prefixes, in.Prefix+"|"+map[bool]string{true: "next", false: "first"}[in.NextToken != ""])
	}
	if wantP := []string{"/aws/lambda/servebench-serverless|first", "/aws/lambda/servebench-serverless|next", "/ecs/servebench-serverless|first"}; !slices.Equal(prefixes, wantP) {
		t.Errorf("DescribeLogGroups calls %v, want %v", prefixes, wantP)
	}
}

func TestCloudLeftoverNothingLeft(t *testing.T) {
	srv := awsfake.New(t)
	tg, repos, logs := awsfake.NewTagging(), awsfake.NewECR(), awsfake.NewLogs()
	tg.Install(srv)
	repos.Install(srv)
	logs.Install(srv)
	got, err := leftover.Find(context.Background(), leftover.Query{Tags: stackTags, Repositories: []string{"r"}, LogGroupPrefixes: []string{"/aws/lambda/x"}}, clients(srv))
	if err != nil || len(got) != 0 {
		t.Errorf("Find on an empty account: %v, %v", got, err)
	}
	if n := len(srv.Calls("")); n != 3 {
		t.Errorf("%d calls, want 3 (tags, repository, log groups)", n)
	}
}

func TestCloudLeftoverErrors(t *testing.T) {
	srv := awsfake.New(t) // nothing installed: every call fails
	if _, err := leftover.Find(context.Background(), leftover.Query{Tags: stackTags}, clients(srv)); err == nil ||
		!strings.Contains(err.Error(), "servebench:stack=serverful") {
		t.Errorf("tagging API failing: %v", err)
	}
	if _, err := leftover.Find(context.Background(), leftover.Query{Repositories: []string{"r"}}, clients(srv)); err == nil ||
		!strings.Contains(err.Error(), "repository r") {
		t.Errorf("ECR failing: %v", err)
	}
	if _, err := leftover.Find(context.Background(), leftover.Query{LogGroupPrefixes: []string{"/aws/lambda/x"}}, clients(srv)); err == nil ||
		!strings.Contains(err.Error(), "/aws/lambda/x") {
		t.Errorf("Logs failing: %v", err)
	}
	if _, err := leftover.Find(context.Background(), leftover.Query{Tags: stackTags}, leftover.Clients{}); err == nil || !strings.Contains(err.Error(), "Tagging") {
		t.Errorf("no tagging client: %v", err)
	}
}
