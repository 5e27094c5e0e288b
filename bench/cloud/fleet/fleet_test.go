package fleet_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/servebench/servebench/bench/cloud/awsfake"
	"github.com/servebench/servebench/bench/cloud/fleet"
)

type fakes struct {
	srv *awsfake.Server
	ecs *awsfake.ECS
	elb *awsfake.ELB
	asg *awsfake.AutoScaling
	tg  string // the target group's ARN
}

// newFleet stands up a service "web" in cluster "study" desiring 2 tasks, both
// running, target group "study-tg" with both targets healthy, and a Service
// reaching them with the real clients.
func newFleet(t *testing.T) (*fakes, fleet.Service) {
	t.Helper()
	f := &fakes{srv: awsfake.New(t), ecs: awsfake.NewECS(), elb: awsfake.NewELB(), asg: awsfake.NewAutoScaling()}
	f.ecs.Install(f.srv)
	f.elb.Install(f.srv)
	f.asg.Install(f.srv)
	f.ecs.AddService("study", "web", 2)
	f.tg = f.elb.SetTargetGroup(awsfake.TargetGroup{Name: "study-tg", Targets: healthy(2)})
	cfg := f.srv.Config()
	return f, fleet.Service{
		Cluster: "study", Service: "web", Group: "study-asg", TargetGroup: "study-tg",
		ECS: ecs.NewFromConfig(cfg), AutoScaling: autoscaling.NewFromConfig(cfg), ELB: elb.NewFromConfig(cfg),
		Poll: time.Millisecond, Timeout: 10 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func healthy(n int) []awsfake.Target {
	var ts []awsfake.Target
	for i := range n {
		ts = append(ts, awsfake.Target{ID: "i-0" + string(rune('a'+i)), Port: 32768 + i, State: "healthy"})
	}
	return ts
}

// count is how many times op appears in ops.
func count(ops []string, op string) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
}

// Ready looks the target group up by name once, then polls the service and the
// target health until every desired task runs and as many targets are healthy.
func TestCloudFleetReadyPollsUntilTargetsHealthy(t *testing.T) {
	f, svc := newFleet(t)
	f.elb.SetTargets("study-tg", awsfake.Target{ID: "i-0a", Port: 32768, State: "healthy"},
		awsfake.Target{ID: "i-0b", Port: 32769, State: "initial", Reason: "Elb.RegistrationInProgress"})
	polls := 0
	f.ecs.OnDescribe = func(*awsfake.ECSService) {
		if polls++; polls == 3 {
			f.elb.SetTargets("study-tg", healthy(2)...)
		}
	}
	if err := svc.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := f.srv.Operations("elasticloadbalancing"), []string{"DescribeTargetGroups", "DescribeTargetHealth", "DescribeTargetHealth", "DescribeTargetHealth"}; !slices.Equal(got, want) {
		t.Errorf("ELB calls %v, want %v", got, want)
	}
	calls := f.srv.Calls("elasticloadbalancing")
	if n := calls[0].Form.Get("Names.member.1"); n != "study-tg" || calls[0].Form.Has("TargetGroupArns.member.1") {
		t.Errorf("target group looked up by %v, want the name study-tg", calls[0].Form)
	}
	for _, c := range calls[1:] {
		if c.Form.Get("TargetGroupArn") != f.tg {
			t.Errorf("target health asked of %q, want %q", c.Form.Get("TargetGroupArn"), f.tg)
		}
	}
	if got := f.srv.Operations("ecs"); !slices.Equal(got, []string{"DescribeServices", "DescribeServices", "DescribeServices"}) {
		t.Errorf("ECS calls %v", got)
	}
	var in struct {
		Cluster  string   `json:"cluster"`
		Services []string `json:"services"`
	}
	if err := f.srv.Calls("ecs")[0].JSON(&in); err != nil || in.Cluster != "study" || !slices.Equal(in.Services, []string{"web"}) {
		t.Errorf("DescribeServices body %+v (%v)", in, err)
	}
}

// A fleet that never gets ready: the error names the targets' states and reasons,
// the running count and the service's latest events.
func TestCloudFleetReadyTimeoutSaysWhatIsNotReady(t *testing.T) {
	f, svc := newFleet(t)
	svc.Timeout = time.Nanosecond // one check, then the timeout
	f.elb.SetTargets("study-tg", awsfake.Target{ID: "i-0a", Port: 32768, State: "healthy"},
		awsfake.Target{ID: "i-0b", Port: 32769, State: "unhealthy", Reason: "Target.FailedHealthChecks", Description: "Health checks failed with these codes: [502]"})
	f.ecs.Update("study", "web", func(s *awsfake.ECSService) { s.Event("(service web) is unable to place a task.") })
	err := svc.Ready(context.Background())
	if err == nil {
		t.Fatal("Ready with an unhealthy target: want an error")
	}
	for _, want := range []string{"not done after 1ns", "1 of 2 targets healthy", "i-0b:32769 unhealthy Target.FailedHealthChecks: Health checks failed with these codes: [502]",
		"i-0a:32768 healthy", "running 2 of 2", "is unable to place a task", "study-tg"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := count(f.srv.Operations("ecs"), "DescribeServices"); n != 1 {
		t.Errorf("%d checks past the bound, want 1", n)
	}

	// Every target healthy but a task short: still not ready.
	f.elb.SetTargets("study-tg", healthy(2)...)
	f.ecs.Update("study", "web", func(s *awsfake.ECSService) { s.Deployments[0].RunningCount = 1 })
	err = svc.Ready(context.Background())
	if err == nil || !strings.Contains(err.Error(), "running 1 of 2") || !strings.Contains(err.Error(), "2 of 2 targets healthy") {
		t.Errorf("Ready with one task of two running: %v", err)
	}

	// A service scaled to nothing serves nothing.
	f.elb.SetTargets("study-tg")
	f.ecs.Update("study", "web", func(s *awsfake.ECSService) { s.DesiredCount, s.Deployments[0].RunningCount = 0, 0 })
	if err := svc.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "running 0 of 0") {
		t.Errorf("Ready with no task desired: %v", err)
	}
}

func TestCloudFleetReadyUnknownTargetGroup(t *testing.T) {
	f, svc := newFleet(t)
	svc.TargetGroup = "nope"
	err := svc.Ready(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nope") || !strings.Contains(err.Error(), "TargetGroupNotFound") {
		t.Errorf("Ready with an unknown target group: %v", err)
	}
	if ops := f.srv.Operations("ecs"); len(ops) != 0 {
		t.Errorf("ECS called without a target group: %v", ops)
	}
}

func TestCloudFleetReadyUnknownService(t *testing.T) {
	_, svc := newFleet(t)
	svc.Service = "gone"
	err := svc.Ready(context.Background())
	if err == nil || !strings.Contains(err.Error(), "gone") || !strings.Contains(err.Error(), "MISSING") {
		t.Errorf("Ready with an unknown service: %v", err)
	}
}

// ForceCold forces a new deployment and returns only once it is the only one,
// completed, with every task running, and the targets are healthy again.
func TestCloudFleetForceColdWaitsForTheNewDeployment(t *testing.T) {
	f, svc := newFleet(t)
	f.ecs.DeploymentPolls = 3
	var hooked []string
	f.ecs.OnNewDeployment = func(cluster, service string) { hooked = append(hooked, cluster+"/"+service) }
	var first string
	f.ecs.Update("study", "web", func(s *awsfake.ECSService) { first = s.Deployments[0].ID })

	if err := svc.ForceCold(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"DescribeServices", "UpdateService", "DescribeServices", "DescribeServices", "DescribeServices", "DescribeServices"}
	if got := f.srv.Operations("ecs"); !slices.Equal(got, want) {
		t.Errorf("ECS calls %v, want %v (describe, update, 3 polls until completed, 1 in Ready)", got, want)
	}
	var in struct {
		Cluster            string `json:"cluster"`
		Service            string `json:"service"`
		ForceNewDeployment bool   `json:"forceNewDeployment"`
	}
	if err := f.srv.Calls("ecs")[1].JSON(&in); err != nil || !in.ForceNewDeployment || in.Cluster != "study" || in.Service != "web" {
		t.Errorf("UpdateService body %+v (%v), want forceNewDeployment true for study/web", in, err)
	}
	if !slices.Equal(hooked, []string{"study/web"}) {
		t.Errorf("OnNewDeployment calls %v", hooked)
	}
	f.ecs.Update("study", "web", func(s *awsfake.ECSService) {
		if len(s.Deployments) != 1 || s.Deployments[0].ID == first || s.Deployments[0].RolloutState != "COMPLETED" {
			t.Errorf("after ForceCold: deployments %+v (first was %s)", s.Deployments, first)
		}
	})
	if got := count(f.srv.Operations("elasticloadbalancing"), "DescribeTargetHealth"); got != 1 {
		t.Errorf("target health checked %d times after the deployment, want 1", got)
	}
}

// Each state the wait must not take for done, seen once before the deployment
// completes: ForceCold polls once more for each.
func TestCloudFleetForceColdIsNotFooled(t *testing.T) {
	cases := map[string]func(s *awsfake.ECSService, old awsfake.ECSDeployment){
		"only the old deployment listed": func(s *awsfake.ECSService, old awsfake.ECSDeployment) {
			s.Deployments = []awsfake.ECSDeployment{old}
		},
		"new deployment alone but short of tasks": func(s *awsfake.ECSService, _ awsfake.ECSDeployment) {
			s.Deployments = s.Deployments[:1]
			s.Deployments[0].RolloutState, s.Deployments[0].RunningCount = "COMPLETED", 1
		},
		"new deployment alone, not completed": func(s *awsfake.ECSService, _ awsfake.ECSDeployment) {
			s.Deployments = s.Deployments[:1]
			s.Deployments[0].RunningCount = 2
		},
		"old tasks still running": func(s *awsfake.ECSService, _ awsfake.ECSDeployment) {
			s.Deployments = s.Deployments[:1]
			s.Deployments[0].RolloutState, s.Deployments[0].RunningCount = "COMPLETED", 2
			s.StrayRunning = 2
		},
	}
	for name, fool := range cases {
		t.Run(name, func(t *testing.T) {
			f, svc := newFleet(t)
			f.ecs.DeploymentPolls = 100 // completes only when the script says so
			var old awsfake.ECSDeployment
			f.ecs.Update("study", "web", func(s *awsfake.ECSService) { old = s.Deployments[0] })
			polls := 0
			var fresh awsfake.ECSDeployment // the deployment UpdateService started
			f.ecs.OnDescribe = func(s *awsfake.ECSService) {
				polls++
				switch polls {
				case 1: // ForceCold's describe before the update
				case 2:
					fresh = s.Deployments[0]
					fool(s, old)
				default:
					fresh.RolloutState, fresh.RunningCount = "COMPLETED", 2
					s.StrayRunning, s.Deployments = 0, []awsfake.ECSDeployment{fresh}
				}
			}
			if err := svc.ForceCold(context.Background()); err != nil {
				t.Fatal(err)
			}
			// before, update, fooled poll, completed poll, Ready's describe.
			if got := count(f.srv.Operations("ecs"), "DescribeServices"); got != 4 {
				t.Errorf("DescribeServices %d times, want 4 (the fooling state taken for done?)", got)
			}
		})
	}
}

func TestCloudFleetForceColdFailedDeployment(t *testing.T) {
	f, svc := newFleet(t)
	f.ecs.DeploymentPolls = 100
	f.ecs.OnDescribe = func(s *awsfake.ECSService) {
		if len(s.Deployments) == 2 {
			s.Deployments[0].RolloutState = "FAILED"
			s.Deployments[0].Reason = "ECS deployment circuit breaker: tasks failed to start."
		}
	}
	err := svc.ForceCold(context.Background())
	if err == nil || !strings.Contains(err.Error(), "circuit breaker: tasks failed to start") {
		t.Fatalf("ForceCold with a failed deployment: %v", err)
	}
	// It stops at the first sight of the failure rather than waiting out the bound.
	if got := count(f.srv.Operations("ecs"), "DescribeServices"); got != 2 {
		t.Errorf("DescribeServices %d times, want 2", got)
	}
}

func TestCloudFleetForceColdTimeoutNamesDeployments(t *testing.T) {
	f, svc := newFleet(t)
	f.ecs.DeploymentPolls = 1 << 30
	svc.Timeout = time.Nanosecond // one check, then the timeout
	err := svc.ForceCold(context.Background())
	if err == nil {
		t.Fatal("ForceCold that never completes: want an error")
	}
	for _, want := range []string{"not done after 1ns", "PRIMARY IN_PROGRESS running 0 of 2", "ACTIVE COMPLETED running 2 of 2", "has started 2 tasks"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if ops := f.srv.Operations("elasticloadbalancing"); len(ops) != 0 {
		t.Errorf("target health checked before the deployment completed: %v", ops)
	}
}

// A cancelled context ends a wait with the cancellation, not a timeout.
func TestCloudFleetReadyCancelled(t *testing.T) {
	f, svc := newFleet(t)
	f.elb.SetTargets("study-tg")
	ctx, cancel := context.WithCancel(context.Background())
	f.ecs.OnDescribe = func(*awsfake.ECSService) { cancel() }
	err := svc.Ready(ctx)
	if err == nil || !strings.Contains(err.Error(), "context canceled") || strings.Contains(err.Error(), "not done after") {
		t.Errorf("Ready cancelled: %v", err)
	}
}

// The caller's deadline ending a wait is the caller's error, not the wait's
// timeout: here it passes while the wait sleeps between polls.
func TestCloudFleetReadyCallerDeadline(t *testing.T) {
	f, svc := newFleet(t)
	f.elb.SetTargets("study-tg")
	svc.Poll, svc.Timeout = time.Hour, time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := svc.Ready(ctx)
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") || strings.Contains(err.Error(), "not done after") {
		t.Errorf("Ready past the caller's deadline: %v", err)
	}
}

func TestCloudFleetSample(t *testing.T) {
	f, svc := newFleet(t)
	f.asg.SetGroup(awsfake.ASGroup{Name: "study-asg", Min: 1, Max: 5, Desired: 3, Instances: []awsfake.ASInstance{
		{ID: "i-0a", LifecycleState: "InService", HealthStatus: "Healthy"},
		{ID: "i-0b", LifecycleState: "InService", HealthStatus: "Healthy"},
		{ID: "i-0c", LifecycleState: "Pending", HealthStatus: "Healthy"},
	}})
	f.asg.SetGroup(awsfake.ASGroup{Name: "other", Instances: []awsfake.ASInstance{{ID: "i-0z", LifecycleState: "InService"}}})
	f.ecs.Update("study", "web", func(s *awsfake.ECSService) { s.DesiredCount, s.Deployments[0].RunningCount = 3, 2 })

	got, err := svc.Sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (fleet.FleetSample{Tasks: 2, DesiredTasks: 3, Instances: 3, InServiceInstances: 2}); got != want {
		t.Errorf("sample %+v, want %+v", got, want)
	}
	asg := f.srv.Calls("autoscaling")
	if len(asg) != 1 || asg[0].Operation != "DescribeAutoScalingGroups" || asg[0].Form.Get("AutoScalingGroupNames.member.1") != "study-asg" {
		t.Errorf("Auto Scaling calls %+v", asg)
	}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	recs := got.Records("serverful", at)
	if len(recs) != 2 || recs[0].Metric != "tasks" || recs[0].Value != 2 || recs[1].Metric != "instances" || recs[1].Value != 2 ||
		recs[0].Target != "serverful" || !recs[1].Time.Equal(at) {
		t.Errorf("records %+v", recs)
	}

	svc.Group = "missing"
	if _, err := svc.Sample(context.Background()); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Sample of a missing group: %v", err)
	}
}
