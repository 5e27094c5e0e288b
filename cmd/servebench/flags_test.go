package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/assets"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/study"
)

func dataDir(t *testing.T) assets.Dir {
	t.Helper()
	p := os.Getenv(assets.EnvDir)
	if p == "" {
		p = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(p, assets.FacesORL, "s1", "10.pgm")); err != nil {
		t.Fatalf("no test data with faces: set %s (scripts/test does): %v", assets.EnvDir, err)
	}
	return assets.Dir{Path: p}
}

func parseLocal(t *testing.T, args ...string) (*loadFlags, *localFlags, error) {
	t.Helper()
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var lf loadFlags
	var lo localFlags
	lf.register(fs, 10, scenario.LocalRate)
	lo.register(fs)
	return &lf, &lo, fs.Parse(args)
}

func TestDefaultsAreTheStudies(t *testing.T) {
	lf, lo, err := parseLocal(t)
	if err != nil {
		t.Fatal(err)
	}
	if err := lo.check(); err != nil {
		t.Fatal(err)
	}
	if lo.minInstances != 1 || lo.maxInstances != 5 || lo.scaleOutCPU != 70 || lo.scaleInIdle != time.Minute {
		t.Errorf("serverful defaults %+v, want the study's 1..5, 70 %%, 60 s", lo)
	}
	ss, err := lf.plan(dataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 3 {
		t.Fatalf("%d scenarios, want batches, coldwarm, rate", len(ss))
	}
	b := ss[0].(scenario.Batches)
	if b.Size != 9 || b.Batches != 4 || len(b.Images) != len(assets.Images) || b.Images[0] != "images/000000000872.jpg" {
		t.Errorf("batches %+v", b)
	}
	c := ss[1].(scenario.ColdWarm)
	if c.Burst != 30 || c.FacesBurst != 10 || len(c.Functions) != 5 || len(c.Face) == 0 || !strings.HasPrefix(string(c.Face), "P5") {
		t.Errorf("coldwarm burst %d faces %d functions %v face %d bytes", c.Burst, c.FacesBurst, c.Functions, len(c.Face))
	}
	r := ss[2].(scenario.Rate)
	if len(r.Rates) != 4 || r.Rates[3] != 16 || r.Objective != time.Second || r.Percentile != 99 ||
		r.MaxRate != 64 || r.Precision != 0.1 || r.MaxSteps != 10 || r.Step != 5*time.Second {
		t.Errorf("rate %+v", r)
	}
}

func TestBadFlagsNameFlagValueAndAllowed(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-scenarios", "batches,bogus"}, `-scenarios: "bogus" is not one of batches, coldwarm, rate`},
		{[]string{"-scenarios", ","}, "-scenarios is empty"},
		{[]string{"-batch-size", "0"}, "-batch-size 0: must be a whole number ≥ 1"},
		{[]string{"-functions", "predict,train"}, `-functions: "train" is not one of predict, faces/download_data`},
		{[]string{"-rates", "5,x"}, `-rates 5,x: must be comma-separated numbers`},
		{[]string{"-rates", "10,5"}, "-rates 10,5: must be ascending (5 after 10)"},
		{[]string{"-rates", "2,4,8,16", "-max-rate", "10"}, "-max-rate 10: must be at least the last ramp rate (16)"},
		{[]string{"-precision", "0"}, "-precision 0: must be from 0.01 to 0.5"},
		{[]string{"-precision", "10"}, "-precision 10: must be from 0.01 to 0.5 (a fraction: 0.1 is 10 %)"},
		{[]string{"-max-steps", "0"}, "-max-steps 0: must be a whole number ≥ 1"},
		{[]string{"-step", "0s"}, "-step 0s: must be a duration above 0"},
		{[]string{"-percentile", "0"}, "-percentile 0: must be above 0 and at most 100"},
		{[]string{"-objective", "-1s"}, "-objective -1s: must be a duration above 0"},
		{[]string{"-max-errors", "1"}, "-max-errors 1: must be a fraction from 0 up to (not including) 1"},
		{[]string{"-faces-burst", "-1"}, "-faces-burst -1: must be a whole number ≥ 1"},
		{[]string{"-timeout", "0s"}, "-timeout 0s: must be a duration above 0"},
		{[]string{"-prices", "/nonexistent/prices.json"}, "-prices /nonexistent/prices.json: "},
		{[]string{"-prices", badPrices(t)}, "negative"},
	} {
		lf, _, err := parseLocal(t, c.args...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = lf.plan(dataDir(t))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.args, err, c.want)
		}
	}
	_, lo, _ := parseLocal(t, "-min-instances", "3", "-max-instances", "2")
	if err := lo.check(); err == nil || !strings.Contains(err.Error(), "-max-instances 2: must be ≥ -min-instances (3)") {
		t.Errorf("max < min: %v", err)
	}
	if _, _, err := parseLocal(t, "-scale-in-idle", "soon"); err == nil || !strings.Contains(err.Error(), "scale-in-idle") {
		t.Errorf("unparsable duration: %v", err)
	}
}

func TestParseTargets(t *testing.T) {
	ts, err := parseTargets([]string{"serverless=https://abc.execute-api.us-east-1.amazonaws.com/", "ecs=http://alb.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Name != "serverless" || ts[0].URL != "https://abc.execute-api.us-east-1.amazonaws.com" || ts[1].URL != "http://alb.example.com" {
		t.Errorf("targets %+v", ts)
	}
	for _, bad := range []string{"no-equals", "=http://x", "a=ftp://x", "a=localhost:8080"} {
		if _, err := parseTargets([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
	if err := uniqueNames([]scenario.Target{{Name: "a"}, {Name: "a"}}); err == nil {
		t.Error("duplicate target names accepted")
	}
}

// badPrices writes a price file with a negative price.
func badPrices(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(p, []byte(`{"lambda": {"gb_second": -1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A data directory from the download fallback has no faces: by default coldwarm
// runs predict only; faces functions asked for by name are an error naming the gap.
func TestNoFacesInData(t *testing.T) {
	noFaces := assets.Dir{Path: t.TempDir()}
	lf, _, err := parseLocal(t, "-scenarios", "coldwarm")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := lf.plan(noFaces)
	if err != nil {
		t.Fatal(err)
	}
	if cw := ss[0].(scenario.ColdWarm); !slices.Equal(cw.Functions, []string{"predict"}) || cw.Face != nil {
		t.Errorf("coldwarm without faces: functions %v, face %d bytes; want predict only", cw.Functions, len(cw.Face))
	}
	lf, _, _ = parseLocal(t, "-scenarios", "coldwarm", "-functions", "predict,faces/train")
	if _, err := lf.plan(noFaces); err == nil || !strings.Contains(err.Error(), "-functions faces/train: ") || !strings.Contains(err.Error(), assets.FacesORL) {
		t.Errorf("faces asked for by name without faces: %v", err)
	}
}

// TestSearchDefaults: the rate flags default to the search they are registered with,
// so the plan without flags is that search (deployed: run, cloud).
func TestSearchDefaults(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var lf loadFlags
	lf.register(fs, study.Burst, scenario.DeployedRate)
	if err := fs.Parse([]string{"-scenarios", "rate"}); err != nil {
		t.Fatal(err)
	}
	ss, err := lf.plan(dataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	got := ss[0].(scenario.Rate)
	want := scenario.DeployedRate
	want.Images = got.Images
	if !reflect.DeepEqual(got, want) || len(got.Images) == 0 {
		t.Errorf("rate %+v, want %+v with the images", got, want)
	}
}
