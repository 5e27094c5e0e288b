package awsfake_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/servebench/servebench/bench/cloud/awsfake"
)

// A forced deployment as the real ECS client sees it: a new PRIMARY in progress
// beside the old one (ACTIVE), the hook run before UpdateService answers, then
// after DeploymentPolls describes the new one alone, completed; events newest first.
func TestCloudFakeECSForcedDeployment(t *testing.T) {
	srv := awsfake.New(t)
	m := awsfake.NewECS()
	m.Install(srv)
	m.DeploymentPolls = 2
	m.AddService("c", "s", 3)
	hooked := 0
	m.OnNewDeployment = func(cluster, service string) {
		if cluster != "c" || service != "s" {
			t.Errorf("hook for %s/%s", cluster, service)
		}
		hooked++
	}
	client := ecs.NewFromConfig(srv.Config())
	ctx := context.Background()

	up, err := client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("arn:aws:ecs:us-east-1:123456789012:cluster/c"), Service: aws.String("s"), ForceNewDeployment: true})
	if err != nil {
		t.Fatal(err)
	}
	if hooked != 1 {
		t.Errorf("OnNewDeployment ran %d times before the answer, want 1", hooked)
	}
	d := up.Service.Deployments
	if len(d) != 2 || aws.ToString(d[0].Status) != "PRIMARY" || d[0].RolloutState != ecstypes.DeploymentRolloutStateInProgress ||
		d[0].RunningCount != 0 || aws.ToString(d[1].Status) != "ACTIVE" || d[1].RunningCount != 3 {
		t.Fatalf("after UpdateService: %+v", d)
	}
	describe := func() ecstypes.Service {
		out, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"s", "nope"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Services) != 1 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
			t.Fatalf("describe: %+v", out)
		}
		return out.Services[0]
	}
	if s := describe(); len(s.Deployments) != 2 || s.RunningCount != 3 {
		t.Errorf("first describe: %d deployments, running %d", len(s.Deployments), s.RunningCount)
	}
	s := describe()
	if len(s.Deployments) != 1 || aws.ToString(s.Deployments[0].Id) != aws.ToString(d[0].Id) ||
		s.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateCompleted || s.RunningCount != 3 || s.DesiredCount != 3 {
		t.Errorf("second describe: %+v", s.Deployments)
	}
	if msg := aws.ToString(s.Events[0].Message); msg != "(service s) has reached a steady state." || s.Events[0].CreatedAt == nil {
		t.Errorf("newest event %q", msg)
	}
	if msg := aws.ToString(s.Events[1].Message); !strings.HasSuffix(msg, "deployment completed.") {
		t.Errorf("second newest event %q, want the deployment's completion", msg)
	}

	// An unknown service cannot be updated.
	_, err = client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("nope"), ForceNewDeployment: true})
	var nf *ecstypes.ServiceNotFoundException
	if !errors.As(err, &nf) || hooked != 1 {
		t.Errorf("update of an unknown service: %v (hook ran %d times)", err, hooked)
	}
}

// A new desired count alone changes the one deployment's; its tasks reach it
// after ScalePolls describes, the service pending the difference meanwhile.
func TestCloudFakeECSDesiredCount(t *testing.T) {
	srv := awsfake.New(t)
	m := awsfake.NewECS()
	m.Install(srv)
	m.ScalePolls = 2
	m.AddService("c", "s", 1)
	client := ecs.NewFromConfig(srv.Config())
	ctx := context.Background()
	describe := func() ecstypes.Service {
		t.Helper()
		out, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"s"}})
		if err != nil || len(out.Services) != 1 {
			t.Fatalf("describe: %v %+v", err, out)
		}
		return out.Services[0]
	}
	for _, tc := range []struct{ desired, pending int32 }{{4, 3}, {2, 0}} {
		running := describe().RunningCount
		if _, err := client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("s"), DesiredCount: aws.Int32(tc.desired)}); err != nil {
			t.Fatal(err)
		}
		if s := describe(); s.DesiredCount != tc.desired || s.RunningCount != running || s.PendingCount != tc.pending || len(s.Deployments) != 1 {
			t.Errorf("to %d, first describe: desired %d running %d pending %d (want running %d, pending %d)", tc.desired, s.DesiredCount, s.RunningCount, s.PendingCount, running, tc.pending)
		}
		if s := describe(); s.RunningCount != tc.desired || s.PendingCount != 0 || aws.ToString(s.Events[0].Message) != "(service s) has reached a steady state." {
			t.Errorf("to %d, second describe: running %d pending %d, newest event %q", tc.desired, s.RunningCount, s.PendingCount, aws.ToString(s.Events[0].Message))
		}
	}
}
