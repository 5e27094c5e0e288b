package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/servebench/servebench/assets"
	"github.com/servebench/servebench/bench/lambdaemu"
	"github.com/servebench/servebench/bench/local"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/study"
)

// localFlags are the local deployments' settings, the original's by default.
type localFlags struct {
	work              string
	minInstances      int
	maxInstances      int
	scaleOutCPU       float64
	scaleInIdle       time.Duration
	scaleInterval     time.Duration
	serverlessMax     int
	serverlessKeepAlv time.Duration
}

// register adds the flags; their defaults are the local deployments' own
// (bench/local: the study's ECS scaling on the serverful side).
func (f *localFlags) register(fs *flag.FlagSet) {
	sf, sl := local.ServerfulConfig{}.WithDefaults(), local.ServerlessConfig{}.WithDefaults()
	fs.StringVar(&f.work, "work", "", "working directory for the service binary, buckets and instance logs (default OUT/work)")
	fs.IntVar(&f.minInstances, "min-instances", sf.Min, fmt.Sprintf("serverful: instances always running (study: %d)", study.MinInstances))
	fs.IntVar(&f.maxInstances, "max-instances", sf.Max, fmt.Sprintf("serverful: most instances the autoscaler runs (study: %d)", study.MaxInstances))
	fs.Float64Var(&f.scaleOutCPU, "scale-out-cpu", sf.ScaleOutCPU, fmt.Sprintf("serverful: average CPU percent (of one core per instance) above which one instance is added (study: %g)", study.CPUTargetPercent))
	fs.DurationVar(&f.scaleInIdle, "scale-in-idle", sf.ScaleInIdle, fmt.Sprintf("serverful: idle time after which extra instances are removed (study: its %d s scale-in cooldown)", study.ScaleInCooldownSeconds))
	fs.DurationVar(&f.scaleInterval, "scale-interval", sf.Interval, "serverful: how often CPU is measured and the scaling rule applied")
	fs.IntVar(&f.serverlessMax, "serverless-max", sl.MaxInstances, "serverless: most instances at once; requests beyond get 429")
	fs.DurationVar(&f.serverlessKeepAlv, "serverless-keepalive", sl.KeepAlive, "serverless: an idle instance is stopped after this long")
}

// serverful is the serverful deployment's configuration the flags give.
func (f *localFlags) serverful(warmUp func(context.Context, string) error) local.ServerfulConfig {
	return local.ServerfulConfig{
		Min: f.minInstances, Max: f.maxInstances, ScaleOutCPU: f.scaleOutCPU,
		ScaleInIdle: f.scaleInIdle, Interval: f.scaleInterval, WarmUp: warmUp,
	}
}

// serverless is the serverless deployment's configuration the flags give.
func (f *localFlags) serverless() local.ServerlessConfig {
	return local.ServerlessConfig{MaxInstances: f.serverlessMax, KeepAlive: f.serverlessKeepAlv}
}

func (f *localFlags) check() error {
	switch {
	case f.minInstances < 1:
		return badFlag("min-instances", f.minInstances, "a whole number ≥ 1")
	case f.maxInstances < f.minInstances:
		return badFlag("max-instances", f.maxInstances, fmt.Sprintf("≥ -min-instances (%d)", f.minInstances))
	case f.scaleOutCPU <= 0:
		return badFlag("scale-out-cpu", f.scaleOutCPU, "a percentage above 0")
	case f.scaleInIdle <= 0:
		return badFlag("scale-in-idle", f.scaleInIdle, "a duration above 0, e.g. 60s")
	case f.scaleInterval <= 0:
		return badFlag("scale-interval", f.scaleInterval, "a duration above 0, e.g. 2s")
	case f.serverlessMax < 1:
		return badFlag("serverless-max", f.serverlessMax, "a whole number ≥ 1")
	case f.serverlessKeepAlv <= 0:
		return badFlag("serverless-keepalive", f.serverlessKeepAlv, "a duration above 0, e.g. 60s")
	}
	return nil
}

// localCmd is `servebench local`: both deployments of the real service on this
// machine, the scenarios against both, the report.
func localCmd(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	var lf loadFlags
	var lo localFlags
	// Locally every request shares this machine's cores with the instances: a
	// faces burst of 10 (train is a grid search) and short rate steps keep the
	// default run to a few minutes.
	lf.register(fs, 10, scenario.LocalRate)
	lo.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: servebench local [flags]\n\nStands up a serverful and a serverless deployment of the service on this machine,\nruns the scenarios against both and writes results.jsonl and the report to -out.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("local: unexpected argument %q (flags only)", fs.Arg(0))
	}
	if err := lo.check(); err != nil {
		return err
	}
	started := time.Now()
	data, scenarios, err := lf.load(ctx, log)
	if err != nil {
		return err
	}
	root, err := local.FindRoot(".")
	if err != nil {
		return fmt.Errorf("local: run from the servebench checkout: %w", err)
	}
	dir := lf.outDir(started)
	work := lo.work
	if work == "" {
		work = filepath.Join(dir, "work")
	}

	t0 := time.Now()
	bin, err := local.Build(ctx, log, root, filepath.Join(work, "bin"))
	if err != nil {
		return err
	}
	rie, err := local.FindRIE(ctx, root)
	if err != nil {
		return fmt.Errorf("local: the serverless side runs the Lambda bootstrap under the Lambda Runtime Interface Emulator: %w", err)
	}
	buildTime := time.Since(t0)
	buckets, err := local.Seed(filepath.Join(work, "buckets"), data)
	if err != nil {
		return err
	}
	logs := filepath.Join(work, "logs")
	sink := &sampleSink{}
	sf, err := local.StartServerful(ctx, log, "serverful", &local.Launcher{Bin: bin, Cmd: local.ServerCmd, Buckets: buckets, LogDir: logs}, lo.serverful(local.PredictWarmUp(assets.ImagesDir+"/"+assets.Images[0])), sink)
	if err != nil {
		return err
	}
	defer sf.Close()
	sl, err := local.StartServerless(log, "serverless", local.LambdaLauncher(bin, buckets, logs, rie, lambdaemu.Function{
		// Locally the serverless side also stands in for the Eigenfaces study's
		// Cloud Functions: its limit is the longer of the two request timeouts.
		MemoryMB: study.LambdaMemoryMB, Timeout: max(lf.timeout, lf.facesTO),
	}), lo.serverless(), sink)
	if err != nil {
		return err
	}
	defer sl.Close()

	fmt.Fprintf(os.Stdout, "servebench local: service built in %s with the %s backend; serverful %d..%d instances (scale out above %g %% CPU, in after %s idle) at %s; serverless up to %d instances (keep-alive %s) at %s\n",
		buildTime.Round(time.Second), bin.Backend, lo.minInstances, lo.maxInstances, lo.scaleOutCPU, lo.scaleInIdle, sf.URL(),
		lo.serverlessMax, lo.serverlessKeepAlv, sl.URL())
	fmt.Fprintf(os.Stdout, "load: %s\n", describe(scenarios))

	config := lf.config(fs)
	config["backend"] = bin.Backend
	config["min_instances"] = lo.minInstances
	err = measure(ctx, log, measurement{
		dir: dir, started: started, config: config,
		versions: map[string]string{"backend": bin.Backend, "service": "local build of service/cmd/server (serverful) and service/cmd/lambda under aws-lambda-rie (serverless)"},
		targets: []scenario.Target{
			{Name: "serverful", URL: sf.URL(), Cold: sf, Scaling: sf},
			{Name: "serverless", URL: sl.URL(), Cold: sl, Serverless: true},
		},
		scenarios: scenarios, attacker: lf.attacker(), samples: sink, noReport: lf.noReport, prices: lf.prices, stdout: os.Stdout,
		deployments: localDeployments(sf.URL(), sl.URL(), lo.minInstances, lo.maxInstances),
	})
	fmt.Fprintf(os.Stdout, "servebench local: wall time %s (service build %s); output in %s\n", time.Since(started).Round(time.Second), buildTime.Round(time.Second), dir)
	return err
}

func locateAssets(ctx context.Context, log *slog.Logger) (assets.Dir, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	d, err := assets.Locate(ctx, log, ".", filepath.Join(cache, "servebench"))
	if err != nil {
		return d, fmt.Errorf("assets: %w", err)
	}
	return d, nil
}

// describe says what load the scenarios will send, for the terminal.
func describe(ss []scenario.Scenario) string {
	s := ""
	for i, x := range ss {
		if i > 0 {
			s += "; "
		}
		switch v := x.(type) {
		case scenario.Batches:
			s += fmt.Sprintf("batches: %d × %d concurrent predict", v.Batches, v.Size)
		case scenario.ColdWarm:
			s += fmt.Sprintf("coldwarm: cold+warm bursts of %d (predict) and %d (faces) for %v", v.Burst, v.FacesBurst, v.Functions)
		case scenario.Rate:
			s += fmt.Sprintf("rate: capacity search from %v/s up to %g/s, %s per step, at most %d steps per search, objective p%g ≤ %s", v.Rates, v.MaxRate, v.Step, v.MaxSteps, v.Percentile, v.Objective)
		}
	}
	return s
}
