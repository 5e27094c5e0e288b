package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/cloud/fleet"
	"github.com/servebench/servebench/bench/cloud/leftover"
	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// fakeService answers the service contract: cold after each restart, with a
// Lambda-like request id when it stands for a function.
type fakeService struct {
	*httptest.Server
	mu      sync.Mutex
	cold    bool
	epoch   int
	lambda  bool
	nextID  int
	healthz int
	hook    func(path string) // called before each answer
}

func newFakeService(t *testing.T, lambda bool) *fakeService {
	s := &fakeService{cold: true, lambda: lambda}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *fakeService) restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cold = true
	s.epoch++
}

func (s *fakeService) serve(w http.ResponseWriter, r *http.Request) {
	if s.hook != nil {
		s.hook(r.URL.Path)
	}
	s.mu.Lock()
	if r.URL.Path == "/healthz" {
		s.healthz++
		s.mu.Unlock()
		return
	}
	cold := s.cold
	s.cold = false
	s.nextID++
	server := map[string]any{"cold": cold, "instance": fmt.Sprintf("i-%d", s.epoch), "platform": "fake"}
	if s.lambda {
		server["request_id"] = fmt.Sprintf("req-%d", s.nextID)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"server": server, "timings_ms": map[string]float64{"total": 1}})
}

// fakeEngine stands for the Pulumi engine: outputs per stack, failures on demand.
type fakeEngine struct {
	mu       sync.Mutex
	calls    []string
	files    map[string]string
	outputs  map[string]Outputs
	upErr    map[string]error
	existing map[string]int
	destroy_ func(ctx context.Context, stack string) error
}

func (e *fakeEngine) record(c string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, c)
}

func (e *fakeEngine) whoAmI(context.Context) (string, error) { return "tester at file://", nil }
func (e *fakeEngine) resources(context.Context) (map[string]int, error) {
	return e.existing, nil
}
func (e *fakeEngine) stackFile(stack string) ([]byte, error) {
	return []byte(e.files[stack]), nil
}
func (e *fakeEngine) up(_ context.Context, stack string) (Outputs, error) {
	e.record("up " + stack)
	if err := e.upErr[stack]; err != nil {
		return nil, err
	}
	return e.outputs[stack], nil
}
func (e *fakeEngine) destroy(ctx context.Context, stack string) error {
	e.record("destroy " + stack)
	if e.destroy_ != nil {
		return e.destroy_(ctx, stack)
	}
	return nil
}

// fakeClouds records what was asked of the clouds.
type fakeClouds struct {
	mu        sync.Mutex
	calls     []string
	sf, sl    *fakeService
	missing   string // a request id whose REPORT line never comes
	leftovers []leftover.Leftover
}

func (c *fakeClouds) record(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, s)
}

func (c *fakeClouds) Identity(context.Context) (string, string, error) {
	return "123456789012", "arn:aws:iam::123456789012:user/t", nil
}
func (c *fakeClouds) ECSServiceLinkedRole(context.Context) (bool, error) { return true, nil }
func (c *fakeClouds) LambdaConcurrency(context.Context) (int, int, error) {
	return 1000, 1000, nil
}
func (c *fakeClouds) Fleet(out Outputs) (Fleet, error) {
	c.record("fleet " + out.String("clusterName"))
	return &fakeFleet{c: c}, nil
}
func (c *fakeClouds) Function(out Outputs) (Function, error) {
	c.record("function " + out.String("functionName"))
	return &fakeFn{c: c}, nil
}
func (c *fakeClouds) GCPPreflight(_ context.Context, project string) error {
	c.record("gcp preflight " + project)
	return nil
}
func (c *fakeClouds) CloudFunctions(_ context.Context, project, region string, names map[string]string) (scenario.Coldable, error) {
	c.record(fmt.Sprintf("cloud functions %s %s %v", project, region, names))
	return coldFunc(func() { c.record("gcf force cold"); c.sl.restart() }), nil
}

type coldFunc func()

func (f coldFunc) ForceCold(context.Context) error { f(); return nil }
func (c *fakeClouds) Leftovers(_ context.Context, q leftover.Query) ([]leftover.Leftover, error) {
	c.record(fmt.Sprintf("leftovers %s=%s repos %v logs %v", stackconfig.TagStack, q.Tags[stackconfig.TagStack], q.Repositories, q.LogGroupPrefixes))
	return c.leftovers, nil
}

type fakeFleet struct{ c *fakeClouds }

func (f *fakeFleet) Ready(context.Context) error { f.c.record("fleet ready"); return nil }
func (f *fakeFleet) ForceCold(context.Context) error {
	f.c.record("fleet force cold")
	f.c.sf.restart()
	return nil
}
func (f *fakeFleet) Sample(context.Context) (fleet.FleetSample, error) {
	return fleet.FleetSample{Tasks: 1, DesiredTasks: 1, Instances: 2, InServiceInstances: 1}, nil
}
func (f *fakeFleet) HoldScaling(context.Context) (int, func(context.Context) error, error) {
	f.c.record("fleet hold")
	return 1, func(context.Context) error { f.c.record("fleet resume"); return nil }, nil
}

type fakeFn struct{ c *fakeClouds }

func (f *fakeFn) ForceCold(context.Context) error {
	f.c.record("lambda force cold")
	f.c.sl.restart()
	return nil
}
func (f *fakeFn) SetMemory(_ context.Context, mb int) error {
	f.c.record(fmt.Sprintf("lambda memory %d", mb))
	f.c.sl.restart()
	return nil
}
func (f *fakeFn) WaitReports(_ context.Context, _, _ time.Time, ids []string, _ time.Time) (map[string]results.PlatformReport, []string, error) {
	f.c.record(fmt.Sprintf("lambda reports for %d ids", len(ids)))
	out := map[string]results.PlatformReport{}
	var missing []string
	for i, id := range ids {
		if id == f.c.missing {
			missing = append(missing, id)
			continue
		}
		out[id] = results.PlatformReport{DurationMS: float64(i + 1), BilledMS: float64(i + 1)}
	}
	return out, missing, nil
}

const stackFiles = "config:\n  servebench:mode: %s\n  aws:region: us-east-1\n"

// rig is Run on the fakes.
type rig struct {
	t      *testing.T
	eng    *fakeEngine
	clouds *fakeClouds
	opts   Options
	env    Env
	stdout *bytes.Buffer
}

func newRig(t *testing.T) *rig {
	sf, sl := newFakeService(t, false), newFakeService(t, true)
	eng := &fakeEngine{
		files: map[string]string{"serverful": fmt.Sprintf(stackFiles, "serverful"), "serverless": fmt.Sprintf(stackFiles, "serverless")},
		outputs: map[string]Outputs{
			"serverful": {"url": sf.URL, "mode": "serverful", "region": "us-east-1", "clusterName": "c", "instanceType": "t3a.xlarge",
				"minSize": 1.0, "maxSize": 5.0, "taskCpu": 4096.0, "taskMemoryMb": 14336.0},
			"serverless": {"url": sl.URL, "mode": "serverless", "region": "us-east-1", "functionName": "f", "lambdaMemoryMb": 3000.0, "lambdaArchitecture": "x86_64"},
		},
	}
	stdout := &bytes.Buffer{}
	r := &rig{t: t, eng: eng, clouds: &fakeClouds{sf: sf, sl: sl}, stdout: stdout}
	images := []string{"images/dog.jpg"}
	r.opts = Options{
		Stacks: []string{"serverless", "serverful"}, Root: t.TempDir(), LambdaMemoryMB: []int{3000, 1024}, MaxUSD: 5,
		Out: filepath.Join(t.TempDir(), "out"),
		Scenarios: []scenario.Scenario{
			scenario.Batches{Size: 2, Batches: 1, Images: images},
			scenario.ColdWarm{Burst: 2, FacesBurst: 1, Functions: []string{"predict", "faces/download_data"}, Images: images},
		},
		Attacker: loadgen.NewAttacker(), Prices: cost.Default(), Stdout: stdout, SampleEvery: 10 * time.Millisecond,
		ReportsWait: time.Millisecond,
	}
	r.env = Env{Clouds: r.clouds, LookPath: func(string) (string, error) { return "/bin/pulumi", nil },
		DockerInfo: func(context.Context) ([]byte, error) { return []byte(`{"DriverStatus":[]}`), nil }}
	return r
}

func (r *rig) run(ctx context.Context) error {
	if err := r.opts.check(); err != nil {
		return err
	}
	return run(ctx, r.opts, r.env, r.eng)
}

func (r *rig) results() (results.Header, []results.Record, []results.Sample) {
	r.t.Helper()
	rf, err := results.ReadFile(filepath.Join(r.opts.Out, ResultsFile))
	h, recs, samples := rf.Header, rf.Records, rf.Samples
	if err != nil {
		r.t.Fatal(err)
	}
	return h, recs, samples
}

// The whole run on fakes: deploy in the fixed order, coldwarm first with its
// first cold burst unforced and labelled deploy-cold, later ones forced, the
// sweep's sizes in order and back to the stack's, REPORT figures joined with
// the missing one counted, the fleet sampled, teardown in reverse order and the
// leftover check by each stack's tags.
func TestCloudRunOnFakes(t *testing.T) {
	r := newRig(t)
	r.clouds.missing = "req-3"
	if err := r.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"up serverful", "up serverless", "destroy serverless", "destroy serverful"}; !slices.Equal(r.eng.calls, want) {
		t.Errorf("engine calls %v, want %v", r.eng.calls, want)
	}
	var cold []string
	for _, c := range r.clouds.calls {
		if strings.Contains(c, "force cold") || strings.Contains(c, "memory") {
			cold = append(cold, c)
		}
	}
	// One forced cold per target (faces/download_data's burst); the sweep, at
	// 3000 (the function's size already), forces a cold start, then sets 1024,
	// then restores the stack's 3000.
	if want := []string{"fleet force cold", "lambda force cold", "lambda force cold", "lambda memory 1024", "lambda memory 3000"}; !slices.Equal(cold, want) {
		t.Errorf("cold starts %v, want %v", cold, want)
	}
	h, recs, samples := r.results()
	if h.Deployments["serverful"].MaxInstances != 5 || h.Deployments["serverless@1024"].MemoryMB != 1024 || h.Deployments["serverless"].Architecture != "x86_64" {
		t.Errorf("deployments %+v", h.Deployments)
	}
	if !slices.Equal(h.Scenarios, []string{"coldwarm", "batches"}) {
		t.Errorf("scenarios %v: coldwarm must run first", h.Scenarios)
	}
	groups := map[string]int{}
	joined, reports := 0, 0
	for _, rec := range recs {
		k := rec.Target + " " + rec.Function + " " + rec.Group
		groups[k]++
		if rec.PlatformReport != nil {
			joined++
		}
		if rec.RequestID != "" {
			reports++
		}
	}
	for k, n := range map[string]int{
		"serverful predict deploy-cold": 2, "serverless predict deploy-cold": 2, "serverful predict cold": 0,
		"serverful faces/download_data cold": 1, "serverless@1024 predict cold": 2, "serverless@3000 predict warm": 2,
	} {
		if groups[k] != n {
			t.Errorf("%s: %d requests, want %d (all: %v)", k, groups[k], n, groups)
		}
	}
	if reports != 16 || joined != reports-1 {
		t.Errorf("%d Lambda requests, %d joined to a REPORT; want 16 and all but req-3", reports, joined)
	}
	counts := map[string]float64{}
	for _, s := range samples {
		counts[s.Target+" "+s.Metric] += s.Value
	}
	if counts["serverless "+MetricReportsMissing] != 1 || counts["serverless "+MetricReportsJoined] != 7 || counts["serverless@1024 "+MetricReportsJoined] != 4 {
		t.Errorf("REPORT counts %v", counts)
	}
	if counts["serverful instances"] == 0 || counts["serverful tasks"] == 0 {
		t.Errorf("no fleet samples: %v", counts)
	}
	want := "leftovers servebench:stack=serverful repos [servebench-serverful-server] logs [/aws/lambda/servebench-serverful /ecs/servebench-serverful]"
	if !slices.Contains(r.clouds.calls, want) {
		t.Errorf("no %q in %v", want, r.clouds.calls)
	}
	if r.clouds.sf.healthz == 0 || r.clouds.sl.healthz == 0 {
		t.Error("the endpoints' /healthz was never asked")
	}
}

// A deploy that fails still tears down every stack whose deploy began.
func TestCloudDeployFailureTearsDown(t *testing.T) {
	r := newRig(t)
	r.eng.upErr = map[string]error{"serverless": errors.New("pulumi up: boom")}
	err := r.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
	if want := []string{"up serverful", "up serverless", "destroy serverless", "destroy serverful"}; !slices.Equal(r.eng.calls, want) {
		t.Errorf("engine calls %v, want %v", r.eng.calls, want)
	}
}

// -keep: no teardown, no leftover check, and the output says how to tear down.
func TestCloudKeep(t *testing.T) {
	r := newRig(t)
	r.opts.Keep = true
	if err := r.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range append(r.eng.calls, r.clouds.calls...) {
		if strings.HasPrefix(c, "destroy") || strings.HasPrefix(c, "leftovers") {
			t.Errorf("%s despite -keep", c)
		}
	}
	if !strings.Contains(r.stdout.String(), "pulumi destroy --stack NAME") {
		t.Errorf("output does not say how to tear down:\n%s", r.stdout.String())
	}
}

// Anything left after teardown is an error naming it, and is written down.
func TestCloudLeftoversNamed(t *testing.T) {
	r := newRig(t)
	r.opts.Stacks = []string{"serverful"}
	r.clouds.leftovers = []leftover.Leftover{{Kind: "ecr:repository", ID: "arn:aws:ecr:us-east-1:123456789012:repository/servebench-serverful-server", Why: "exists"}}
	err := r.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ecr:repository arn:aws:ecr:us-east-1:123456789012:repository/servebench-serverful-server") {
		t.Fatalf("err = %v, want the leftover named", err)
	}
	b, err := os.ReadFile(filepath.Join(r.opts.Out, LeftoversFile))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Leftovers []leftover.Leftover }
	if err := json.Unmarshal(b, &f); err != nil || len(f.Leftovers) != 1 || f.Leftovers[0].Kind != "ecr:repository" {
		t.Errorf("leftovers file %s (%v)", b, err)
	}
}

// During teardown a further interrupt asks; "no" lets teardown finish, "yes"
// abandons it with an error naming the stacks to destroy by hand.
func TestCloudTeardownInterrupts(t *testing.T) {
	for _, abandon := range []bool{false, true} {
		t.Run(fmt.Sprint("abandon=", abandon), func(t *testing.T) {
			r := newRig(t)
			r.opts.Stacks = []string{"serverless"}
			interrupts := make(chan struct{})
			var asked []string
			answered := make(chan bool, 1)
			r.env.Interrupts = interrupts
			r.env.Confirm = func(q string) bool {
				asked = append(asked, q)
				answered <- abandon
				return abandon
			}
			r.eng.destroy_ = func(ctx context.Context, stack string) error {
				interrupts <- struct{}{} // Ctrl-C while the destroy runs
				<-answered
				if !abandon {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(5 * time.Second):
					return errors.New("the destroy was not cancelled")
				}
			}
			err := r.run(context.Background())
			if len(asked) != 1 || !strings.Contains(asked[0], "Abandon teardown? Stacks serverless will keep running") {
				t.Errorf("asked %q", asked)
			}
			switch {
			case abandon && (err == nil || !strings.Contains(err.Error(), "teardown abandoned: run `pulumi destroy --stack NAME`") || !strings.Contains(err.Error(), "serverless")):
				t.Errorf("abandoned: err = %v", err)
			case !abandon && err != nil:
				t.Errorf("not abandoned: err = %v", err)
			}
			if checked := slices.ContainsFunc(r.clouds.calls, func(c string) bool { return strings.HasPrefix(c, "leftovers") }); checked == abandon {
				t.Errorf("leftover check ran: %v, want %v", checked, !abandon)
			}
		})
	}
}

// A cancelled context (the first Ctrl-C) stops the load, keeps what was
// measured and still tears down.
func TestCloudCancelTearsDown(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	r.opts.Scenarios = []scenario.Scenario{scenario.ColdWarm{Burst: 1, FacesBurst: 1, Functions: []string{"predict", "faces/download_data"}, Images: []string{"images/dog.jpg"}}}
	r.clouds.sf.hook = func(path string) {
		if path != "/healthz" {
			cancel() // Ctrl-C as the first request arrives
		}
	}
	err := r.run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the cancellation", err)
	}
	if want := []string{"up serverful", "up serverless", "destroy serverless", "destroy serverful"}; !slices.Equal(r.eng.calls, want) {
		t.Errorf("engine calls %v, want %v", r.eng.calls, want)
	}
	if _, recs, _ := r.results(); len(recs) == 0 || slices.ContainsFunc(recs, func(rec results.Record) bool { return rec.Target != "serverful" }) {
		t.Errorf("records %d: want those of the first burst on serverful only", len(recs))
	}
}

// A stack that already holds resources is refused before anything is deployed.
func TestCloudRefusesExistingStack(t *testing.T) {
	r := newRig(t)
	r.eng.existing = map[string]int{"serverful": 12}
	err := r.run(context.Background())
	var pe *Error
	if !errors.As(err, &pe) || pe.Check != "stack" || !strings.Contains(err.Error(), "stack serverful already holds 12 resources") {
		t.Fatalf("err = %v", err)
	}
	if len(r.eng.calls) != 0 {
		t.Errorf("engine calls %v after the refusal", r.eng.calls)
	}
}

// With gcp:project set, preflight checks Google, the estimate prices the Cloud
// Functions, and each memory size's functions are a target of their own, forced
// cold through their functions (as bench/stack reads the outputs).
func TestCloudCloudFunctions(t *testing.T) {
	r := newRig(t)
	r.opts.Stacks = []string{"serverless"}
	r.opts.LambdaMemoryMB = nil
	r.opts.Scenarios = []scenario.Scenario{scenario.ColdWarm{Burst: 1, FacesBurst: 1, Functions: []string{"predict", "faces/download_data"}, Images: []string{"images/dog.jpg"}}}
	r.eng.files["serverless"] += "  gcp:project: my-proj\n  gcp:region: europe-west1\n"
	out := r.eng.outputs["serverless"]
	out["gcpUrls"] = map[string]any{"predict-1024": r.clouds.sl.URL + "/p", "faces-download-data-1024": r.clouds.sl.URL + "/d"}
	out["gcpFunctionNames"] = map[string]any{"predict-1024": "sb-predict-1024", "faces-download-data-1024": "sb-dl-1024"}
	if err := r.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"gcp preflight my-proj",
		"cloud functions my-proj europe-west1 map[/faces/download_data:sb-dl-1024 /predict:sb-predict-1024]",
		"gcf force cold",
	} {
		if !slices.Contains(r.clouds.calls, want) {
			t.Errorf("no %q in %v", want, r.clouds.calls)
		}
	}
	if !strings.Contains(r.stdout.String(), "Cloud Functions 1024 MB CPU") {
		t.Errorf("the estimate has no Cloud Functions line:\n%s", r.stdout.String())
	}
	h, recs, _ := r.results()
	if d := h.Deployments["serverless-gcf-1024"]; d.Platform != "cloudfunctions" || d.MemoryMB != 1024 {
		t.Errorf("deployment %+v", d)
	}
	n := 0
	for _, rec := range recs {
		if rec.Target == "serverless-gcf-1024" {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d requests to the Cloud Functions target, want 4", n)
	}
}

// The rate scenario searches the serverful fleet twice, its scaling held at the
// minimum and then on, resuming it in between; the serverless target once.
func TestCloudRateHoldsServerfulScaling(t *testing.T) {
	r := newRig(t)
	r.opts.LambdaMemoryMB = nil
	r.opts.Scenarios = []scenario.Scenario{scenario.Rate{Rates: []float64{20}, MaxRate: 20, Precision: 0.1, MaxSteps: 1,
		Step: 500 * time.Millisecond, Percentile: 99, Objective: 5 * time.Second, Images: []string{"images/dog.jpg"}}}
	if err := r.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var scaling []string
	for _, c := range r.clouds.calls {
		if strings.HasPrefix(c, "fleet hold") || strings.HasPrefix(c, "fleet resume") {
			scaling = append(scaling, c)
		}
	}
	if want := []string{"fleet hold", "fleet resume"}; !slices.Equal(scaling, want) {
		t.Errorf("fleet scaling calls %v, want %v", scaling, want)
	}
	f, err := results.ReadFile(filepath.Join(r.opts.Out, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range f.Capacities {
		got = append(got, fmt.Sprintf("%s %s %d", c.Target, c.Scaling, c.Instances))
	}
	slices.Sort(got)
	if want := []string{"serverful held 1", "serverful on 0", "serverless serverless 0"}; !slices.Equal(got, want) {
		t.Errorf("capacities %v, want %v", got, want)
	}
}
