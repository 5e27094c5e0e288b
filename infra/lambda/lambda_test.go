package lambda

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/infra/naming"
	"github.com/servebench/servebench/infra/serviceenv"
	"github.com/servebench/servebench/internal/pulumimock"
	"github.com/servebench/servebench/study"
)

const (
	inArn  = "arn:aws:s3:::in-bucket"
	outArn = "arn:aws:s3:::out-bucket"
)

// The service's deadline falls DeadlineMargin short of the function's timeout, and
// the shortest timeout allowed still leaves the service the one second it accepts.
func TestRequestTimeout(t *testing.T) {
	if got := RequestTimeout(30); got != 27*time.Second || got.String() != "27s" {
		t.Errorf("RequestTimeout(30) = %v, want 27s", got)
	}
	if got := RequestTimeout(MinTimeoutSeconds); got != time.Second {
		t.Errorf("RequestTimeout(MinTimeoutSeconds = %d) = %v, want 1s", MinTimeoutSeconds, got)
	}
	if got := RequestTimeout(MinTimeoutSeconds - 1); got >= time.Second {
		t.Errorf("RequestTimeout(%d) = %v: MinTimeoutSeconds is not the shortest", MinTimeoutSeconds-1, got)
	}
}

// newFunction constructs the component alone under mocks, with only what it
// requires and what set changes.
func newFunction(t *testing.T, set func(*FunctionArgs)) (*pulumimock.Recorder, error) {
	t.Helper()
	args := &FunctionArgs{
		Namer:           naming.New("sb", "test"),
		ImageURI:        pulumi.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/sb@sha256:ab"),
		Env:             pulumi.StringMap{"A": pulumi.String("1")},
		InputBucketArn:  pulumi.String(inArn),
		OutputBucketArn: pulumi.String(outArn),
	}
	if set != nil {
		set(args)
	}
	m := &pulumimock.Recorder{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := NewFunction(ctx, "fn", args)
		return err
	}, pulumi.WithMocks("sb", "test", m))
	return m, err
}

func mustFunction(t *testing.T, set func(*FunctionArgs)) *pulumimock.Recorder {
	t.Helper()
	m, err := newFunction(t, set)
	if err != nil {
		t.Fatalf("NewFunction: %v", err)
	}
	return m
}

// Unset settings take the study's values (package study), and the service's
// deadline follows the timeout.
func TestDefaultsAreTheStudys(t *testing.T) {
	m := mustFunction(t, nil)
	fn := m.One(t, "aws:lambda/function:Function").Inputs
	if fn["memorySize"] != float64(study.LambdaMemoryMB) || fn["timeout"] != float64(study.LambdaTimeoutSeconds) {
		t.Errorf("memory %v MB, timeout %v s; want %d, %d", fn["memorySize"], fn["timeout"], study.LambdaMemoryMB, study.LambdaTimeoutSeconds)
	}
	env := pulumimock.Get(t, fn, "environment", "variables").(map[string]any)
	if want := RequestTimeout(study.LambdaTimeoutSeconds).String(); env[serviceenv.EnvRequestTimeout] != want || env["A"] != "1" {
		t.Errorf("environment %v, want the caller's and %s=%s", env, serviceenv.EnvRequestTimeout, want)
	}
	if _, set := fn["reservedConcurrentExecutions"]; set {
		t.Errorf("reserved concurrency %v, want the account's pool", fn["reservedConcurrentExecutions"])
	}
	rs := m.One(t, "aws:apigatewayv2/stage:Stage").Inputs["defaultRouteSettings"]
	if pulumimock.Get(t, rs, "throttlingRateLimit") != float64(study.ThrottleRate) || pulumimock.Get(t, rs, "throttlingBurstLimit") != float64(study.ThrottleBurst) {
		t.Errorf("stage throttling %v, want %d/s, burst %d", rs, study.ThrottleRate, study.ThrottleBurst)
	}
	if r := m.One(t, "aws:cloudwatch/logGroup:LogGroup").Inputs["retentionInDays"]; r != float64(study.LogRetentionDays) {
		t.Errorf("log retention %v, want %d", r, study.LogRetentionDays)
	}
}

// Given settings reach their resources; a reserved concurrency of 0 is a value
// (the function stopped), not "unset".
func TestSettingsAsGiven(t *testing.T) {
	m := mustFunction(t, func(a *FunctionArgs) {
		a.MemoryMB, a.TimeoutSeconds, a.Architecture = 2048, 10, "arm64"
		a.ReservedConcurrency = new(0)
		a.ThrottleRate, a.ThrottleBurst = 5, 7
	})
	fn := m.One(t, "aws:lambda/function:Function").Inputs
	if fn["memorySize"] != 2048.0 || fn["timeout"] != 10.0 || !slices.Equal(fn["architectures"].([]any), []any{"arm64"}) {
		t.Errorf("function %v MB, %v s, %v; want 2048, 10, arm64", fn["memorySize"], fn["timeout"], fn["architectures"])
	}
	if rc, set := fn["reservedConcurrentExecutions"]; !set || rc != 0.0 {
		t.Errorf("reserved concurrency %v (set %v), want 0", rc, set)
	}
	if d := pulumimock.Get(t, fn, "environment", "variables", serviceenv.EnvRequestTimeout); d != "7s" {
		t.Errorf("service deadline %v, want 7s (10 s less the margin)", d)
	}
	rs := m.One(t, "aws:apigatewayv2/stage:Stage").Inputs["defaultRouteSettings"]
	if pulumimock.Get(t, rs, "throttlingRateLimit") != 5.0 || pulumimock.Get(t, rs, "throttlingBurstLimit") != 7.0 {
		t.Errorf("stage throttling %v, want 5/s, burst 7", rs)
	}
}

// What is public: the HTTP API with the service's routes only, through a stage
// that throttles, and only that API may invoke the function.
func TestExposure(t *testing.T) {
	m := mustFunction(t, nil)
	var keys []string
	for _, r := range m.ByType("aws:apigatewayv2/route:Route") {
		keys = append(keys, r.Inputs["routeKey"].(string))
	}
	slices.Sort(keys)
	want := slices.Sorted(slices.Values(Routes))
	if !slices.Equal(keys, want) {
		t.Errorf("routes %v, want %v", keys, want)
	}
	integ := m.One(t, "aws:apigatewayv2/integration:Integration").Inputs
	if integ["timeoutMilliseconds"] != float64(MaxIntegrationTimeoutSeconds*1000) || integ["integrationType"] != "AWS_PROXY" {
		t.Errorf("integration %v", integ)
	}
	perm := m.One(t, "aws:lambda/permission:Permission").Inputs
	if perm["principal"] != "apigateway.amazonaws.com" || perm["sourceArn"] != "arn:aws:execute-api:us-east-1:"+pulumimock.Account+":abc123/*/*" {
		t.Errorf("invoke permission %v, want API Gateway from this API only", perm)
	}
}

// IAM: the role may use the two buckets and write its own log group, nothing
// else, and only Lambda may assume it.
func TestRole(t *testing.T) {
	m := mustFunction(t, nil)
	if n := len(m.ByType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")); n != 0 {
		t.Errorf("%d managed policies, want 0", n)
	}
	var doc struct {
		Statement []struct {
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(m.One(t, "aws:iam/rolePolicy:RolePolicy").Inputs["policy"].(string)), &doc); err != nil {
		t.Fatal(err)
	}
	logs := m.One(t, "aws:cloudwatch/logGroup:LogGroup")
	logArn := "arn:aws:logs:us-east-1:" + pulumimock.Account + ":log-group:" + logs.Inputs["name"].(string)
	var sawLogs bool
	for _, st := range doc.Statement {
		for _, r := range st.Resource {
			switch {
			case strings.HasPrefix(r, inArn), strings.HasPrefix(r, outArn):
			case r == logArn+":*":
				sawLogs = true
			default:
				t.Errorf("role reaches %s (%v), want the buckets and its log group only", r, st.Action)
			}
		}
	}
	if !sawLogs {
		t.Errorf("role policy %+v does not let the function write its log group %s", doc, logArn)
	}
	trust := m.One(t, "aws:iam/role:Role").Inputs["assumeRolePolicy"].(string)
	if !strings.Contains(trust, `"Service":"lambda.amazonaws.com"`) || strings.Count(trust, "Service") != 1 {
		t.Errorf("trust policy %s, want Lambda only", trust)
	}
}

// The component refuses a timeout outside what the gateway and the service allow,
// before it creates anything, whoever calls it.
func TestTimeoutBounds(t *testing.T) {
	for _, tc := range []struct {
		seconds int
		want    string
	}{
		{MinTimeoutSeconds - 1, "below 4 s"},
		{MaxIntegrationTimeoutSeconds + 1, "above the 30 s"},
	} {
		m, err := newFunction(t, func(a *FunctionArgs) { a.TimeoutSeconds = tc.seconds })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("timeout %d: %v, want an error containing %q", tc.seconds, err, tc.want)
		}
		if len(m.Resources) != 0 {
			t.Errorf("timeout %d: %d resources created", tc.seconds, len(m.Resources))
		}
	}
}
