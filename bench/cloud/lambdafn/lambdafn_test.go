package lambdafn_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/servebench/servebench/bench/cloud/awsfake"
	"github.com/servebench/servebench/bench/cloud/lambdafn"
)

const (
	fnName   = "servebench-serverless-fn"
	logGroup = "/aws/lambda/servebench-serverless-fn"
	getOp    = "GET /2015-03-31/functions/" + fnName + "/configuration"
	putOp    = "PUT /2015-03-31/functions/" + fnName + "/configuration"
)

// The service's environment as the stack sets it, with values a careless
// rewrite would mangle.
var serviceEnv = map[string]string{
	"SERVEBENCH_INPUT_BUCKET":  "servebench-in-1a2b",
	"SERVEBENCH_OUTPUT_BUCKET": "servebench-out-1a2b",
	"SERVEBENCH_MODEL":         "s3://servebench-in-1a2b/models/yolo.onnx?v=3&x=y",
	"SERVEBENCH_EMPTY":         "",
	"SERVEBENCH_JSON":          `{"a":[1,2],"b":"c d"}`,
}

type env struct {
	srv  *awsfake.Server
	lam  *awsfake.Lambda
	logs *awsfake.Logs
	fn   *lambdafn.Function
}

func setup(t *testing.T, fn awsfake.LambdaFunction) env {
	t.Helper()
	e := env{srv: awsfake.New(t), lam: awsfake.NewLambda(), logs: awsfake.NewLogs()}
	fn.Name = fnName
	e.lam.AddFunction(fn)
	e.lam.Install(e.srv)
	e.logs.AddGroup(logGroup)
	e.logs.Install(e.srv)
	cfg := e.srv.Config()
	e.fn = &lambdafn.Function{
		Name: fnName, LogGroup: logGroup,
		Lambda: lambda.NewFromConfig(cfg), Logs: cloudwatchlogs.NewFromConfig(cfg),
		Poll: time.Millisecond, Timeout: 10 * time.Second,
		Log: slog.New(slog.DiscardHandler),
	}
	return e
}

type update struct {
	Environment *struct{ Variables map[string]string }
	MemorySize  *int
	RevisionId  string
}

func (e env) updates(t *testing.T) []update {
	t.Helper()
	var out []update
	for _, c := range e.srv.Calls("lambda") {
		if c.Operation != putOp {
			continue
		}
		var u update
		if err := c.JSON(&u); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

// changed lists the keys whose values differ between a and b (present in one only, or different).
func changed(a, b map[string]string) []string {
	var keys []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// ForceCold sends back every variable unchanged and changes exactly one, guarded
// by the revision it read, then polls through InProgress until Successful.
func TestCloudForceColdKeepsEnvironment(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000, Env: serviceEnv, UpdatePolls: 2})
	var mu sync.Mutex
	var replaced []string
	e.lam.OnUpdate = func(name string) {
		mu.Lock()
		defer mu.Unlock()
		replaced = append(replaced, name)
	}
	ctx := context.Background()

	if err := e.fn.ForceCold(ctx); err != nil {
		t.Fatal(err)
	}
	// Read, write, then InProgress twice and Successful.
	if ops, want := e.srv.Operations("lambda"), []string{getOp, putOp, getOp, getOp, getOp}; !slices.Equal(ops, want) {
		t.Errorf("operations\n %v\nwant\n %v", ops, want)
	}
	ups := e.updates(t)
	if len(ups) != 1 || ups[0].Environment == nil {
		t.Fatalf("updates %+v, want one with an environment", ups)
	}
	first := ups[0].Environment.Variables
	if keys := changed(serviceEnv, first); !slices.Equal(keys, []string{lambdafn.ColdEpochVar}) {
		t.Errorf("the update changed %v, want exactly %s; sent %v", keys, lambdafn.ColdEpochVar, first)
	}
	if ups[0].MemorySize != nil || ups[0].RevisionId != "rev-1" {
		t.Errorf("update memory %v revision %q, want no memory and the revision read (rev-1)", ups[0].MemorySize, ups[0].RevisionId)
	}
	got, status, n, _ := e.lam.Function(fnName)
	if !maps.Equal(got.Env, first) || status != "Successful" || n != 1 || got.MemoryMB != 3000 {
		t.Errorf("function after: env %v status %s updates %d memory %d", got.Env, status, n, got.MemoryMB)
	}
	if !slices.Equal(replaced, []string{fnName}) {
		t.Errorf("OnUpdate calls %v, want one for %s", replaced, fnName)
	}

	// A second cold start changes the epoch again, and only it.
	if err := e.fn.ForceCold(ctx); err != nil {
		t.Fatal(err)
	}
	ups = e.updates(t)
	if len(ups) != 2 {
		t.Fatalf("%d updates, want 2", len(ups))
	}
	if keys := changed(first, ups[1].Environment.Variables); !slices.Equal(keys, []string{lambdafn.ColdEpochVar}) {
		t.Errorf("the second update changed %v, want exactly %s", keys, lambdafn.ColdEpochVar)
	}
	if ups[1].RevisionId != "rev-2" {
		t.Errorf("second update guarded by revision %q, want rev-2", ups[1].RevisionId)
	}
}

// A function without variables gets just the epoch.
func TestCloudForceColdNoEnvironment(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 1024})
	if err := e.fn.ForceCold(context.Background()); err != nil {
		t.Fatal(err)
	}
	ups := e.updates(t)
	if len(ups) != 1 || ups[0].Environment == nil || len(ups[0].Environment.Variables) != 1 || ups[0].Environment.Variables[lambdafn.ColdEpochVar] == "" {
		t.Errorf("updates %+v, want one setting only %s", ups, lambdafn.ColdEpochVar)
	}
}

// A failed update is an error carrying Lambda's reason; the fake keeps the old
// configuration, as Lambda does.
func TestCloudForceColdFailed(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000, Env: serviceEnv, UpdatePolls: 1})
	e.lam.FailNextUpdate(fnName, "ImageAccessDenied", "Lambda does not have permission to access the ECR image.")
	err := e.fn.ForceCold(context.Background())
	if err == nil {
		t.Fatal("failed update: no error")
	}
	for _, want := range []string{"failed", "ImageAccessDenied", "Lambda does not have permission to access the ECR image."} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if ops, want := e.srv.Operations("lambda"), []string{getOp, putOp, getOp, getOp}; !slices.Equal(ops, want) {
		t.Errorf("operations %v, want %v", ops, want)
	}
	if got, status, n, _ := e.lam.Function(fnName); !maps.Equal(got.Env, serviceEnv) || status != "Failed" || n != 0 {
		t.Errorf("after a failed update: env %v status %s updates %d", got.Env, status, n)
	}
}

// "An update is in progress" between the read and the write: wait, read again,
// send again.
func TestCloudForceColdConflict(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000, Env: serviceEnv})
	e.lam.ConflictNextUpdates(fnName, 2)
	if err := e.fn.ForceCold(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ops, want := e.srv.Operations("lambda"), []string{getOp, putOp, getOp, putOp, getOp, putOp, getOp}; !slices.Equal(ops, want) {
		t.Errorf("operations\n %v\nwant\n %v", ops, want)
	}
	if _, _, n, _ := e.lam.Function(fnName); n != 1 {
		t.Errorf("%d updates took effect, want 1", n)
	}
}

// Another client's update in progress is waited for, and its change is kept.
func TestCloudForceColdWaitsForUpdateInProgress(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000, Env: serviceEnv, UpdatePolls: 2})
	other := maps.Clone(serviceEnv)
	other["SERVEBENCH_OTHER"] = "set by another client"
	ctx := context.Background()
	if _, err := e.fn.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: &e.fn.Name, Environment: &types.Environment{Variables: other},
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.fn.ForceCold(ctx); err != nil {
		t.Fatal(err)
	}
	// The other update's PUT, then ours only once it is Successful.
	if ops, want := e.srv.Operations("lambda"), []string{putOp, getOp, getOp, getOp, putOp, getOp, getOp, getOp}; !slices.Equal(ops, want) {
		t.Errorf("operations\n %v\nwant\n %v", ops, want)
	}
	ups := e.updates(t)
	if keys := changed(other, ups[1].Environment.Variables); !slices.Equal(keys, []string{lambdafn.ColdEpochVar}) {
		t.Errorf("our update changed %v of the other client's environment, want exactly %s", keys, lambdafn.ColdEpochVar)
	}
}

// An environment Lambda cannot read is not rewritten: sending it back would drop
// every variable.
func TestCloudForceColdUnreadableEnvironment(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000, EnvErrorCode: "KMSAccessDeniedException", EnvErrorMessage: "Lambda was unable to decrypt the environment variables"})
	err := e.fn.ForceCold(context.Background())
	if err == nil || !strings.Contains(err.Error(), "KMSAccessDeniedException") || !strings.Contains(err.Error(), "drop") {
		t.Errorf("unreadable environment: %v; want a refusal naming the error", err)
	}
	if len(e.updates(t)) != 0 {
		t.Errorf("an update was sent")
	}
}

// An update that never ends is given up at the timeout, saying so.
func TestCloudForceColdTimeout(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000, Env: serviceEnv, UpdatePolls: 1 << 30})
	e.fn.Timeout = 50 * time.Millisecond
	// The caller's own deadline, far later, only keeps a broken Timeout from
	// hanging the test.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := e.fn.ForceCold(ctx)
	if err == nil || !strings.Contains(err.Error(), "not done within 50ms") {
		t.Errorf("endless update: %v; want the timeout named", err)
	}
}

// SetMemory sends only MemorySize (the environment is not touched) and waits;
// the size already set sends nothing.
func TestCloudSetMemory(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000, Env: serviceEnv, UpdatePolls: 1})
	ctx := context.Background()
	if err := e.fn.SetMemory(ctx, 1024); err != nil {
		t.Fatal(err)
	}
	if ops, want := e.srv.Operations("lambda"), []string{getOp, putOp, getOp, getOp}; !slices.Equal(ops, want) {
		t.Errorf("operations %v, want %v", ops, want)
	}
	ups := e.updates(t)
	if len(ups) != 1 || ups[0].MemorySize == nil || *ups[0].MemorySize != 1024 || ups[0].Environment != nil {
		t.Errorf("updates %+v, want one with MemorySize 1024 and no environment", ups)
	}
	if got, status, _, _ := e.lam.Function(fnName); got.MemoryMB != 1024 || status != "Successful" || !maps.Equal(got.Env, serviceEnv) {
		t.Errorf("function after: memory %d status %s env %v", got.MemoryMB, status, got.Env)
	}

	if err := e.fn.SetMemory(ctx, 1024); err != nil {
		t.Fatal(err)
	}
	if n := len(e.updates(t)); n != 1 {
		t.Errorf("setting the size already set sent an update (%d in all)", n)
	}

	err := e.fn.SetMemory(ctx, 64)
	if err == nil || !strings.Contains(err.Error(), "InvalidParameterValueException") {
		t.Errorf("64 MB: %v; want Lambda's refusal", err)
	}
}

// ForceCold satisfies the scenario's Coldable through a pointer, as the
// orchestrator uses it.
var _ interface{ ForceCold(context.Context) error } = (*lambdafn.Function)(nil)

// An unknown function is Lambda's ResourceNotFoundException, wrapped.
func TestCloudForceColdUnknownFunction(t *testing.T) {
	e := setup(t, awsfake.LambdaFunction{MemoryMB: 3000})
	e.fn.Name = "nope"
	err := e.fn.ForceCold(context.Background())
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "lambda nope") {
		t.Errorf("unknown function: %v; want ResourceNotFoundException naming the function", err)
	}
}
