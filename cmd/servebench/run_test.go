package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/cloud/awsfake"
	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/scenario"
)

// `run -stack serverless` measures the Lambda endpoint and each Cloud Functions
// memory size as its own target, every route sent to its function, and the
// results header says what each target ran on.
func TestRunStackMeasuresCloudFunctions(t *testing.T) {
	stderr = newConsole(os.Stderr)
	var lambdaHits atomic.Int64
	lambda := contractServer(t, 0, &lambdaHits)
	hits := map[string]*atomic.Int64{} // by key, e.g. faces-train-2048
	urls := map[string]string{}
	for _, mem := range []int{1024, 2048} {
		for _, e := range []string{"predict", "faces-download-data", "faces-train", "faces-upload", "faces-predict"} {
			k := fmt.Sprintf("%s-%d", e, mem)
			hits[k] = &atomic.Int64{}
			urls[k] = contractServer(t, 0, hits[k]).URL
		}
	}
	outputs := func(_ context.Context, name string) ([]byte, error) {
		var kv []string
		for k, u := range urls {
			kv = append(kv, fmt.Sprintf("%q:%q", k, u))
		}
		return fmt.Appendf(nil, `{"url":%q,"mode":"serverless","region":"us-east-1","lambdaMemoryMb":3000,"gcpRegion":"us-central1","gcpUrls":{%s}}`,
			lambda.URL, strings.Join(kv, ",")), nil
	}
	targets, deployments, err := stackTargets(context.Background(), []string{"serverless"}, outputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range targets {
		names = append(names, tg.Name)
	}
	if fmt.Sprint(names) != "[serverless serverless-gcf-1024 serverless-gcf-2048]" {
		t.Fatalf("targets %v", names)
	}
	dir := t.TempDir()
	var out bytes.Buffer
	err = measure(context.Background(), slog.New(slog.DiscardHandler), measurement{
		dir: dir, started: time.Now(), targets: targets, deployments: deployments,
		scenarios: []scenario.Scenario{scenario.ColdWarm{Burst: 2, FacesBurst: 1, Functions: scenario.Functions,
			Images: []string{"images/dog.jpg"}, Face: []byte("P5"), FaceName: "1.pgm"}},
		attacker: loadgen.NewAttacker(), noReport: true, stdout: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each function got its own route's calls: 2 + 2 for predict, 1 + 1 for each faces function.
	for k, n := range hits {
		want := int64(2)
		if strings.HasPrefix(k, "predict-") {
			want = 4
		}
		if n.Load() != want {
			t.Errorf("function %s served %d calls, want %d", k, n.Load(), want)
		}
	}
	if lambdaHits.Load() != 12 {
		t.Errorf("the Lambda endpoint served %d calls, want 12", lambdaHits.Load())
	}
	h, recs := readResults(t, filepath.Join(dir, ResultsFile))
	perTarget := map[string]int{}
	for _, r := range recs {
		perTarget[r.Target]++
	}
	if fmt.Sprint(perTarget) != "map[serverless:12 serverless-gcf-1024:12 serverless-gcf-2048:12]" {
		t.Errorf("records per target %v", perTarget)
	}
	var dnames []string
	for n := range h.Deployments {
		dnames = append(dnames, n)
	}
	sort.Strings(dnames)
	if fmt.Sprint(dnames) != "[serverless serverless-gcf-1024 serverless-gcf-2048]" {
		t.Fatalf("header deployments %v", h.Deployments)
	}
	if d := h.Deployments["serverless"]; d.Platform != "lambda" || d.MemoryMB != 3000 || d.Endpoint != lambda.URL || d.Region != "us-east-1" {
		t.Errorf("lambda deployment %+v", d)
	}
	d := h.Deployments["serverless-gcf-2048"]
	wantFns := map[string]string{"/predict": urls["predict-2048"], "/faces/download_data": urls["faces-download-data-2048"],
		"/faces/train": urls["faces-train-2048"], "/faces/upload": urls["faces-upload-2048"], "/faces/predict": urls["faces-predict-2048"]}
	if d.Platform != "cloudfunctions" || d.MemoryMB != 2048 || d.Region != "us-central1" || !reflect.DeepEqual(d.Functions, wantFns) {
		t.Errorf("cloud functions deployment %+v", d)
	}
	if h.Targets["serverless"] != lambda.URL || !strings.Contains(h.Targets["serverless-gcf-1024"], "/faces/train="+urls["faces-train-1024"]) {
		t.Errorf("header targets %v", h.Targets)
	}
}

// Outputs that name no platform (no mode) give no deployment record: the header has none.
func TestRunStackNoneDescribed(t *testing.T) {
	_, deployments, err := stackTargets(context.Background(), []string{"s"}, func(context.Context, string) ([]byte, error) {
		return []byte(`{"url":"http://h"}`), nil
	}, nil)
	if err != nil || deployments != nil {
		t.Errorf("deployments %v, err %v", deployments, err)
	}
}

// `run -stack serverful`: the ECS target's scaling is held through the service
// its outputs name, on the default AWS configuration (here the environment,
// pointed at awsfake) in the stack's region; other targets have no hold.
func TestRunStackHoldsServerfulScaling(t *testing.T) {
	srv := awsfake.New(t)
	ecs, aas := awsfake.NewECS(), awsfake.NewApplicationAutoScaling()
	ecs.Install(srv)
	aas.Install(srv)
	ecs.AddService("c", "s", 3)
	aas.AddECSService("c", "s", 1, 5, awsfake.Suspended{Scheduled: true})
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": srv.URL, "AWS_ACCESS_KEY_ID": "AKIDFAKE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
	outputs := func(_ context.Context, name string) ([]byte, error) {
		if name == "serverless" {
			return []byte(`{"url":"http://l","mode":"serverless","region":"us-east-1"}`), nil
		}
		return []byte(`{"url":"http://lb","mode":"serverful","region":"us-east-1","clusterName":"c","serviceName":"s","otherUrl":"http://x"}`), nil
	}
	log := slog.New(slog.DiscardHandler)
	targets, _, err := stackTargets(context.Background(), []string{"serverful", "serverless"}, outputs, ecsScalingHold(log))
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	var hold scenario.ScalingHold
	for _, tg := range targets {
		if tg.Scaling != nil {
			held, hold = append(held, tg.Name), tg.Scaling
		}
	}
	if fmt.Sprint(held) != "[serverful]" {
		t.Fatalf("targets with a scaling hold %v, want [serverful]", held)
	}
	n, resume, err := hold.HoldScaling(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := aas.Target("service/c/s"); n != 1 || st.Suspended != (awsfake.Suspended{DynamicIn: true, DynamicOut: true, Scheduled: true}) {
		t.Errorf("held at %d tasks, suspended %+v", n, st.Suspended)
	}
	if err := resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _ := aas.Target("service/c/s"); st.Suspended != (awsfake.Suspended{Scheduled: true}) {
		t.Errorf("after resume: %+v", st.Suspended)
	}

	// A serverful stack whose outputs do not name the service cannot be held.
	_, _, err = stackTargets(context.Background(), []string{"serverful"}, func(context.Context, string) ([]byte, error) {
		return []byte(`{"url":"http://lb","mode":"serverful"}`), nil
	}, ecsScalingHold(log))
	if err == nil || !strings.Contains(err.Error(), "clusterName and serviceName") {
		t.Errorf("outputs without the service: %v", err)
	}
}
