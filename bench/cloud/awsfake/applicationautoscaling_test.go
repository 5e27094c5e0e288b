package awsfake_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/smithy-go"

	"github.com/servebench/servebench/bench/cloud/awsfake"
)

// The real client reads the fake's scalable targets, filtered by namespace,
// dimension and resource id, and each RegisterScalableTarget's SuspendedState
// replaces the whole state (a member left out is false; none sent, unchanged).
func TestCloudFakeApplicationAutoScaling(t *testing.T) {
	srv := awsfake.New(t)
	m := awsfake.NewApplicationAutoScaling()
	m.Install(srv)
	m.AddECSService("c", "s", 1, 5, awsfake.Suspended{Scheduled: true})
	m.AddECSService("c", "other", 2, 3, awsfake.Suspended{})
	client := applicationautoscaling.NewFromConfig(srv.Config())
	ctx := context.Background()

	out, err := client.DescribeScalableTargets(ctx, &applicationautoscaling.DescribeScalableTargetsInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, ResourceIds: []string{"service/c/s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ScalableTargets) != 1 {
		t.Fatalf("targets %+v, want service/c/s only", out.ScalableTargets)
	}
	got := out.ScalableTargets[0]
	if aws.ToString(got.ResourceId) != "service/c/s" || aws.ToInt32(got.MinCapacity) != 1 || aws.ToInt32(got.MaxCapacity) != 5 ||
		got.SuspendedState == nil || !aws.ToBool(got.SuspendedState.ScheduledScalingSuspended) || aws.ToBool(got.SuspendedState.DynamicScalingInSuspended) {
		t.Errorf("target %+v (suspended %+v)", got, got.SuspendedState)
	}

	register := func(st *aastypes.SuspendedState) {
		t.Helper()
		if _, err := client.RegisterScalableTarget(ctx, &applicationautoscaling.RegisterScalableTargetInput{
			ServiceNamespace: aastypes.ServiceNamespaceEcs, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
			ResourceId: aws.String("service/c/s"), SuspendedState: st,
		}); err != nil {
			t.Fatal(err)
		}
	}
	register(&aastypes.SuspendedState{DynamicScalingInSuspended: aws.Bool(true), DynamicScalingOutSuspended: aws.Bool(true)})
	register(nil)
	st, _ := m.Target("service/c/s")
	want := awsfake.Suspended{DynamicIn: true, DynamicOut: true} // scheduled, left out, is false
	if st.Suspended != want || !slices.Equal(st.History, []awsfake.Suspended{want}) || st.Min != 1 || st.Max != 5 {
		t.Errorf("after register: %+v", st)
	}

	// A target not registered yet needs both capacities.
	_, err = client.RegisterScalableTarget(ctx, &applicationautoscaling.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, ResourceId: aws.String("service/c/new"),
	})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" {
		t.Errorf("register of a new target without capacities: %v", err)
	}
}

// Deny makes an operation answer AccessDenied, in the JSON and the awsQuery
// forms, and leaves the others alone.
func TestCloudFakeDeny(t *testing.T) {
	srv := awsfake.New(t)
	m := awsfake.NewApplicationAutoScaling()
	m.Install(srv)
	awsfake.NewAutoScaling().Install(srv)
	srv.Deny("application-autoscaling", "RegisterScalableTarget")
	srv.Deny("autoscaling", "DescribeAutoScalingGroups")
	ctx := context.Background()
	client := applicationautoscaling.NewFromConfig(srv.Config())
	_, err := client.RegisterScalableTarget(ctx, &applicationautoscaling.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, ResourceId: aws.String("service/c/s"),
	})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
		t.Errorf("denied JSON call: %v", err)
	}
	_, err = autoscaling.NewFromConfig(srv.Config()).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
		t.Errorf("denied awsQuery call: %v", err)
	}
	if _, err := client.DescribeScalableTargets(ctx, &applicationautoscaling.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs}); err != nil {
		t.Errorf("an operation not denied: %v", err)
	}
}
