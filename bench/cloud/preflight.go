package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	acct "github.com/servebench/servebench/bench/cloud/account"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// containerdStore is the DriverStatus entry of Docker's containerd image store,
// which pushes an image index that Lambda rejects (README, "Docker's image store").
const containerdStore = "io.containerd.snapshotter.v1"

// stackPlan is one stack as its committed file configures it.
type stackPlan struct {
	name   string
	config map[string]string // key → value as written; structured values as JSON
}

// get is a key's value as the program reads it: the stack file's, else the
// default of stackconfig.Keys.
func (p stackPlan) get(key string) string {
	if v, ok := p.config[key]; ok {
		return v
	}
	for _, k := range stackconfig.Keys {
		if k.Name == key {
			return k.Default
		}
	}
	return ""
}

// Error is a refusal before anything was created: what is missing and how to
// get it.
type Error struct {
	Check string // "pulumi", "aws", "docker", "ecs-role", "lambda-concurrency", "budget", ...
	Msg   string
	Err   error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("preflight %s: %s: %v", e.Check, e.Msg, e.Err)
	}
	return fmt.Sprintf("preflight %s: %s", e.Check, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

func refuse(check string, err error, format string, args ...any) error {
	return &Error{Check: check, Msg: fmt.Sprintf(format, args...), Err: err}
}

// preflight checks, before anything is created, that everything a run needs is
// there, and reads the stacks' configuration for the plan.
func preflight(ctx context.Context, o Options, env Env, eng stackEngine, region *string) ([]stackPlan, error) {
	lookPath := env.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	if _, err := lookPath("pulumi"); err != nil {
		return nil, refuse("pulumi", err, "the pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/iac/download-install/) and run `pulumi login`")
	}
	who, err := eng.whoAmI(ctx)
	if err != nil {
		return nil, refuse("pulumi", err, "no Pulumi backend")
	}
	o.Log.Info("preflight: pulumi", "backend", who)

	var plans []stackPlan
	for _, name := range o.Stacks {
		p, err := readStackFile(eng, name)
		if err != nil {
			return nil, refuse("stack", err, "stack %s", name)
		}
		switch r := p.get(stackconfig.KeyAWSRegion); {
		case r == "":
			return nil, refuse("region", nil, "Pulumi.%s.yaml sets no aws:region: `pulumi config set aws:region us-east-1 --stack %s`", name, name)
		case *region != "" && *region != r:
			return nil, refuse("region", nil, "the stacks are in different regions (%s, %s): put them in one", *region, r)
		default:
			*region = r
		}
		plans = append(plans, p)
	}
	existing, err := eng.resources(ctx)
	if err != nil {
		return nil, refuse("pulumi", err, "listing the backend's stacks")
	}
	for _, p := range plans {
		if n := existing[p.name]; n > 0 {
			return nil, refuse("stack", nil, "stack %s already holds %d resources, not created by this command: measure it with `servebench run -stack %s`, or tear it down with `pulumi destroy --stack %s` first", p.name, n, p.name, p.name)
		}
	}
	return plans, nil
}

// checkAccount is the cloud side of preflight: credentials, Docker, the ECS
// service-linked role and the Lambda concurrency against the largest burst.
func checkAccount(ctx context.Context, o Options, env Env, clouds Clouds, region string, gcp gcpTarget) error {
	account, arn, err := clouds.Identity(ctx)
	if err != nil {
		return refuse("aws", err, "AWS identity in %s", region)
	}
	o.Log.Info("preflight: aws", "account", account, "arn", arn, "region", region)
	if err := checkDocker(ctx, env, slices.Contains(o.Stacks, "serverless")); err != nil {
		return err
	}
	if slices.Contains(o.Stacks, "serverful") {
		ok, err := clouds.ECSServiceLinkedRole(ctx)
		if err != nil {
			return refuse("ecs-role", err, "checking the ECS service-linked role")
		}
		if !ok {
			return refuse("ecs-role", nil, "account %s has no ECS service-linked role (%s), which the cluster's capacity provider needs: create it once with `%s`", account, acct.ECSServiceLinkedRoleName, acct.CreateECSServiceLinkedRole)
		}
	}
	if slices.Contains(o.Stacks, "serverless") {
		limit, unreserved, err := clouds.LambdaConcurrency(ctx)
		if err != nil {
			return refuse("lambda-concurrency", err, "reading the account's Lambda concurrency (GetAccountSettings)")
		}
		if err := acct.CheckLambdaConcurrency(limit, unreserved, largestBurst(o.Scenarios)); err != nil {
			return refuse("lambda-concurrency", err, "account %s (-burst, -faces-burst and -batch-size set the bursts)", account)
		}
		if gcp.project != "" {
			if err := clouds.GCPPreflight(ctx, gcp.project); err != nil {
				return refuse("gcp", err, "the serverless stack sets gcp:project %s for Cloud Functions", gcp.project)
			}
		}
	}
	return nil
}

// checkDocker: a daemon must answer (the stacks build the image); for Lambda its
// image store must not be containerd's, whose push Lambda rejects.
func checkDocker(ctx context.Context, env Env, lambda bool) error {
	info := env.DockerInfo
	if info == nil {
		info = dockerInfo
	}
	raw, err := info(ctx)
	if err != nil {
		return refuse("docker", err, "no Docker daemon answers `docker info`; the stacks build the service image: start Docker (or set DOCKER_HOST) and retry")
	}
	var d struct {
		ServerVersion string
		DriverStatus  [][]string
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return refuse("docker", err, "`docker info --format '{{json .}}'` answered something unreadable")
	}
	for _, kv := range d.DriverStatus {
		if lambda && slices.Contains(kv, containerdStore) {
			return refuse("docker", nil, "Docker %s uses the containerd image store (%s), which pushes an image index that Lambda rejects: deploy from a daemon with the classic store ({\"features\": {\"containerd-snapshotter\": false}} in /etc/docker/daemon.json, then restart dockerd; README, \"Docker's image store\")", d.ServerVersion, containerdStore)
		}
	}
	return nil
}

func dockerInfo(ctx context.Context) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "info", "--format", "{{json .}}")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// largestBurst is the most requests a plan sends at once.
func largestBurst(ss []scenario.Scenario) int {
	n := 0
	for _, s := range ss {
		switch v := s.(type) {
		case scenario.Batches:
			n = max(n, v.Size)
		case scenario.ColdWarm:
			n = max(n, v.Burst)
			if slices.ContainsFunc(v.Functions, func(f string) bool { return strings.HasPrefix(f, "faces/") }) {
				n = max(n, v.FacesBurst)
			}
		}
	}
	return n
}

// readStackFile reads Pulumi.<stack>.yaml's config, structured values as JSON.
func readStackFile(eng stackEngine, name string) (stackPlan, error) {
	b, err := eng.stackFile(name)
	if err != nil {
		return stackPlan{}, err
	}
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return stackPlan{}, fmt.Errorf("Pulumi.%s.yaml: %w", name, err)
	}
	p := stackPlan{name: name, config: map[string]string{}}
	for k, v := range f.Config {
		switch x := v.(type) {
		case string:
			p.config[k] = x
		default:
			j, err := json.Marshal(x)
			if err != nil {
				return p, fmt.Errorf("Pulumi.%s.yaml: %s: %w", name, k, err)
			}
			p.config[k] = string(j)
		}
	}
	if m := p.get(stackconfig.KeyMode); m != name {
		return p, fmt.Errorf("Pulumi.%s.yaml: servebench:mode is %q, want %q", name, m, name)
	}
	return p, nil
}

func sortedStrings(s []string) []string {
	sort.Strings(s)
	return s
}

var errNoStacks = errors.New("no stacks: give -stacks with one or more of " + strings.Join(Stacks, ","))
