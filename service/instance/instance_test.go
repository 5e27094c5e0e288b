package instance

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestColdExactlyOnceUnderConcurrency(t *testing.T) {
	in := New()
	var cold atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if in.Serve(context.Background()).Cold {
				cold.Add(1)
			}
		}()
	}
	wg.Wait()
	if cold.Load() != 1 {
		t.Fatalf("%d cold answers, want exactly 1", cold.Load())
	}
	if in.Serve(context.Background()).Cold {
		t.Error("a later request is cold")
	}
}

func TestInitKeepsTheFirstReadyTime(t *testing.T) {
	in := New()
	if in.Init() != 0 {
		t.Fatalf("init before ready = %v", in.Init())
	}
	in.MarkReady()
	first := in.Init()
	if first <= 0 {
		t.Fatalf("init = %v", first)
	}
	time.Sleep(2 * time.Millisecond)
	in.MarkReady()
	if in.Init() != first {
		t.Errorf("a second MarkReady moved init from %v to %v", first, in.Init())
	}
}

func TestPlatformAndMemoryFromEnvironment(t *testing.T) {
	for _, c := range []struct {
		env      map[string]string
		platform string
		mem      int
	}{
		{map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3000"}, "lambda", 3000},
		{map[string]string{"K_SERVICE": "predict", "SERVEBENCH_MEMORY_MB": "1024"}, "cloudfunctions", 1024},
		{map[string]string{"ECS_CONTAINER_METADATA_URI_V4": "http://x"}, "ecs", 0},
		{map[string]string{"SERVEBENCH_PLATFORM": "local-serverless", "AWS_LAMBDA_FUNCTION_NAME": "f"}, "local-serverless", 0},
		{map[string]string{}, "local", 0},
	} {
		for _, k := range []string{"SERVEBENCH_PLATFORM", "AWS_LAMBDA_FUNCTION_NAME", "ECS_CONTAINER_METADATA_URI_V4",
			"K_SERVICE", "FUNCTION_TARGET", "SERVEBENCH_MEMORY_MB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"} {
			t.Setenv(k, c.env[k])
		}
		info := New().Serve(context.Background())
		if info.Platform != c.platform || info.MemoryMB != c.mem || info.Instance == "" || info.Runtime == "" {
			t.Errorf("%v: got %+v, want platform %s, memory %d", c.env, info, c.platform, c.mem)
		}
	}
}

// TestRequestIDOnLambdaOnly: the answer names the Lambda request id when the
// request's context carries a Lambda invocation, and has no request_id at all
// otherwise.
func TestRequestIDOnLambdaOnly(t *testing.T) {
	in := New()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8f7d5c2e-1b3a-4c5d-9e8f-0a1b2c3d4e5f"})
	if got := in.Serve(ctx).RequestID; got != "8f7d5c2e-1b3a-4c5d-9e8f-0a1b2c3d4e5f" {
		t.Errorf("on Lambda: request id %q, want the invocation's", got)
	}
	info := in.Serve(context.Background())
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if info.RequestID != "" || strings.Contains(string(b), "request_id") {
		t.Errorf("off Lambda: %s, want no request_id", b)
	}
}
