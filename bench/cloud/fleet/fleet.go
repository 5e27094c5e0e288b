// Package fleet watches and drives the serverful fleet of a deployed stack: an ECS
// service on an Auto Scaling group behind an ALB target group. It says when the
// fleet serves (Ready), replaces every task so the next requests meet new
// processes (ForceCold, a scenario.Coldable), and counts tasks and instances
// over a run (Sample), and holds its scaling off at its minimum size while the
// rate scenario measures it (HoldScaling, a scenario.ScalingHold).
package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/servebench/servebench/bench/results"
)

// ECS is what the fleet calls on the ECS client.
type ECS interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, opts ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, opts ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// AutoScaling is what the fleet calls on the Auto Scaling client.
type AutoScaling interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

// ELB is what the fleet calls on the ELBv2 client.
type ELB interface {
	DescribeTargetGroups(ctx context.Context, in *elb.DescribeTargetGroupsInput, opts ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error)
	DescribeTargetHealth(ctx context.Context, in *elb.DescribeTargetHealthInput, opts ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error)
}

// Defaults for Service's Poll and Timeout. A forced deployment on EC2 starts new
// tasks (placement, image pull), waits for them to pass the target group's
// health checks and stops the old ones after their targets drain: minutes, more
// when the group must first add an instance to place them.
const (
	DefaultPoll    = 5 * time.Second
	DefaultTimeout = 15 * time.Minute
)

// Service is the serverful fleet of one stack, named as its outputs name it.
type Service struct {
	Cluster, Service string // ECS cluster and service (names or ARNs)
	Group            string // Auto Scaling group name
	TargetGroup      string // ALB target group name

	ECS         ECS
	AutoScaling AutoScaling
	ELB         ELB
	// Scaling holds the service's scaling off (HoldScaling); only that needs it.
	Scaling ApplicationAutoScaling

	Poll    time.Duration // between describes; 0: DefaultPoll
	Timeout time.Duration // each wait's bound; 0: DefaultTimeout
	Log     *slog.Logger  // nil: slog.Default()
}

func (s Service) poll() time.Duration {
	if s.Poll > 0 {
		return s.Poll
	}
	return DefaultPoll
}

func (s Service) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

func (s Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// errTimedOut is the cause of a wait's own bound running out, told apart from
// the caller's context ending.
var errTimedOut = errors.New("wait timed out")

// callGrace is how far past a wait's bound a call may still run, so a slow
// answer near the end still describes the state the timeout reports.
const callGrace = time.Minute

// wait calls check every Poll until it says done or fails; once Timeout has
// passed, the next check that is not done ends the wait with the state it
// described, so a timeout always says what was not ready.
func (s Service) wait(ctx context.Context, what string, check func(ctx context.Context) (done bool, state string, err error)) error {
	deadline := time.Now().Add(s.timeout())
	cctx, cancel := context.WithDeadlineCause(ctx, deadline.Add(callGrace), errTimedOut)
	defer cancel()
	state := "nothing described yet"
	for {
		done, st, err := check(cctx)
		switch {
		case err != nil && context.Cause(cctx) == errTimedOut:
			// A call hung past the grace; report the timeout below.
		case err != nil:
			return fmt.Errorf("%s: %w", what, err)
		case done:
			return nil
		default:
			state = st
		}
		if !time.Now().Before(deadline) || context.Cause(cctx) == errTimedOut {
			return fmt.Errorf("%s: not done after %s: %s", what, s.timeout(), state)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(min(s.poll(), time.Until(deadline))):
		}
	}
}

// describe returns the service, or an error when ECS does not know it.
func (s Service) describe(ctx context.Context) (ecstypes.Service, error) {
	out, err := s.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(s.Cluster), Services: []string{s.Service}})
	if err != nil {
		return ecstypes.Service{}, fmt.Errorf("describe ECS service %s in cluster %s: %w", s.Service, s.Cluster, err)
	}
	for _, svc := range out.Services {
		return svc, nil
	}
	reason := "not found"
	for _, f := range out.Failures {
		reason = aws.ToString(f.Reason)
	}
	return ecstypes.Service{}, fmt.Errorf("ECS service %s in cluster %s: %s (is the serverful stack deployed?)", s.Service, s.Cluster, reason)
}

// targetGroupARN looks the target group up by name.
func (s Service) targetGroupARN(ctx context.Context) (string, error) {
	out, err := s.ELB.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{s.TargetGroup}})
	if err != nil {
		return "", fmt.Errorf("look up target group %s: %w", s.TargetGroup, err)
	}
	if len(out.TargetGroups) == 0 {
		return "", fmt.Errorf("target group %s not found", s.TargetGroup)
	}
	return aws.ToString(out.TargetGroups[0].TargetGroupArn), nil
}

// Ready waits until the service runs its desired count of tasks and the target
// group has at least that many healthy targets: only then does the load balancer
// send every request to a task that answers. On timeout the error lists every
// target's state and reason and the service's latest events.
func (s Service) Ready(ctx context.Context) error {
	arn, err := s.targetGroupARN(ctx)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("serverful fleet %s/%s ready behind target group %s", s.Cluster, s.Service, s.TargetGroup)
	err = s.wait(ctx, what, func(ctx context.Context) (bool, string, error) {
		svc, err := s.describe(ctx)
		if err != nil {
			return false, "", err
		}
		th, err := s.ELB.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
		if err != nil {
			return false, "", fmt.Errorf("describe target health of %s: %w", s.TargetGroup, err)
		}
		healthy := 0
		for _, t := range th.TargetHealthDescriptions {
			if t.TargetHealth != nil && t.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
				healthy++
			}
		}
		desired := int(svc.DesiredCount)
		done := desired > 0 && int(svc.RunningCount) == desired && healthy >= desired
		state := fmt.Sprintf("service running %d of %d desired tasks; %d of %d targets healthy (%s); latest events: %s",
			svc.RunningCount, desired, healthy, len(th.TargetHealthDescriptions), targetStates(th.TargetHealthDescriptions), events(svc, 3))
		return done, state, nil
	})
	if err != nil {
		return fmt.Errorf("%w (the task logs and the ECS console's service events say why tasks fail)", err)
	}
	s.log().Info("serverful fleet ready", "cluster", s.Cluster, "service", s.Service, "target_group", s.TargetGroup)
	return nil
}

func targetStates(ts []elbtypes.TargetHealthDescription) string {
	if len(ts) == 0 {
		return "no targets registered"
	}
	var parts []string
	for _, t := range ts {
		id := "?"
		if t.Target != nil {
			id = aws.ToString(t.Target.Id)
			if t.Target.Port != nil {
				id = fmt.Sprintf("%s:%d", id, *t.Target.Port)
			}
		}
		st := "unknown"
		if h := t.TargetHealth; h != nil {
			st = string(h.State)
			if h.Reason != "" {
				st += " " + string(h.Reason)
			}
			if d := aws.ToString(h.Description); d != "" {
				st += ": " + d
			}
		}
		parts = append(parts, id+" "+st)
	}
	return strings.Join(parts, "; ")
}

// events quotes a service's latest n events (ECS lists them newest first).
func events(svc ecstypes.Service, n int) string {
	var out []string
	for _, e := range svc.Events[:min(n, len(svc.Events))] {
		out = append(out, fmt.Sprintf("%q", aws.ToString(e.Message)))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// ForceCold replaces every task of the service: UpdateService with
// forceNewDeployment starts a new deployment, and the wait ends when it is the
// only one, COMPLETED, running the desired count, with no old task left running,
// and its tasks' targets are healthy. The instances may stay; the processes
// serving are new, which the answers' server.cold and instance ids confirm.
func (s Service) ForceCold(ctx context.Context) error {
	before, err := s.describe(ctx)
	if err != nil {
		return err
	}
	old := primary(before.Deployments)
	out, err := s.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String(s.Cluster), Service: aws.String(s.Service), ForceNewDeployment: true,
	})
	if err != nil {
		return fmt.Errorf("force a new deployment of ECS service %s: %w", s.Service, err)
	}
	started := ""
	if out.Service != nil {
		started = primary(out.Service.Deployments)
	}
	if started == old {
		started = "" // not shown yet: any primary but the old one will do
	}
	s.log().Info("forcing new ECS tasks", "service", s.Service, "old_deployment", old, "new_deployment", started)
	what := fmt.Sprintf("new deployment of ECS service %s/%s replacing every task", s.Cluster, s.Service)
	err = s.wait(ctx, what, func(ctx context.Context) (bool, string, error) {
		svc, err := s.describe(ctx)
		if err != nil {
			return false, "", err
		}
		for _, d := range svc.Deployments {
			isNew := aws.ToString(d.Id) != old && (started == "" || aws.ToString(d.Id) == started)
			if isNew && d.RolloutState == ecstypes.DeploymentRolloutStateFailed {
				return false, "", fmt.Errorf("deployment %s failed: %s; latest events: %s", aws.ToString(d.Id),
					aws.ToString(d.RolloutStateReason), events(svc, 3))
			}
		}
		state := fmt.Sprintf("deployments: %s; service running %d of %d; latest events: %s",
			deployments(svc), svc.RunningCount, svc.DesiredCount, events(svc, 3))
		if len(svc.Deployments) != 1 {
			return false, state, nil
		}
		d := svc.Deployments[0]
		id := aws.ToString(d.Id)
		done := id != old && (started == "" || id == started) &&
			aws.ToString(d.Status) == "PRIMARY" && d.RolloutState == ecstypes.DeploymentRolloutStateCompleted &&
			// Every desired task is the new deployment's ...
			svc.DesiredCount > 0 && d.RunningCount == svc.DesiredCount &&
			// ... and no old task still runs beside them.
			svc.RunningCount == d.RunningCount
		return done, state, nil
	})
	if err != nil {
		return err
	}
	return s.Ready(ctx)
}

// deployments describes a service's deployments, for a wait's state.
func deployments(svc ecstypes.Service) string {
	var parts []string
	for _, d := range svc.Deployments {
		parts = append(parts, fmt.Sprintf("%s %s %s running %d of %d", aws.ToString(d.Id), aws.ToString(d.Status),
			d.RolloutState, d.RunningCount, d.DesiredCount))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func primary(ds []ecstypes.Deployment) string {
	for _, d := range ds {
		if aws.ToString(d.Status) == "PRIMARY" {
			return aws.ToString(d.Id)
		}
	}
	return ""
}

// FleetSample is the fleet's size at one moment.
type FleetSample struct {
	Tasks, DesiredTasks           int // ECS service runningCount, desiredCount
	Instances, InServiceInstances int // Auto Scaling group instances, those InService
}

// Sample reads the fleet's size: the service's running and desired tasks and the
// Auto Scaling group's instances.
func (s Service) Sample(ctx context.Context) (FleetSample, error) {
	svc, err := s.describe(ctx)
	if err != nil {
		return FleetSample{}, err
	}
	out, err := s.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{s.Group}})
	if err != nil {
		return FleetSample{}, fmt.Errorf("describe Auto Scaling group %s: %w", s.Group, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return FleetSample{}, fmt.Errorf("Auto Scaling group %s not found (is the serverful stack deployed?)", s.Group)
	}
	fs := FleetSample{Tasks: int(svc.RunningCount), DesiredTasks: int(svc.DesiredCount)}
	for _, i := range out.AutoScalingGroups[0].Instances {
		fs.Instances++
		if i.LifecycleState == "InService" {
			fs.InServiceInstances++
		}
	}
	return fs, nil
}

// Records are the sample as results samples of target at t: "tasks" (running)
// and "instances" (InService, the ones that can run tasks; a local run's
// "instances" counts processes, the same role).
func (f FleetSample) Records(target string, t time.Time) []results.Sample {
	return []results.Sample{
		{Target: target, Metric: "tasks", Time: t, Value: float64(f.Tasks)},
		{Target: target, Metric: "instances", Time: t, Value: float64(f.InServiceInstances)},
	}
}
