package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/servebench/servebench/bench/cloud/leftover"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/infra/naming"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// LeftoversFile is where the leftover check's findings are written.
const LeftoversFile = "leftovers.json"

// DefaultReadyTimeout bounds the wait for the fleet and every endpoint's
// /healthz; readyPoll is the /healthz polling interval.
const (
	DefaultReadyTimeout = 10 * time.Minute
	readyPoll           = 2 * time.Second
)

// Run is `servebench cloud`: preflight, plan and estimate, deploy, ready,
// measure, teardown and the leftover check. Teardown runs whatever happened
// after the first stack began to deploy — an error, a cancelled ctx (the first
// Ctrl-C) — unless o.Keep; a further interrupt during teardown asks before
// abandoning it. Anything left after teardown is an error naming it.
func Run(ctx context.Context, o Options, env Env) error {
	if err := o.check(); err != nil {
		return err
	}
	return run(ctx, o, env, newEngine(o.Root, env, o.Progress))
}

func run(ctx context.Context, o Options, env Env, eng stackEngine) error {
	var region string
	plans, err := preflight(ctx, o, env, eng, &region)
	if err != nil {
		return err
	}
	clouds := env.Clouds
	if clouds == nil {
		cfg := env.AWS.Copy()
		cfg.Region = region // the stacks' region decides
		clouds = NewAWSClouds(cfg, env.GCP, env.AWSPoll)
	}
	if err := checkAccount(ctx, o, env, clouds, region, gcpOf(plans)); err != nil {
		return err
	}
	est, err := estimate(o, plans)
	if err != nil {
		return err
	}
	printPlan(o, region, plannedTime(o, plans))
	if err := est.Print(o.Stdout); err != nil {
		return err
	}
	if err := est.Within(o.MaxUSD, "-max-usd"); err != nil {
		return refuse("budget", err, "nothing created (-functions predict, fewer -rates or -lambda-memory sizes lower the load)")
	}
	if o.DryRun {
		fmt.Fprintln(o.Stdout, "dry run: nothing created")
		return nil
	}

	var created []string
	runErr := lifecycle(ctx, o, eng, clouds, gcpOf(plans), &created)
	if o.Keep {
		if len(created) > 0 {
			fmt.Fprintf(o.Stdout, "-keep: stacks %s left up (and billing); tear them down with `pulumi destroy --stack NAME` in %s\n", strings.Join(created, ", "), o.Root)
		}
		return runErr
	}
	return errors.Join(runErr, teardown(ctx, o, env, eng, clouds, created))
}

func (o *Options) check() error {
	if len(o.Stacks) == 0 {
		return errNoStacks
	}
	for _, s := range o.Stacks {
		if !slices.Contains(Stacks, s) {
			return fmt.Errorf("-stacks: %q is not one of %s", s, strings.Join(Stacks, ", "))
		}
	}
	// Deploy in the fixed order, whatever the flag's.
	var ordered []string
	for _, s := range Stacks {
		if slices.Contains(o.Stacks, s) {
			ordered = append(ordered, s)
		}
	}
	o.Stacks = ordered
	for _, mb := range o.LambdaMemoryMB {
		if mb < 128 || mb > 10240 {
			return fmt.Errorf("-lambda-memory %d: Lambda allows 128 to 10240 MB", mb)
		}
	}
	if o.Out == "" {
		return errors.New("no output directory")
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = o.Stdout
	}
	if o.SampleEvery <= 0 {
		o.SampleEvery = DefaultSampleEvery
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.ReportsWait <= 0 {
		o.ReportsWait = DefaultReportsWait
	}
	if o.DeployAllowance <= 0 {
		o.DeployAllowance = DefaultDeployAllowance
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Prices.Date == "" {
		return errors.New("no price list")
	}
	return nil
}

func printPlan(o Options, region string, planned time.Duration) {
	most := 0
	for _, s := range o.Stacks {
		most = max(most, requestsPerTarget(o.Scenarios, stackTarget(s)))
	}
	fmt.Fprintf(o.Stdout, "servebench cloud: stacks %s in %s for at most %s; at most %d requests per target", strings.Join(o.Stacks, ", "), region, planned.Round(time.Minute), most)
	if slices.Contains(o.Stacks, "serverless") && len(o.LambdaMemoryMB) > 0 {
		fmt.Fprintf(o.Stdout, "; Lambda memory sweep %v MB", o.LambdaMemoryMB)
	}
	fmt.Fprintln(o.Stdout)
}

// gcpTarget says where a serverless stack's Cloud Functions run.
type gcpTarget struct{ project, region string }

// lifecycle deploys, waits until ready and measures; created collects every
// stack whose deploy began, which teardown then destroys.
func lifecycle(ctx context.Context, o Options, eng stackEngine, clouds Clouds, gcp gcpTarget, created *[]string) error {
	d := deployed{deployments: map[string]results.Deployment{}}
	for _, name := range o.Stacks {
		*created = append(*created, name)
		o.Log.Info("deploy", "stack", name)
		start := time.Now()
		out, err := eng.up(ctx, name)
		if err != nil {
			return err
		}
		o.Log.Info("deployed", "stack", name, "took", time.Since(start).Round(time.Second))
		if err := d.add(ctx, name, out, clouds, gcp); err != nil {
			return err
		}
	}
	if err := ready(ctx, o, d); err != nil {
		return err
	}
	path, err := measure(ctx, o, d)
	if path != "" && o.Report != nil {
		// A fresh context: an interrupted run still gets its report.
		if rerr := o.Report(context.WithoutCancel(ctx), path, o.Out); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// ready waits for the fleet to be steady and for /healthz to answer through
// every endpoint.
func ready(ctx context.Context, o Options, d deployed) error {
	ctx, cancel := context.WithTimeout(ctx, o.ReadyTimeout)
	defer cancel()
	if d.fleet != nil {
		if err := d.fleet.Ready(ctx); err != nil {
			return fmt.Errorf("ready: serverful fleet: %w", err)
		}
	}
	for _, t := range d.targets {
		if t.URL == "" {
			// Cloud Functions: one function per route, each ACTIVE once its
			// deploy ended; there is no base URL with a /healthz.
			continue
		}
		if err := healthy(ctx, t.URL+"/healthz"); err != nil {
			return fmt.Errorf("ready: %s: %w", t.Name, err)
		}
		o.Log.Info("ready", "target", t.Name, "url", t.URL)
	}
	return nil
}

// healthy polls url until it answers 200.
func healthy(ctx context.Context, url string) error {
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("GET %s did not answer 200 in time: %w (last: %v)", url, ctx.Err(), last)
		case <-time.After(readyPoll):
		}
	}
}

// teardown destroys every created stack, in reverse order, with a context the
// first Ctrl-C does not cancel; a further interrupt asks before abandoning it.
// Then the leftover check, printed and written to the output directory.
func teardown(ctx context.Context, o Options, env Env, eng stackEngine, clouds Clouds, created []string) error {
	if len(created) == 0 {
		return nil
	}
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-env.Interrupts:
				if env.Confirm != nil && env.Confirm(fmt.Sprintf("Abandon teardown? Stacks %s will keep running and billing until you run `pulumi destroy` yourself", strings.Join(created, ", "))) {
					cancel()
					return
				}
			}
		}
	}()
	var errs []error
	for _, stack := range slices.Backward(created) {
		o.Log.Info("teardown", "stack", stack)
		if err := eng.destroy(tctx, stack); err != nil {
			errs = append(errs, err)
		}
	}
	if tctx.Err() != nil {
		errs = append(errs, fmt.Errorf("teardown abandoned: run `pulumi destroy --stack NAME` in %s for %s", o.Root, strings.Join(created, ", ")))
		return errors.Join(errs...)
	}
	errs = append(errs, checkLeftovers(tctx, o, clouds, created))
	return errors.Join(errs...)
}

// checkLeftovers looks for anything of the stacks still in the account, prints
// it and writes it to LeftoversFile; anything found is an error naming it.
func checkLeftovers(ctx context.Context, o Options, clouds Clouds, created []string) error {
	var all []leftover.Leftover
	for _, stack := range created {
		// The names the program gives them (stacks, infra/naming).
		n := naming.New(Project, stack)
		q := leftover.Query{
			Tags:             stackconfig.DefaultTags(Project, stack),
			Repositories:     []string{n.Name(stackconfig.ImageTarget[stack], naming.MaxECRRepository)},
			LogGroupPrefixes: []string{"/aws/lambda/" + n.Base, "/ecs/" + n.Base},
		}
		left, err := clouds.Leftovers(ctx, q)
		if err != nil {
			return fmt.Errorf("leftover check of %s: %w (check the account by hand: resources tagged %s=%s)", stack, err, stackconfig.TagStack, stack)
		}
		all = append(all, left...)
	}
	if err := os.MkdirAll(o.Out, 0o755); err == nil {
		b, _ := json.MarshalIndent(map[string]any{"checked": time.Now().UTC(), "stacks": created, "leftovers": nonNil(all)}, "", "  ")
		if err := os.WriteFile(filepath.Join(o.Out, LeftoversFile), append(b, '\n'), 0o644); err != nil {
			o.Log.Warn("leftovers file", "err", err)
		}
	}
	if len(all) == 0 {
		fmt.Fprintf(o.Stdout, "leftover check: nothing of %s left\n", strings.Join(created, ", "))
		return nil
	}
	var names []string
	fmt.Fprintf(o.Stdout, "leftover check: %d resources left:\n", len(all))
	for _, l := range all {
		fmt.Fprintf(o.Stdout, "  %s\n", l)
		names = append(names, l.Kind+" "+l.ID)
	}
	return fmt.Errorf("left after teardown (delete them by hand; they may cost money): %s", strings.Join(names, ", "))
}

func nonNil(l []leftover.Leftover) []leftover.Leftover {
	if l == nil {
		return []leftover.Leftover{}
	}
	return l
}

// Project is the Pulumi project (Pulumi.yaml): it prefixes every name a stack
// gives its resources and is one of the tags the leftover check finds them by.
const Project = "servebench"
