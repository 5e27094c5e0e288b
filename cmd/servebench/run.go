package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/bench/stack"
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
	lf.register(fs, 30, "1,2,5,10,20,50", 30*time.Second)
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
	fromStacks, deployments, err := stackTargets(ctx, stackFlags, stack.Outputs)
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
func stackTargets(ctx context.Context, stacks []string, outputs func(context.Context, string) ([]byte, error)) ([]scenario.Target, map[string]results.Deployment, error) {
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
			targets = append(targets, ep.Target())
			if ep.Deployment != nil {
				deployments[ep.Name] = *ep.Deployment
			}
		}
	}
	if len(deployments) == 0 {
		deployments = nil
	}
	return targets, deployments, nil
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
