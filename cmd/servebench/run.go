package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/servebench/servebench/bench/cloud/fleet"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/bench/stack"
	"github.com/servebench/servebench/study"
)

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, " ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// runCmd is `servebench run --target NAME=URL ... | --stack NAME ...`: the same
// scenarios against deployed endpoints.
func runCmd(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var lf loadFlags
	var targetFlags, stackFlags multi
	lf.register(fs, study.Burst, scenario.DeployedRate)
	fs.Var(&targetFlags, "target", "NAME=URL of a deployed service (repeatable)")
	fs.Var(&stackFlags, "stack", "Pulumi stack whose outputs name the endpoint (repeatable; needs the pulumi CLI)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: servebench run (-target NAME=URL | -stack NAME)... [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("run: unexpected argument %q (flags only)", fs.Arg(0))
	}
	targets, err := parseTargets(targetFlags)
	if err != nil {
		return err
	}
	fromStacks, deployments, err := stackTargets(ctx, stackFlags, stack.Outputs, ecsScalingHold(log))
	if err != nil {
		return err
	}
	targets = append(targets, fromStacks...)
	if len(targets) == 0 {
		return fmt.Errorf("run: no target: give -target NAME=URL or -stack NAME")
	}
	if err := uniqueNames(targets); err != nil {
		return err
	}
	started := time.Now()
	_, scenarios, err := lf.load(ctx, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "servebench run: %d targets; load: %s\n", len(targets), describe(scenarios))
	for _, t := range targets {
		fmt.Fprintf(os.Stdout, "  %s: %s (coldwarm cannot force it cold; its cold burst is as cold as it finds it)\n", t.Name, t.Endpoint())
	}
	dir := lf.outDir(started)
	err = measure(ctx, log, measurement{
		dir: dir, started: started, config: lf.config(fs), targets: targets, deployments: deployments,
		scenarios: scenarios, attacker: lf.attacker(), noReport: lf.noReport, prices: lf.prices, stdout: os.Stdout,
	})
	fmt.Fprintf(os.Stdout, "servebench run: wall time %s; output in %s\n", time.Since(started).Round(time.Second), dir)
	return err
}

// stackTargets are the endpoints of the named stacks (outputs reads a stack's
// outputs: stack.Outputs, or a test's) as targets — Cloud Functions as one target
// per memory size — and the deployment record of each target the outputs describe.
// An ECS target's scaling is held by hold (nil: not held).
func stackTargets(ctx context.Context, stacks []string, outputs func(context.Context, string) ([]byte, error), hold scalingHold) ([]scenario.Target, map[string]results.Deployment, error) {
	var targets []scenario.Target
	deployments := map[string]results.Deployment{}
	for _, name := range stacks {
		out, err := outputs(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		eps, err := stack.Endpoints(name, out)
		if err != nil {
			return nil, nil, err
		}
		for _, ep := range eps {
			t := ep.Target()
			if ep.Deployment != nil {
				deployments[ep.Name] = *ep.Deployment
				if ep.Deployment.Platform == "ecs" && hold != nil {
					if t.Scaling, err = hold(ctx, *ep.Deployment, out); err != nil {
						return nil, nil, err
					}
				}
			}
			targets = append(targets, t)
		}
	}
	if len(deployments) == 0 {
		deployments = nil
	}
	return targets, deployments, nil
}

// scalingHold makes the scenario.ScalingHold of a serverful stack's target from
// its deployment record and its outputs.
type scalingHold func(ctx context.Context, dep results.Deployment, outputs []byte) (scenario.ScalingHold, error)

// ecsScalingHold holds the scaling of the ECS service a serverful stack's outputs
// name (bench/cloud/fleet), on the default AWS credentials in the stack's region,
// as `servebench cloud` does: rate measures it at its minimum size, then scaling on.
func ecsScalingHold(log *slog.Logger) scalingHold {
	return func(ctx context.Context, dep results.Deployment, outputs []byte) (scenario.ScalingHold, error) {
		var out struct{ ClusterName, ServiceName string }
		if err := json.Unmarshal(outputs, &out); err != nil || out.ClusterName == "" || out.ServiceName == "" {
			return nil, fmt.Errorf("stack %s: outputs clusterName and serviceName are needed to hold its scaling during the rate scenario", dep.Stack)
		}
		var opts []func(*config.LoadOptions) error
		if dep.Region != "" {
			opts = append(opts, config.WithRegion(dep.Region))
		}
		cfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("stack %s: AWS configuration: %w", dep.Stack, err)
		}
		return fleet.Service{Cluster: out.ClusterName, Service: out.ServiceName,
			ECS: ecs.NewFromConfig(cfg), Scaling: applicationautoscaling.NewFromConfig(cfg), Log: log}, nil
	}
}

func parseTargets(fl []string) ([]scenario.Target, error) {
	var out []scenario.Target
	for _, v := range fl {
		name, raw, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("-target %q: must be NAME=URL, e.g. serverless=https://abc.execute-api.us-east-1.amazonaws.com", v)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-target %q: URL must be http(s)://host[/path]", v)
		}
		out = append(out, scenario.Target{Name: name, URL: strings.TrimRight(raw, "/")})
	}
	return out, nil
}

func uniqueNames(ts []scenario.Target) error {
	seen := map[string]bool{}
	for _, t := range ts {
		if seen[t.Name] {
			return fmt.Errorf("run: two targets named %q; names must differ", t.Name)
		}
		seen[t.Name] = true
	}
	return nil
}
