package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/servebench/servebench/assets"
	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/study"
)

// scenarioNames are the scenarios --scenarios accepts, in the order they run.
var scenarioNames = []string{"batches", "coldwarm", "rate"}

// loadFlags are the flags local and run share: which scenarios, with what load.
type loadFlags struct {
	out        string
	scenarios  string
	batchSize  int
	batches    int
	burst      int
	facesBurst int
	functions  string
	rates      string
	step       time.Duration
	percentile float64
	objective  time.Duration
	maxErrors  float64
	maxRate    float64
	precision  float64
	maxSteps   int
	timeout    time.Duration
	facesTO    time.Duration
	keepAlive  bool
	noReport   bool
	prices     string
}

// register adds the flags with their defaults; facesBurst differs between local
// (where every faces call shares two cores) and run, and so does the capacity search
// (scenario.LocalRate, scenario.DeployedRate).
func (f *loadFlags) register(fs *flag.FlagSet, facesBurst int, search scenario.Rate) {
	rates := make([]string, len(search.Rates))
	for i, r := range search.Rates {
		rates[i] = strconv.FormatFloat(r, 'g', -1, 64)
	}
	fs.StringVar(&f.out, "out", "", "directory for results.jsonl and the report (default servebench-out/<UTC time>)")
	fs.StringVar(&f.scenarios, "scenarios", strings.Join(scenarioNames, ","), "scenarios to run, comma-separated: "+strings.Join(scenarioNames, ", "))
	fs.IntVar(&f.batchSize, "batch-size", study.BatchSize, fmt.Sprintf("batches: concurrent POST /predict per batch (YOLO study: %d)", study.BatchSize))
	fs.IntVar(&f.batches, "batches", study.Batches, fmt.Sprintf("batches: batches one after another (YOLO study: %d)", study.Batches))
	fs.IntVar(&f.burst, "burst", study.Burst, fmt.Sprintf("coldwarm: parallel calls per burst for predict (Eigenfaces study: %d)", study.Burst))
	fs.IntVar(&f.facesBurst, "faces-burst", facesBurst, "coldwarm: parallel calls per burst for the faces functions")
	fs.StringVar(&f.functions, "functions", strings.Join(scenario.Functions, ","), "coldwarm: functions, comma-separated: "+strings.Join(scenario.Functions, ", "))
	fs.StringVar(&f.rates, "rates", strings.Join(rates, ","), "rate: the capacity search's first arrival rates in requests/s, comma-separated, ascending; it doubles the last until a rate is not held or -max-rate is")
	fs.Float64Var(&f.maxRate, "max-rate", search.MaxRate, "rate: the top arrival rate the search tries, requests/s (a target that holds it is limited by \"cap\")")
	fs.Float64Var(&f.precision, "precision", search.Precision, "rate: bisect between the highest rate held and the lowest missed until they are within this fraction of the missed one")
	fs.IntVar(&f.maxSteps, "max-steps", search.MaxSteps, "rate: most steps one search takes, its time budget (a serverful target held at its minimum size is searched twice: held, then scaling on)")
	fs.DurationVar(&f.step, "step", search.Step, "rate: length of each rate step")
	fs.Float64Var(&f.percentile, "percentile", search.Percentile, "rate: percentile of the latency objective")
	fs.DurationVar(&f.objective, "objective", search.Objective, "rate: latency the percentile must stay within for a rate to hold")
	fs.Float64Var(&f.maxErrors, "max-errors", search.MaxErrors, "rate: fraction of failed requests a step may have and still hold")
	fs.DurationVar(&f.timeout, "timeout", study.LambdaTimeoutSeconds*time.Second, fmt.Sprintf("per-request timeout (the YOLO study's Lambda timeout: %ds)", study.LambdaTimeoutSeconds))
	fs.DurationVar(&f.facesTO, "faces-timeout", study.GCFTimeoutSeconds*time.Second, fmt.Sprintf("coldwarm: per-request timeout of the faces functions (the Eigenfaces study's Cloud Functions: %ds)", study.GCFTimeoutSeconds))
	fs.BoolVar(&f.keepAlive, "keepalive", false, "reuse connections (the YOLO study's client did not)")
	fs.BoolVar(&f.noReport, "no-report", false, "write results.jsonl only, no report")
	fs.StringVar(&f.prices, "prices", "", pricesUsage)
}

// load finds the data directory and builds the scenarios from it.
func (f *loadFlags) load(ctx context.Context, log *slog.Logger) (assets.Dir, []scenario.Scenario, error) {
	data, err := locateAssets(ctx, log)
	if err != nil {
		return assets.Dir{}, nil, err
	}
	scenarios, err := f.plan(data)
	return data, scenarios, err
}

// priceList is the -prices file, or the built-in list without one.
func (f *loadFlags) priceList() (cost.PriceList, error) {
	if f.prices == "" {
		return cost.Default(), nil
	}
	p, err := cost.LoadFile(f.prices)
	if err != nil {
		return cost.PriceList{}, fmt.Errorf("-prices %s: %w", f.prices, err)
	}
	return p, nil
}

// plan checks the flags and builds the scenarios. data supplies the images and
// the face upload.
func (f *loadFlags) plan(data assets.Dir) ([]scenario.Scenario, error) {
	names, err := list("scenarios", f.scenarios, scenarioNames)
	if err != nil {
		return nil, err
	}
	// A bad price file should stop the run now, not after the load has run.
	if _, err := f.priceList(); err != nil {
		return nil, err
	}
	images := make([]string, len(assets.Images))
	for i, img := range assets.Images {
		images[i] = assets.ImagesDir + "/" + img
	}
	var out []scenario.Scenario
	for _, n := range scenarioNames { // run in the fixed order whatever the flag's order
		if !slices.Contains(names, n) {
			continue
		}
		switch n {
		case "batches":
			if f.batchSize < 1 {
				return nil, badFlag("batch-size", f.batchSize, "a whole number ≥ 1")
			}
			if f.batches < 1 {
				return nil, badFlag("batches", f.batches, "a whole number ≥ 1")
			}
			out = append(out, scenario.Batches{Size: f.batchSize, Batches: f.batches, Images: images})
		case "coldwarm":
			fns, err := list("functions", f.functions, scenario.Functions)
			if err != nil {
				return nil, err
			}
			if fns, err = withoutMissingFaces(fns, f.functions == strings.Join(scenario.Functions, ","), data); err != nil {
				return nil, err
			}
			if f.burst < 1 {
				return nil, badFlag("burst", f.burst, "a whole number ≥ 1")
			}
			if f.facesBurst < 1 {
				return nil, badFlag("faces-burst", f.facesBurst, "a whole number ≥ 1")
			}
			if f.facesTO <= 0 {
				return nil, badFlag("faces-timeout", f.facesTO, "a duration above 0, e.g. 540s")
			}
			c := scenario.ColdWarm{Burst: f.burst, FacesBurst: f.facesBurst, Functions: fns, Images: images, FacesTimeout: f.facesTO}
			if slices.Contains(fns, study.FunctionFacesUpload) {
				name := filepath.Join(data.Path, assets.FacesORL, "s7", "10.pgm")
				b, err := os.ReadFile(name)
				if err != nil {
					return nil, fmt.Errorf("-functions includes faces/upload, which sends a face from the data set: %w", err)
				}
				c.Face, c.FaceName = b, "s7_10.pgm"
			}
			out = append(out, c)
		case "rate":
			var rates []float64
			for _, s := range strings.Split(f.rates, ",") {
				r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
				if err != nil {
					return nil, badFlag("rates", f.rates, "comma-separated numbers of requests per second, e.g. 5,10,20")
				}
				rates = append(rates, r)
			}
			r := scenario.Rate{Rates: rates, MaxRate: f.maxRate, Precision: f.precision, MaxSteps: f.maxSteps, Step: f.step,
				Percentile: f.percentile, Objective: f.objective, MaxErrors: f.maxErrors, Images: images}
			if err := rateFlagsCheck(r); err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	if f.timeout <= 0 {
		return nil, badFlag("timeout", f.timeout, "a duration above 0, e.g. 30s")
	}
	return out, nil
}

// rateFlagsCheck is r's validation in the command line's terms: the flag, its
// value and what is allowed.
func rateFlagsCheck(r scenario.Rate) error {
	err := r.Validate()
	if se, ok := errors.AsType[*scenario.SettingError](err); ok {
		return badFlag(se.Setting, se.Value, se.Allowed)
	}
	return err
}

func (f *loadFlags) attacker() *loadgen.Attacker {
	return loadgen.NewAttacker(loadgen.Timeout(f.timeout), loadgen.KeepAlive(f.keepAlive))
}

// outDir is --out or servebench-out/<UTC time>.
func (f *loadFlags) outDir(now time.Time) string {
	if f.out != "" {
		return f.out
	}
	return filepath.Join("servebench-out", now.UTC().Format("20060102-150405"))
}

// config records the flags in the results header.
func (f *loadFlags) config(fs *flag.FlagSet) map[string]any {
	m := map[string]any{}
	fs.VisitAll(func(fl *flag.Flag) { m[fl.Name] = fl.Value.String() })
	return m
}

func list(flagName, v string, allowed []string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allowed, s) {
			return nil, fmt.Errorf("-%s: %q is not one of %s", flagName, s, strings.Join(allowed, ", "))
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-%s is empty: give one or more of %s", flagName, strings.Join(allowed, ", "))
	}
	return out, nil
}

func badFlag(name string, v any, allowed string) error {
	return fmt.Errorf("-%s %v: must be %s", name, v, allowed)
}

// withoutMissingFaces drops the faces functions when the data directory has no faces
// (the download fallback fetches only the model and images) and -functions was left
// at its default, saying so; asked for explicitly, they are an error.
func withoutMissingFaces(fns []string, byDefault bool, data assets.Dir) ([]string, error) {
	if data.HasFaces() {
		return fns, nil
	}
	var faces, rest []string
	for _, fn := range fns {
		if strings.HasPrefix(fn, study.FacesFunctionsPrefix) {
			faces = append(faces, fn)
		} else {
			rest = append(rest, fn)
		}
	}
	switch {
	case len(faces) == 0:
		return fns, nil
	case !byDefault:
		return nil, fmt.Errorf("-functions %s: %s: %w", strings.Join(faces, ","), data.Path, assets.ErrNoFaces)
	}
	fmt.Fprintf(os.Stderr, "servebench: %s has no %s: coldwarm runs %s only (set %s to a data directory with the ORL faces for the faces functions)\n",
		data.Path, assets.FacesORL, strings.Join(rest, ","), assets.EnvDir)
	return rest, nil
}
