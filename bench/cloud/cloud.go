// Package cloud is `servebench cloud`: the whole study on real clouds in one
// command. Preflight (before anything is created), the plan and its worst-case
// cost, deploy through the Pulumi Automation API, ready, the scenarios against
// every endpoint with verified cold starts, the Lambda memory sweep, the
// platforms' own figures, and teardown — always, on error and on Ctrl-C too —
// followed by a leftover check.
//
// Everything that reaches a cloud goes through Env, so the tests point it at
// in-process fakes and at a file backend with stub providers.
package cloud

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"google.golang.org/api/option"

	"github.com/servebench/servebench/bench/cloud/fleet"
	"github.com/servebench/servebench/bench/cloud/leftover"
	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
)

// Stacks the command knows, in the order it deploys them.
var Stacks = []string{"serverful", "serverless"}

// DefaultSampleEvery is how often the fleet's tasks and instances are sampled.
const DefaultSampleEvery = 5 * time.Second

// Options is one `servebench cloud` run.
type Options struct {
	Stacks         []string // subset of Stacks
	Root           string   // the checkout: Pulumi.yaml and the committed stack files
	LambdaMemoryMB []int    // the sweep's sizes; none: no sweep
	Keep           bool     // leave the stacks up (no teardown, no leftover check)
	MaxUSD         float64  // refuse a plan whose worst case costs more
	DryRun         bool     // stop after the plan and its estimate
	Out            string   // output directory (results.jsonl, leftovers.json, report)

	Scenarios []scenario.Scenario
	Attacker  *loadgen.Attacker
	Timeout   time.Duration // per-request timeout the scenarios use, for the estimate
	Prices    cost.PriceList
	// Header is the results header as the command line fills it (command,
	// config, versions, machine); Run adds targets, scenarios and deployments.
	Header results.Header

	Stdout io.Writer
	Log    *slog.Logger
	// Progress receives the Pulumi engine's progress (Up, Destroy); nil: Stdout.
	Progress io.Writer
	// Report writes the report from the results file into dir; nil: none.
	Report func(ctx context.Context, resultsPath, dir string) error
	// SampleEvery is the fleet sampling interval; 0: DefaultSampleEvery.
	SampleEvery time.Duration
	// DeployAllowance is the time the estimate adds for deploy and teardown.
	DeployAllowance time.Duration
	// ReadyTimeout bounds the wait until the stacks are ready; 0: DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// ReportsWait bounds the wait for Lambda's REPORT lines after the load;
	// 0: DefaultReportsWait.
	ReportsWait time.Duration
}

// Env is how Run reaches the clouds and the terminal.
type Env struct {
	AWS aws.Config
	GCP []option.ClientOption
	// PulumiEnv is added to the Pulumi CLI's environment (PULUMI_BACKEND_URL,
	// PULUMI_CONFIG_PASSPHRASE, ...); the process environment is passed through.
	PulumiEnv  map[string]string
	PulumiHome string // "" for the CLI's default (~/.pulumi)

	// LookPath finds an executable; nil: exec.LookPath.
	LookPath func(string) (string, error)
	// DockerInfo returns `docker info --format '{{json .}}'`; nil: runs docker.
	DockerInfo func(ctx context.Context) ([]byte, error)
	// Clouds makes the cloud-side pieces; nil: NewAWSClouds on AWS (in the
	// stacks' region) with AWSPoll.
	Clouds Clouds
	// AWSPoll is the interval of the real pieces' status polls; 0: theirs.
	AWSPoll time.Duration

	// Interrupts delivers the interrupts that follow the first (which cancels
	// Run's ctx); during teardown each one asks Confirm whether to abandon it.
	Interrupts <-chan struct{}
	// Confirm asks the user a yes/no question; nil: never abandon teardown.
	Confirm func(question string) bool
}

// Clouds is what Run needs from the clouds beside Pulumi: the account checks of
// preflight, and, once a stack is up, its fleet, its function and the leftover
// check.
type Clouds interface {
	// Identity is the caller's AWS account and ARN (STS GetCallerIdentity).
	Identity(ctx context.Context) (account, arn string, err error)
	// ECSServiceLinkedRole reports whether AWSServiceRoleForECS exists.
	ECSServiceLinkedRole(ctx context.Context) (bool, error)
	// LambdaConcurrency is the account's concurrency limit and its unreserved part.
	LambdaConcurrency(ctx context.Context) (limit, unreserved int, err error)
	// Fleet is the serverful stack's service, from its outputs.
	Fleet(out Outputs) (Fleet, error)
	// Function is the serverless stack's Lambda function, from its outputs.
	Function(out Outputs) (Function, error)
	// GCPPreflight checks the Google credentials and that project's Cloud
	// Functions API answers them.
	GCPPreflight(ctx context.Context, project string) error
	// CloudFunctions are the functions of a Cloud Functions target (route →
	// function name, as bench/stack's Endpoint.FunctionNames), forced cold together.
	CloudFunctions(ctx context.Context, project, region string, names map[string]string) (scenario.Coldable, error)
	// Leftovers finds what is left of the stacks after teardown.
	Leftovers(ctx context.Context, q leftover.Query) ([]leftover.Leftover, error)
}

// Fleet is the ECS service behind the load balancer (a fleet.Service is one).
type Fleet interface {
	Ready(ctx context.Context) error     // targets healthy, desired tasks running
	ForceCold(ctx context.Context) error // a new deployment, only new tasks left
	Sample(ctx context.Context) (fleet.FleetSample, error)
	// ScalingHold: the rate scenario measures the fleet at its minimum size with
	// its dynamic scaling suspended, then with it on.
	scenario.ScalingHold
}

// Function is the Lambda function behind API Gateway (a *lambdafn.Function is one).
type Function interface {
	ForceCold(ctx context.Context) error
	SetMemory(ctx context.Context, mb int) error
	// WaitReports returns the REPORT lines in the function's log between start
	// and end, waiting until deadline for those of ids, and the ids still
	// without one.
	WaitReports(ctx context.Context, start, end time.Time, ids []string, deadline time.Time) (map[string]results.PlatformReport, []string, error)
}

// Outputs are a stack's outputs by name.
type Outputs map[string]any

// String returns an output as a string ("" when missing or not a string).
func (o Outputs) String(k string) string {
	s, _ := o[k].(string)
	return s
}

// Int returns a numeric output (0 when missing).
func (o Outputs) Int(k string) int {
	switch v := o[k].(type) {
	case float64:
		return int(v)
	case int:
		return v
	}
	return 0
}
