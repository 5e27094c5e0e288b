package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/servebench/servebench/bench/cloud"
	"github.com/servebench/servebench/bench/local"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/study"
)

// cloudCmd is `servebench cloud`: preflight, deploy, measure, tear down.
func cloudCmd(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("cloud", flag.ContinueOnError)
	var lf loadFlags
	lf.register(fs, study.Burst, scenario.DeployedRate)
	stacks := fs.String("stacks", strings.Join(cloud.Stacks, ","), "stacks to deploy and measure, comma-separated: "+strings.Join(cloud.Stacks, ", "))
	// The sweep's sizes: the Eigenfaces study's two Cloud Functions sizes and the
	// YOLO study's Lambda size.
	memory := fs.String("lambda-memory", fmt.Sprintf("%d,%d,%d", study.GCFMemoryMB, study.GCFLargeMemoryMB, study.LambdaMemoryMB), "Lambda memory sizes (MB) of the memory sweep, comma-separated; empty: no sweep")
	keep := fs.Bool("keep", false, "leave the stacks up afterwards (they keep billing): no teardown, no leftover check")
	maxUSD := fs.Float64("max-usd", 5, "refuse a plan whose worst-case cost is above this many US dollars")
	dryRun := fs.Bool("dry-run", false, "preflight, print the plan and its worst-case cost, create nothing")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: servebench cloud [flags]\n\nChecks the account, deploys the stacks with Pulumi, measures them (forced cold starts,\nthe Lambda memory sweep, the platforms' own figures) and tears everything down.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("cloud: unexpected argument %q (flags only)", fs.Arg(0))
	}
	stackList, err := list("stacks", *stacks, cloud.Stacks)
	if err != nil {
		return err
	}
	sizes, err := memorySizes(*memory)
	if err != nil {
		return err
	}
	started := time.Now()
	_, scenarios, err := lf.load(ctx, log)
	if err != nil {
		return err
	}
	prices, err := lf.priceList()
	if err != nil {
		return err
	}
	root, err := local.FindRoot(".")
	if err != nil {
		return fmt.Errorf("cloud: run from the servebench checkout (the Pulumi program and its stack files): %w", err)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("cloud: AWS configuration: %w", err)
	}
	dir := lf.outDir(started)
	attacker := lf.attacker()
	defer attacker.Close()
	interrupts := cloudInterrupts()
	defer signal.Stop(interrupts.sigs)
	o := cloud.Options{
		Stacks: stackList, Root: root, LambdaMemoryMB: sizes, Keep: *keep, MaxUSD: *maxUSD, DryRun: *dryRun, Out: dir,
		Scenarios: scenarios, Attacker: attacker, Timeout: lf.timeout, Prices: prices,
		Header: header(ctx, started, lf.config(fs), nil, nil, nil, nil),
		Stdout: os.Stdout, Log: log, Progress: stderr,
	}
	if !lf.noReport {
		o.Report = func(ctx context.Context, path, dir string) error {
			return writeReport(ctx, log, path, dir, lf.prices, os.Stdout)
		}
	}
	err = cloud.Run(ctx, o, cloud.Env{AWS: awsCfg, Interrupts: interrupts.later, Confirm: confirm})
	where := "nothing written"
	if _, statErr := os.Stat(dir); statErr == nil {
		where = "output in " + dir
	}
	fmt.Fprintf(os.Stdout, "servebench cloud: wall time %s; %s\n", time.Since(started).Round(time.Second), where)
	return err
}

func memorySizes(v string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 128 || n > 10240 {
			return nil, badFlag("lambda-memory", v, "comma-separated sizes in MB from 128 to 10240, e.g. 1024,2048,3000")
		}
		out = append(out, n)
	}
	return out, nil
}

// interrupts: main's context is cancelled by the first Ctrl-C (the load stops,
// teardown begins); this command keeps its own registration, so the process
// survives the next ones, each of which asks whether to abandon teardown.
type interrupts struct {
	sigs  chan os.Signal
	later chan struct{}
}

func cloudInterrupts() interrupts {
	in := interrupts{sigs: make(chan os.Signal, 4), later: make(chan struct{}, 1)}
	signal.Notify(in.sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		first := true
		for range in.sigs {
			if first {
				first = false
				fmt.Fprintln(stderr, "servebench cloud: interrupted: stopping the load, keeping what was measured, tearing down (Ctrl-C again to be asked whether to abandon teardown)")
				continue
			}
			select {
			case in.later <- struct{}{}:
			default:
			}
		}
	}()
	return in
}

// confirm asks on the terminal; without one the answer is no.
func confirm(question string) bool {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer tty.Close()
	fmt.Fprintf(tty, "\n%s [y/N] ", question)
	line, _ := bufio.NewReader(tty).ReadString('\n')
	return strings.EqualFold(strings.TrimSpace(line), "y") || strings.EqualFold(strings.TrimSpace(line), "yes")
}
