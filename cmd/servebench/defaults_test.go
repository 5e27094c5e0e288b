package main

import (
	"flag"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/local"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/study"
)

// The command's defaults are the studies' (package study) and the local
// deployments' own (bench/local), read from there rather than repeated.
func TestFlagDefaultsAreTheStudys(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var lf loadFlags
	var lo localFlags
	lf.register(fs, study.Burst, scenario.LocalRate)
	lo.register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"batch-size":    strconv.Itoa(study.BatchSize),
		"batches":       strconv.Itoa(study.Batches),
		"burst":         strconv.Itoa(study.Burst),
		"functions":     strings.Join(study.Functions(), ","),
		"timeout":       (study.LambdaTimeoutSeconds * time.Second).String(),
		"faces-timeout": (study.GCFTimeoutSeconds * time.Second).String(),
		"min-instances": strconv.Itoa(study.MinInstances),
		"max-instances": strconv.Itoa(study.MaxInstances),
		"scale-out-cpu": strconv.FormatFloat(study.CPUTargetPercent, 'g', -1, 64),
		"scale-in-idle": (study.ScaleInCooldownSeconds * time.Second).String(),
	} {
		if got := fs.Lookup(name).DefValue; got != want {
			t.Errorf("-%s defaults to %s, want the study's %s", name, got, want)
		}
	}
	// What `local` hands the deployments unflagged is what they take unset.
	sf, wantSF := lo.serverful(nil), local.ServerfulConfig{}.WithDefaults()
	if sf.Min != wantSF.Min || sf.Max != wantSF.Max || sf.ScaleOutCPU != wantSF.ScaleOutCPU || sf.ScaleInIdle != wantSF.ScaleInIdle || sf.Interval != wantSF.Interval {
		t.Errorf("local serverful %+v, want bench/local's defaults %+v", sf, wantSF)
	}
	if sl, want := lo.serverless(), (local.ServerlessConfig{}.WithDefaults()); sl.MaxInstances != want.MaxInstances || sl.KeepAlive != want.KeepAlive {
		t.Errorf("local serverless %+v, want bench/local's defaults %+v", sl, want)
	}
}
