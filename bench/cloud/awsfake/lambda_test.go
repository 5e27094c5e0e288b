package awsfake_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/servebench/servebench/bench/cloud/awsfake"
)

// The Lambda fake behaves as "Lambda function states" describes, seen through
// the real client: an update runs InProgress for UpdatePolls reads, a second one
// meanwhile is a ResourceConflictException, a stale RevisionId a
// PreconditionFailedException, a failed update keeps the previous
// configuration, and OnUpdate runs once per update that ends Successful.
func TestCloudFakeLambdaUpdates(t *testing.T) {
	srv := awsfake.New(t)
	f := awsfake.NewLambda()
	var hooked []string
	f.OnUpdate = func(name string) { hooked = append(hooked, name) }
	f.AddFunction(awsfake.LambdaFunction{Name: "fn", MemoryMB: 3000, Env: map[string]string{"A": "1", "B": "2"}, UpdatePolls: 1})
	f.Install(srv)
	c := lambda.NewFromConfig(srv.Config())
	ctx := context.Background()
	get := func() *lambda.GetFunctionConfigurationOutput {
		t.Helper()
		out, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("fn")})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	update := func(in lambda.UpdateFunctionConfigurationInput) (*lambda.UpdateFunctionConfigurationOutput, error) {
		in.FunctionName = aws.String("fn")
		return c.UpdateFunctionConfiguration(ctx, &in)
	}

	cfg := get()
	if cfg.LastUpdateStatus != types.LastUpdateStatusSuccessful || aws.ToInt32(cfg.MemorySize) != 3000 || cfg.Environment.Variables["B"] != "2" || aws.ToString(cfg.RevisionId) != "rev-1" {
		t.Fatalf("initial configuration %+v", cfg)
	}
	out, err := update(lambda.UpdateFunctionConfigurationInput{Environment: &types.Environment{Variables: map[string]string{"A": "9"}}, RevisionId: cfg.RevisionId})
	if err != nil || out.LastUpdateStatus != types.LastUpdateStatusInProgress {
		t.Fatalf("update: %v %v", out, err)
	}
	var conflict *types.ResourceConflictException
	if _, err := update(lambda.UpdateFunctionConfigurationInput{MemorySize: aws.Int32(1024)}); !errors.As(err, &conflict) {
		t.Errorf("update during an update: %v, want ResourceConflictException", err)
	}
	if s := get().LastUpdateStatus; s != types.LastUpdateStatusInProgress {
		t.Errorf("first read after the update: %s, want InProgress", s)
	}
	if len(hooked) != 0 {
		t.Errorf("OnUpdate ran before the update ended")
	}
	cfg = get()
	if cfg.LastUpdateStatus != types.LastUpdateStatusSuccessful || len(cfg.Environment.Variables) != 1 || cfg.Environment.Variables["A"] != "9" {
		t.Errorf("second read: %s %v, want Successful with the variables sent (and only them)", cfg.LastUpdateStatus, cfg.Environment.Variables)
	}
	if !slices.Equal(hooked, []string{"fn"}) {
		t.Errorf("OnUpdate calls %v", hooked)
	}

	var stale *types.PreconditionFailedException
	if _, err := update(lambda.UpdateFunctionConfigurationInput{MemorySize: aws.Int32(1024), RevisionId: aws.String("rev-1")}); !errors.As(err, &stale) {
		t.Errorf("stale revision: %v, want PreconditionFailedException", err)
	}

	f.FailNextUpdate("fn", "InvalidImage", "bad image")
	if _, err := update(lambda.UpdateFunctionConfigurationInput{MemorySize: aws.Int32(1024)}); err != nil {
		t.Fatal(err)
	}
	get()
	cfg = get()
	if cfg.LastUpdateStatus != types.LastUpdateStatusFailed || aws.ToString(cfg.LastUpdateStatusReason) != "bad image" || cfg.LastUpdateStatusReasonCode != "InvalidImage" || aws.ToInt32(cfg.MemorySize) != 3000 {
		t.Errorf("failed update: %s %q %s memory %d, want Failed with the reason and the old memory", cfg.LastUpdateStatus, aws.ToString(cfg.LastUpdateStatusReason), cfg.LastUpdateStatusReasonCode, aws.ToInt32(cfg.MemorySize))
	}
	if len(hooked) != 1 {
		t.Errorf("OnUpdate ran for a failed update")
	}

	var nf *types.ResourceNotFoundException
	if _, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("other")}); !errors.As(err, &nf) {
		t.Errorf("unknown function: %v", err)
	}
}
