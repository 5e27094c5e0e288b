// Package lambda stands up the serverless deployment on AWS: the service as a
// Lambda function from its container image behind an API Gateway HTTP API whose
// stage throttles requests, so a public endpoint cannot run up an unbounded bill.
package lambda

import (
	"fmt"
	"maps"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/apigatewayv2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	awslambda "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/study"

	"github.com/servebench/servebench/infra/access"
	"github.com/servebench/servebench/infra/naming"
	"github.com/servebench/servebench/infra/serviceenv"
)

// Limits and the component's own defaults; the study's (memory, timeout,
// throttling, log retention) come from package study.
const (
	DefaultArchitecture = "x86_64"
	// MaxIntegrationTimeoutSeconds is the most an API Gateway HTTP API waits for
	// an integration; a longer Lambda timeout would only be cut at the gateway.
	MaxIntegrationTimeoutSeconds = 30
	// DeadlineMargin is how much sooner than the function's timeout the service's
	// own request deadline falls: time to write its 504 and for the answer to cross
	// the Runtime API and the gateway, whose 30 s count from the gateway's side.
	DeadlineMargin = 3 * time.Second
	// MinTimeoutSeconds is the shortest function timeout that leaves the service a
	// request deadline of one second, the least it accepts, after DeadlineMargin.
	MinTimeoutSeconds = int((time.Second + DeadlineMargin) / time.Second)
)

// RequestTimeout is the service's request deadline in a function of the given
// timeout: DeadlineMargin short of it, so a request near the limit gets the
// service's JSON 504 instead of the gateway's 503 or Lambda's timeout.
func RequestTimeout(timeoutSeconds int) time.Duration {
	return time.Duration(timeoutSeconds)*time.Second - DeadlineMargin
}

// Routes are the service's routes on the HTTP API, all to the one function.
var Routes = []string{"POST /predict", "ANY /faces/{proxy+}", "GET /healthz"}

// FunctionArgs configures Function.
type FunctionArgs struct {
	Namer    naming.Namer
	ImageURI pulumi.StringInput
	Env      pulumi.StringMap
	// InputBucketArn and OutputBucketArn scope the role.
	InputBucketArn, OutputBucketArn pulumi.StringInput

	// The settings below are optional: unset (nil, zero, empty) takes the study's
	// value (package study) or the component's default. The stacks set every one
	// from their configuration, where the defaults are applied. None of the
	// numbers may be 0 but ReservedConcurrency, which is a pointer (0 stops the
	// function; nil leaves it the account's pool).
	MemoryMB            int
	TimeoutSeconds      int
	Architecture        string
	ReservedConcurrency *int
	ThrottleRate        float64 // stage default route, requests per second
	ThrottleBurst       int
	LogRetentionDays    int
}

// Function is the Lambda function and its HTTP API.
type Function struct {
	pulumi.ResourceState

	URL          pulumi.StringOutput `pulumi:"url"`
	FunctionName pulumi.StringOutput `pulumi:"functionName"`
	FunctionArn  pulumi.StringOutput `pulumi:"functionArn"`
	APIID        pulumi.StringOutput `pulumi:"apiId"`
	LogGroupName pulumi.StringOutput `pulumi:"logGroupName"`
}

func (a *FunctionArgs) defaults() {
	if a.MemoryMB == 0 {
		a.MemoryMB = study.LambdaMemoryMB
	}
	if a.TimeoutSeconds == 0 {
		a.TimeoutSeconds = study.LambdaTimeoutSeconds
	}
	if a.Architecture == "" {
		a.Architecture = DefaultArchitecture
	}
	if a.ThrottleRate == 0 {
		a.ThrottleRate = study.ThrottleRate
	}
	if a.ThrottleBurst == 0 {
		a.ThrottleBurst = study.ThrottleBurst
	}
	if a.LogRetentionDays == 0 {
		a.LogRetentionDays = study.LogRetentionDays
	}
}

// NewFunction creates the function, its role and logs, and the HTTP API.
func NewFunction(ctx *pulumi.Context, name string, args *FunctionArgs, opts ...pulumi.ResourceOption) (*Function, error) {
	a := *args
	a.defaults()
	if a.TimeoutSeconds > MaxIntegrationTimeoutSeconds {
		return nil, fmt.Errorf("lambda %s: timeout %d s is above the %d s an API Gateway HTTP API waits", name, a.TimeoutSeconds, MaxIntegrationTimeoutSeconds)
	}
	if a.TimeoutSeconds < MinTimeoutSeconds {
		return nil, fmt.Errorf("lambda %s: timeout %d s is below %d s, which leaves the service a second for a request after the %v margin", name, a.TimeoutSeconds, MinTimeoutSeconds, DeadlineMargin)
	}
	env := maps.Clone(a.Env)
	if env == nil {
		env = pulumi.StringMap{}
	}
	env[serviceenv.EnvRequestTimeout] = pulumi.String(RequestTimeout(a.TimeoutSeconds).String())
	c := &Function{}
	if err := ctx.RegisterComponentResource("servebench:infra:LambdaFunction", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	fnName := a.Namer.Name("service", naming.MaxLambda)

	// The log group exists before the function, so Lambda does not create one that
	// never expires and the role needs no logs:CreateLogGroup.
	logs, err := cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/lambda/" + fnName),
		RetentionInDays: pulumi.Int(a.LogRetentionDays),
	}, parent)
	if err != nil {
		return nil, err
	}
	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		Name:             pulumi.String(a.Namer.Name("lambda", naming.MaxIAMRole)),
		AssumeRolePolicy: pulumi.String(access.AssumeRole("lambda.amazonaws.com")),
	}, parent)
	if err != nil {
		return nil, err
	}
	policy, err := iam.NewRolePolicy(ctx, name+"-role-policy", &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: access.BucketPolicy(a.InputBucketArn, a.OutputBucketArn, logs.Arn),
	}, parent)
	if err != nil {
		return nil, err
	}
	fnArgs := &awslambda.FunctionArgs{
		Name:          pulumi.String(fnName),
		PackageType:   pulumi.String("Image"),
		ImageUri:      a.ImageURI,
		Role:          role.Arn,
		MemorySize:    pulumi.Int(a.MemoryMB),
		Timeout:       pulumi.Int(a.TimeoutSeconds),
		Architectures: pulumi.StringArray{pulumi.String(a.Architecture)},
		Environment:   &awslambda.FunctionEnvironmentArgs{Variables: env},
	}
	if a.ReservedConcurrency != nil {
		fnArgs.ReservedConcurrentExecutions = pulumi.Int(*a.ReservedConcurrency)
	}
	fn, err := awslambda.NewFunction(ctx, name+"-function", fnArgs, parent, pulumi.DependsOn([]pulumi.Resource{logs, policy}))
	if err != nil {
		return nil, err
	}

	api, err := apigatewayv2.NewApi(ctx, name+"-api", &apigatewayv2.ApiArgs{
		Name:         pulumi.String(a.Namer.Name("api", 128)),
		ProtocolType: pulumi.String("HTTP"),
	}, parent)
	if err != nil {
		return nil, err
	}
	integ, err := apigatewayv2.NewIntegration(ctx, name+"-integration", &apigatewayv2.IntegrationArgs{
		ApiId:                api.ID(),
		IntegrationType:      pulumi.String("AWS_PROXY"),
		IntegrationUri:       fn.InvokeArn,
		PayloadFormatVersion: pulumi.String("2.0"),
		TimeoutMilliseconds:  pulumi.Int(MaxIntegrationTimeoutSeconds * 1000),
	}, parent)
	if err != nil {
		return nil, err
	}
	var deps []pulumi.Resource
	for i, key := range Routes {
		r, err := apigatewayv2.NewRoute(ctx, fmt.Sprintf("%s-route-%d", name, i), &apigatewayv2.RouteArgs{
			ApiId:    api.ID(),
			RouteKey: pulumi.String(key),
			Target:   pulumi.Sprintf("integrations/%s", integ.ID()),
		}, parent)
		if err != nil {
			return nil, err
		}
		deps = append(deps, r)
	}
	if _, err := apigatewayv2.NewStage(ctx, name+"-stage", &apigatewayv2.StageArgs{
		ApiId:      api.ID(),
		Name:       pulumi.String("$default"),
		AutoDeploy: pulumi.Bool(true),
		DefaultRouteSettings: &apigatewayv2.StageDefaultRouteSettingsArgs{
			ThrottlingRateLimit:  pulumi.Float64(a.ThrottleRate),
			ThrottlingBurstLimit: pulumi.Int(a.ThrottleBurst),
		},
	}, parent, pulumi.DependsOn(deps)); err != nil {
		return nil, err
	}
	if _, err := awslambda.NewPermission(ctx, name+"-invoke", &awslambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  fn.Name,
		Principal: pulumi.String("apigateway.amazonaws.com"),
		SourceArn: pulumi.Sprintf("%s/*/*", api.ExecutionArn),
	}, parent); err != nil {
		return nil, err
	}

	c.URL = api.ApiEndpoint
	c.FunctionName = fn.Name
	c.FunctionArn = fn.Arn
	c.APIID = api.ID().ToStringOutput()
	c.LogGroupName = logs.Name
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"url": c.URL, "functionName": c.FunctionName, "functionArn": c.FunctionArn,
		"apiId": c.APIID, "logGroupName": c.LogGroupName,
	})
}
