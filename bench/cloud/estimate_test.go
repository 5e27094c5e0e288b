package cloud

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/scenario"
)

// The plan the worst case is priced from, worked by hand for a small run: the
// fleet at the stack's maximum for deploy, the scenarios on both targets and the
// sweep; the Lambda load at the stack's size and at each swept size, every cold
// burst's requests counted as cold starts; Cloud Functions per function and size.
func TestCloudEstimatePlan(t *testing.T) {
	o := Options{
		Scenarios: []scenario.Scenario{
			scenario.Batches{Size: 2, Batches: 1},
			scenario.ColdWarm{Burst: 3, FacesBurst: 1, Functions: []string{"predict", "faces/train"}, FacesTimeout: 540 * time.Second},
			// Searches of two steps: one on serverless, two on serverful (held, on).
			scenario.Rate{Rates: []float64{1, 5}, MaxRate: 5, Precision: 0.1, MaxSteps: 2, Step: 10 * time.Second},
		},
		Timeout: 30 * time.Second, DeployAllowance: 30 * time.Minute, LambdaMemoryMB: []int{1024, 3000}, Prices: cost.Default(),
	}
	plans := []stackPlan{
		{name: "serverful", config: map[string]string{"servebench:maxSize": "4"}},
		{name: "serverless", config: map[string]string{"gcp:project": "p", "servebench:gcpMemoryMb": "[1024,2048]"}},
	}
	p, err := cloudPlan(o, plans)
	if err != nil {
		t.Fatal(err)
	}
	// Per target: the batch (30 s), predict's bursts (5 min + 2 × 30 s), train's
	// (5 min + 2 × 540 s), two rate steps (2 × 40 s), and two more on serverful,
	// whose scaling rate holds; the sweep: predict's per size.
	perTarget := 30*time.Second + 6*time.Minute + 23*time.Minute + 80*time.Second
	wall := 30*time.Minute + 2*perTarget + 80*time.Second + 2*6*time.Minute
	want := cost.CloudPlan{
		Serverful: &cost.ServerfulPlan{InstanceType: "t3a.xlarge", MaxInstances: 4, ALBNodes: 2, WallTime: wall, PeakRate: 5},
		Lambda: &cost.LambdaPlan{Timeout: 30 * time.Second, Sizes: []cost.LambdaSize{
			// 2 batch + 6 predict + 2 train + 10 + 50 rate; the sweep's 6 at 3000 added.
			{MemoryMB: 3000, Requests: 70 + 6, ColdStarts: 3 + 1 + 3},
			{MemoryMB: 1024, Requests: 6, ColdStarts: 3},
		}},
		CloudFunctions: &cost.CloudFunctionsPlan{Functions: []cost.CloudFunction{
			{Name: "predict-1024", MemoryMB: 1024, Requests: 68, Timeout: 540 * time.Second},
			{Name: "faces-train-1024", MemoryMB: 1024, Requests: 2, Timeout: 540 * time.Second},
			{Name: "predict-2048", MemoryMB: 2048, Requests: 68, Timeout: 540 * time.Second},
			{Name: "faces-train-2048", MemoryMB: 2048, Requests: 2, Timeout: 540 * time.Second},
		}},
	}
	if !reflect.DeepEqual(*p.Serverful, *want.Serverful) {
		t.Errorf("serverful %+v, want %+v", *p.Serverful, *want.Serverful)
	}
	if !reflect.DeepEqual(*p.Lambda, *want.Lambda) {
		t.Errorf("lambda %+v, want %+v", *p.Lambda, *want.Lambda)
	}
	if !reflect.DeepEqual(*p.CloudFunctions, *want.CloudFunctions) {
		t.Errorf("cloud functions %+v, want %+v", *p.CloudFunctions, *want.CloudFunctions)
	}
	e, err := estimate(o, plans)
	if w, _ := o.Prices.WorstCase(want); err != nil || e.TotalUSD != w.TotalUSD {
		t.Errorf("estimate $%v (%v), want the price list's worst case of the plan, $%v", e.TotalUSD, err, w.TotalUSD)
	}

	// An instance type the price list does not know is an error saying what to do.
	plans[0].config["servebench:instanceType"] = "m7i.large"
	if _, err := estimate(o, plans); err == nil || !strings.Contains(err.Error(), "-prices") {
		t.Errorf("unknown instance type: %v", err)
	}
}
