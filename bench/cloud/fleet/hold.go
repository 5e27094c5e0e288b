package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ApplicationAutoScaling is what the fleet calls on the Application Auto Scaling
// client: the service's desired count is its scalable target.
type ApplicationAutoScaling interface {
	DescribeScalableTargets(ctx context.Context, in *applicationautoscaling.DescribeScalableTargetsInput, opts ...func(*applicationautoscaling.Options)) (*applicationautoscaling.DescribeScalableTargetsOutput, error)
	RegisterScalableTarget(ctx context.Context, in *applicationautoscaling.RegisterScalableTargetInput, opts ...func(*applicationautoscaling.Options)) (*applicationautoscaling.RegisterScalableTargetOutput, error)
}

// ResumeTimeout bounds the resume a failed or interrupted hold runs by itself,
// on a context of its own.
const ResumeTimeout = time.Minute

// The IAM permissions HoldScaling and its resume need, named in AccessDenied errors.
const (
	PermDescribeScalableTargets = "application-autoscaling:DescribeScalableTargets"
	PermRegisterScalableTarget  = "application-autoscaling:RegisterScalableTarget"
	PermUpdateService           = "ecs:UpdateService"
	PermDescribeServices        = "ecs:DescribeServices"
)

// scalingResource is the service's id as Application Auto Scaling names it.
func (s Service) scalingResource() string {
	return "service/" + nameOf(s.Cluster) + "/" + nameOf(s.Service)
}

// nameOf is the name in a name or an ARN (".../cluster/name" → "name").
func nameOf(nameOrARN string) string { return nameOrARN[strings.LastIndex(nameOrARN, "/")+1:] }

// HoldScaling implements scenario.ScalingHold on the ECS service: it suspends
// the dynamic scaling of the service's scalable target (in and out; scheduled
// scaling as it was), sets the desired count to the target's minimum and waits
// until that many tasks run in one steady deployment. n is that minimum: one
// task fills one instance (study.TaskCPU), so tasks are instances here.
//
// resume sets the suspended state back to exactly what it was. When the hold
// fails after suspending, it resumes by itself on a fresh context, so a failed
// or cancelled hold leaves nothing suspended; once it has returned, the caller
// must call resume whatever happens (scenario.Rate does, on a context the run's
// cancellation does not reach).
func (s Service) HoldScaling(ctx context.Context) (int, func(context.Context) error, error) {
	if s.Scaling == nil {
		return 0, nil, errors.New("hold scaling: no Application Auto Scaling client")
	}
	target, err := s.scalableTarget(ctx)
	if err != nil {
		return 0, nil, err
	}
	minimum := int(aws.ToInt32(target.MinCapacity))
	if minimum < 1 {
		return 0, nil, fmt.Errorf("hold scaling: scalable target %s has minimum capacity %d: held there it would run no task (set servebench:minSize ≥ 1)", s.scalingResource(), minimum)
	}
	before := explicit(target.SuspendedState)
	held := before
	held.DynamicScalingInSuspended, held.DynamicScalingOutSuspended = aws.Bool(true), aws.Bool(true)
	if err := s.suspend(ctx, held); err != nil {
		return 0, nil, fmt.Errorf("hold scaling: %w", err)
	}
	s.log().Info("serverful scaling held: dynamic scaling suspended, scaling to the minimum", "service", s.scalingResource(), "tasks", minimum,
		"if_killed_resume_with", resumeCommand(s.scalingResource(), before))
	resume := func(ctx context.Context) error {
		if err := s.suspend(ctx, before); err != nil {
			return fmt.Errorf("resume scaling (by hand: %s): %w", resumeCommand(s.scalingResource(), before), err)
		}
		s.log().Info("serverful scaling resumed", "service", s.scalingResource(), "suspended", describeSuspended(before))
		return nil
	}
	if err := s.toMinimum(ctx, minimum); err != nil {
		// A fresh context: a cancelled run must not leave the scaling suspended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ResumeTimeout)
		defer cancel()
		return 0, nil, errors.Join(fmt.Errorf("hold scaling: %w", err), resume(rctx))
	}
	return minimum, resume, nil
}

// scalableTarget is the service's desired count as a scalable target.
func (s Service) scalableTarget(ctx context.Context) (aastypes.ScalableTarget, error) {
	id := s.scalingResource()
	out, err := s.Scaling.DescribeScalableTargets(ctx, &applicationautoscaling.DescribeScalableTargetsInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, ResourceIds: []string{id},
	})
	if err != nil {
		return aastypes.ScalableTarget{}, denied(fmt.Errorf("hold scaling: describe scalable target %s: %w", id, err), PermDescribeScalableTargets)
	}
	for _, t := range out.ScalableTargets {
		if aws.ToString(t.ResourceId) == id {
			return t, nil
		}
	}
	return aastypes.ScalableTarget{}, fmt.Errorf("hold scaling: no scalable target %s (%s): the service has no Application Auto Scaling to hold (is the serverful stack deployed?)",
		id, aastypes.ScalableDimensionECSServiceDesiredCount)
}

// suspend sets the scalable target's whole suspended state (every member given:
// one left out would be set false).
func (s Service) suspend(ctx context.Context, st aastypes.SuspendedState) error {
	id := s.scalingResource()
	_, err := s.Scaling.RegisterScalableTarget(ctx, &applicationautoscaling.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, ResourceId: aws.String(id),
		SuspendedState: &st,
	})
	if err != nil {
		return denied(fmt.Errorf("set the suspended state of scalable target %s to %s: %w", id, describeSuspended(st), err), PermRegisterScalableTarget)
	}
	return nil
}

// toMinimum sets the service's desired count to minimum and waits until exactly
// that many tasks run in one steady deployment, none pending.
func (s Service) toMinimum(ctx context.Context, minimum int) error {
	_, err := s.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String(s.Cluster), Service: aws.String(s.Service), DesiredCount: aws.Int32(int32(minimum)),
	})
	if err != nil {
		return denied(fmt.Errorf("set the desired count of ECS service %s to %d: %w", s.Service, minimum, err), PermUpdateService)
	}
	what := fmt.Sprintf("ECS service %s/%s at its minimum of %d tasks", s.Cluster, s.Service, minimum)
	last := ""
	return s.wait(ctx, what, func(ctx context.Context) (bool, string, error) {
		svc, err := s.describe(ctx)
		if err != nil {
			return false, "", denied(err, PermDescribeServices)
		}
		steady := len(svc.Deployments) == 1 && (svc.Deployments[0].RolloutState == "" || svc.Deployments[0].RolloutState == ecstypes.DeploymentRolloutStateCompleted)
		done := steady && int(svc.DesiredCount) == minimum && int(svc.RunningCount) == minimum && svc.PendingCount == 0
		state := fmt.Sprintf("desired %d, running %d, pending %d; deployments: %s; latest events: %s",
			svc.DesiredCount, svc.RunningCount, svc.PendingCount, deployments(svc), events(svc, 3))
		if state != last && !done {
			s.log().Info("holding serverful scaling: waiting for the minimum", "service", s.Service, "tasks", minimum, "state", state)
			last = state
		}
		return done, state, nil
	})
}

// explicit is st with every member set (nil: false).
func explicit(st *aastypes.SuspendedState) aastypes.SuspendedState {
	if st == nil {
		st = &aastypes.SuspendedState{}
	}
	return aastypes.SuspendedState{
		DynamicScalingInSuspended:  aws.Bool(aws.ToBool(st.DynamicScalingInSuspended)),
		DynamicScalingOutSuspended: aws.Bool(aws.ToBool(st.DynamicScalingOutSuspended)),
		ScheduledScalingSuspended:  aws.Bool(aws.ToBool(st.ScheduledScalingSuspended)),
	}
}

func describeSuspended(st aastypes.SuspendedState) string {
	return fmt.Sprintf("DynamicScalingInSuspended=%t,DynamicScalingOutSuspended=%t,ScheduledScalingSuspended=%t",
		aws.ToBool(st.DynamicScalingInSuspended), aws.ToBool(st.DynamicScalingOutSuspended), aws.ToBool(st.ScheduledScalingSuspended))
}

// resumeCommand is the AWS CLI command that sets the suspended state back, for
// a process killed while it held the scaling.
func resumeCommand(resource string, st aastypes.SuspendedState) string {
	return fmt.Sprintf("aws application-autoscaling register-scalable-target --service-namespace ecs --scalable-dimension %s --resource-id %s --suspended-state %s",
		aastypes.ScalableDimensionECSServiceDesiredCount, resource, describeSuspended(st))
}

// denied adds the IAM permission the caller lacks to an AccessDenied answer.
func denied(err error, permission string) error {
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) {
		if code := api.ErrorCode(); strings.Contains(code, "AccessDenied") || code == "UnauthorizedOperation" {
			return fmt.Errorf("%w (the AWS credentials need the IAM permission %s to hold the serverful scaling during the rate scenario)", err, permission)
		}
	}
	return err
}
