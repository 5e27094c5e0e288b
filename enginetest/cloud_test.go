package enginetest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/servebench/servebench/assets"
	"github.com/servebench/servebench/bench/cloud"
	"github.com/servebench/servebench/bench/cloud/awsfake"
	"github.com/servebench/servebench/bench/cloud/leftover"
	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/lambdaemu"
	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/local"
	"github.com/servebench/servebench/bench/results"
	benchscenario "github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/enginetest/stubprovider"
)

// Names the stub's outputs give the stacks' cloud resources (the program's
// naming), which the AWS fakes must hold for the run to find them.
const (
	stubCluster     = "servebench-serverful-cluster"
	stubService     = "servebench-serverful-service"
	stubGroup       = "servebench-serverful-ecs"
	stubTargetGroup = "servebench-serverful-tg"
	stubFunction    = "servebench-serverless-service"
	stubLogGroup    = "/aws/lambda/" + stubFunction
)

// serviceBuild is the service built and its buckets seeded once per test binary.
var (
	serviceOnce sync.Once
	serviceBin  local.Binary
	serviceRIE  string
	serviceData assets.Dir
	serviceErr  error
)

func buildService(t *testing.T) {
	t.Helper()
	serviceOnce.Do(func() {
		ctx := context.Background()
		log := slog.New(slog.DiscardHandler)
		if serviceData, serviceErr = assets.Locate(ctx, log, root, filepath.Join(scratch, "assets")); serviceErr != nil {
			return
		}
		if serviceBin, serviceErr = local.Build(ctx, log, root, filepath.Join(scratch, "service")); serviceErr != nil {
			return
		}
		serviceRIE, serviceErr = local.FindRIE(ctx, root)
	})
	if serviceErr != nil {
		t.Fatal(serviceErr)
	}
}

// cloudRig is `servebench cloud` on a copy of the checkout under the engine
// with the stub providers, whose endpoint outputs point at local instances of
// the service, and with every AWS call answered by awsfake's models, whose
// hooks restart those instances: a forced cold start is really cold.
type cloudRig struct {
	t      *testing.T
	p      *project
	srv    *awsfake.Server
	sts    *awsfake.STS
	iam    *awsfake.IAM
	lambda *awsfake.Lambda
	ecs    *awsfake.ECS
	logs   *awsfake.Logs
	sf     *local.Serverful
	sl     *local.Serverless
	logDir string
	out    string
	stdout bytes.Buffer
	engine bytes.Buffer // Pulumi's progress
	env    cloud.Env
	opts   cloud.Options
	files  map[string]string // the stack files before the run
}

// newCloudRig sets up the project and the fakes; withService also starts the
// local instances the endpoints point at.
func newCloudRig(t *testing.T, withService bool) *cloudRig {
	e := needEngine(t)
	r := &cloudRig{t: t, p: newProject(t, e), out: filepath.Join(t.TempDir(), "out")}
	r.srv = awsfake.New(t)
	r.sts, r.iam, r.lambda, r.ecs, r.logs = awsfake.NewSTS(), awsfake.NewIAM(), awsfake.NewLambda(), awsfake.NewECS(), awsfake.NewLogs()
	as, elb, tagging, ecr := awsfake.NewAutoScaling(), awsfake.NewELB(), awsfake.NewTagging(), awsfake.NewECR()
	for _, m := range []interface{ Install(*awsfake.Server) }{r.sts, r.iam, r.lambda, r.ecs, r.logs, as, elb, tagging, ecr} {
		m.Install(r.srv)
	}
	r.iam.AddECSServiceLinkedRole()
	r.ecs.AddService(stubCluster, stubService, 1)
	as.SetGroup(awsfake.ASGroup{Name: stubGroup, Min: 1, Max: 5, Desired: 1, Instances: []awsfake.ASInstance{{ID: "i-0123456789abcdef0", LifecycleState: "InService", HealthStatus: "Healthy"}}})
	elb.SetTargetGroup(awsfake.TargetGroup{Name: stubTargetGroup, Targets: []awsfake.Target{{ID: "i-0123456789abcdef0", Port: 32768, State: "healthy"}}})
	r.lambda.AddFunction(awsfake.LambdaFunction{Name: stubFunction, MemoryMB: 3000, Env: map[string]string{"SERVEBENCH_PLATFORM": "lambda"}})
	r.logs.AddGroup(stubLogGroup)

	pulumiEnv := map[string]string{}
	for _, kv := range r.p.env {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PULUMI_") || strings.HasPrefix(k, "SERVEBENCH_") {
			pulumiEnv[k] = v
		}
	}
	if withService {
		r.startService()
		port := r.sf.URL()[strings.LastIndex(r.sf.URL(), ":")+1:]
		// The serverful url output is http://<load balancer DNS name>:<listener port>.
		r.appendConfig("serverful", "servebench:listenerPort", port)
		pulumiEnv[stubprovider.EnvEndpoints] = stubprovider.Endpoints(map[string]string{
			stubprovider.EndpointLB: "127.0.0.1", stubprovider.EndpointAPI: r.sl.URL(),
		})
	}
	r.files = map[string]string{}
	for _, s := range []string{"serverful", "serverless"} {
		r.files[s] = r.p.readFile("Pulumi." + s + ".yaml")
	}
	r.env = cloud.Env{
		AWS: r.srv.Config(), PulumiEnv: pulumiEnv, AWSPoll: 20 * time.Millisecond,
		DockerInfo: func(context.Context) ([]byte, error) {
			return []byte(`{"ServerVersion":"27.3.1","DriverStatus":[["Backing Filesystem","extfs"]]}`), nil
		},
	}
	r.env.Clouds = &rigClouds{Clouds: cloud.NewAWSClouds(r.srv.Config(), nil, 20*time.Millisecond), r: r}
	r.opts = cloud.Options{
		Stacks: []string{"serverful", "serverless"}, Root: r.p.dir, LambdaMemoryMB: []int{1024, 2048},
		MaxUSD: 5, Out: r.out, Scenarios: r.scenarios(withService),
		Attacker: loadgen.NewAttacker(loadgen.Timeout(time.Minute)), Timeout: 30 * time.Second, Prices: cost.Default(),
		Header: results.Header{Command: []string{"servebench", "cloud"}},
		Stdout: &r.stdout, Progress: &r.engine,
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		SampleEvery: 100 * time.Millisecond, ReportsWait: 2 * time.Second, ReadyTimeout: 30 * time.Second,
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("servebench cloud said:\n%s\nPulumi's progress:\n%s", r.stdout.String(), r.engine.String())
		}
	})
	return r
}

// scenarios are small: a batch, and cold and warm bursts of predict and
// faces/upload (whose cold burst is forced, the first being the deploy's).
func (r *cloudRig) scenarios(withService bool) []benchscenario.Scenario {
	images := []string{assets.ImagesDir + "/dog.jpg"}
	c := benchscenario.ColdWarm{Burst: 2, FacesBurst: 1, Functions: []string{"predict", "faces/upload"}, Images: images, FaceName: "s7_10.pgm"}
	if withService {
		face, err := os.ReadFile(filepath.Join(serviceData.Path, assets.FacesORL, "s7", "10.pgm"))
		if err != nil {
			r.t.Fatal(err)
		}
		c.Face = face
	} else {
		c.Face = []byte("P5 1 1 255\n\x00")
	}
	return []benchscenario.Scenario{benchscenario.Batches{Size: 2, Batches: 1, Images: images}, c}
}

// startService starts a local serverful and serverless deployment and makes the
// fakes' updates restart them.
func (r *cloudRig) startService() {
	t := r.t
	buildService(t)
	work := t.TempDir()
	buckets, err := local.Seed(filepath.Join(work, "buckets"), serviceData)
	if err != nil {
		t.Fatal(err)
	}
	r.logDir = filepath.Join(work, "logs")
	log := slog.New(slog.DiscardHandler)
	r.sf, err = local.StartServerful(context.Background(), log, "serverful", &local.Launcher{Bin: serviceBin, Cmd: local.ServerCmd, Buckets: buckets, LogDir: r.logDir},
		local.ServerfulConfig{Min: 1, Max: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.sf.Close)
	r.sl, err = local.StartServerless(log, "serverless", local.LambdaLauncher(serviceBin, buckets, r.logDir, serviceRIE, lambdaemu.Function{MemoryMB: 3000, Timeout: time.Minute}),
		local.ServerlessConfig{MaxInstances: 4, KeepAlive: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.sl.Close)
	r.ecs.OnNewDeployment = func(string, string) {
		if err := r.sf.ForceCold(context.Background()); err != nil {
			t.Errorf("restart the serverful instance: %v", err)
		}
	}
	r.lambda.OnUpdate = func(string) {
		if err := r.sl.ForceCold(context.Background()); err != nil {
			t.Errorf("restart the serverless instances: %v", err)
		}
	}
}

// appendConfig sets a key in the copy's committed stack file.
func (r *cloudRig) appendConfig(stack, key, value string) {
	path := filepath.Join(r.p.dir, "Pulumi."+stack+".yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		r.t.Fatal(err)
	}
	b = append(b, fmt.Sprintf("  %s: %q\n", key, value)...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// rigClouds is the real AWS pieces on the fakes, plus what a real cloud does by
// itself: Lambda writes REPORT lines to the function's log group (here copied
// from the local instances' logs, where the runtime interface emulator wrote
// them), and deleting the stack deletes its log group.
type rigClouds struct {
	cloud.Clouds
	r *cloudRig
}

func (c *rigClouds) Function(out cloud.Outputs) (cloud.Function, error) {
	fn, err := c.Clouds.Function(out)
	return &rigFunction{Function: fn, r: c.r}, err
}

func (c *rigClouds) Leftovers(ctx context.Context, q leftover.Query) ([]leftover.Leftover, error) {
	c.r.logs.DeleteGroup(stubLogGroup)
	return c.Clouds.Leftovers(ctx, q)
}

type rigFunction struct {
	cloud.Function
	r *cloudRig
}

func (f *rigFunction) WaitReports(ctx context.Context, start, end time.Time, ids []string, deadline time.Time) (map[string]results.PlatformReport, []string, error) {
	files, _ := filepath.Glob(filepath.Join(f.r.logDir, "*.log"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "REPORT RequestId: ") {
				f.r.logs.Put(stubLogGroup, awsfake.LogEvent{Stream: filepath.Base(name), Time: end.Add(-time.Minute), Message: line})
			}
		}
	}
	return f.Function.WaitReports(ctx, start, end, ids, deadline)
}

// run runs servebench cloud and reports how long it took.
func (r *cloudRig) run(ctx context.Context) error {
	start := time.Now()
	err := cloud.Run(ctx, r.opts, r.env)
	r.t.Logf("servebench cloud took %.1fs: %v", time.Since(start).Seconds(), err)
	return err
}

// checkEmpty: the stacks servebench cloud created are gone from the backend
// (destroyed, then removed), and their committed stack files are as they were.
func (r *cloudRig) checkEmpty(stacks ...string) {
	r.t.Helper()
	var left []struct{ Name string }
	decode(r.t, r.p.pulumi("stack", "ls", "--json"), &left)
	for _, s := range left {
		r.t.Errorf("stack %s left in the backend after servebench cloud", s.Name)
		if res := r.p.export(s.Name).Deployment.Resources; len(res) != 0 {
			r.t.Errorf("stack %s still has %d resources after servebench cloud, first %s", s.Name, len(res), res[0].URN)
		}
	}
	for _, s := range stacks {
		if got := r.p.readFile("Pulumi." + s + ".yaml"); got != r.files[s] {
			r.t.Errorf("Pulumi.%s.yaml changed by servebench cloud:\n--- before\n%s\n--- after\n%s", s, r.files[s], got)
		}
	}
}

// noStacks: the backend has no stack at all and the stubs created nothing.
func (r *cloudRig) noStacks() {
	r.t.Helper()
	var stacks []struct{ Name string }
	decode(r.t, r.p.pulumi("stack", "ls", "--json"), &stacks)
	if len(stacks) != 0 {
		r.t.Errorf("stacks in the backend after a refusal: %v", stacks)
	}
	if _, err := os.Stat(r.p.log); err == nil {
		for _, c := range r.p.calls() {
			if c.Method == "Create" {
				r.t.Errorf("Create %s after a refusal", c.URN)
			}
		}
	}
}

func (r *cloudRig) results() (results.Header, []results.Record, []results.Sample) {
	r.t.Helper()
	rf, err := results.ReadFile(filepath.Join(r.out, cloud.ResultsFile))
	h, recs, samples := rf.Header, rf.Records, rf.Samples
	if err != nil {
		r.t.Fatal(err)
	}
	return h, recs, samples
}

// TestCloudLifecycle: `servebench cloud` deploys both stacks through the
// Automation API, waits until they are ready, runs the scenarios with forced
// cold starts that the answers confirm, sweeps the Lambda memory, joins the
// REPORT lines, samples the fleet, tears both stacks down and finds nothing left.
func TestCloudLifecycle(t *testing.T) {
	r := newCloudRig(t, true)
	if err := r.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.checkEmpty("serverful", "serverless")
	out := r.stdout.String()
	for _, want := range []string{"Worst-case cost, price list of " + cost.Default().Date, "leftover check: nothing of serverful, serverless left"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	h, recs, samples := r.results()
	sf, sl := h.Deployments["serverful"], h.Deployments["serverless"]
	if sf.Platform != "ecs" || sf.InstanceType != "t3a.xlarge" || sf.MinInstances != 1 || sf.MaxInstances != 5 || sf.TaskCPU != 4096 || sf.TaskMemoryMB != 14336 || sf.Endpoint != r.sf.URL() || sf.Region != "us-east-1" {
		t.Errorf("serverful deployment %+v", sf)
	}
	if sl.Platform != "lambda" || sl.MemoryMB != 3000 || sl.Architecture != "x86_64" || sl.Endpoint != r.sl.URL() {
		t.Errorf("serverless deployment %+v", sl)
	}
	for _, mb := range []int{1024, 2048} {
		name := "serverless@" + strconv.Itoa(mb)
		if d := h.Deployments[name]; d.MemoryMB != mb || d.Platform != "lambda" || h.Targets[name] != r.sl.URL() {
			t.Errorf("%s: deployment %+v, target %q", name, d, h.Targets[name])
		}
	}

	// Per target, function and group: the requests and how many said cold.
	type key struct{ target, fn, group string }
	n, cold := map[key]int{}, map[key]int{}
	withID := map[string]int{}
	for _, rec := range recs {
		if !rec.OK() {
			t.Errorf("request failed: %+v", rec)
		}
		k := key{rec.Target, rec.Function, rec.Group}
		n[k]++
		if rec.Cold != nil && *rec.Cold {
			cold[k]++
		}
		if strings.HasPrefix(rec.Target, "serverless") && (rec.RequestID == "" || rec.PlatformReport == nil) {
			t.Errorf("serverless request without its request id or REPORT figures: %+v", rec)
		}
		if rec.RequestID != "" {
			withID[rec.Target]++
		}
	}
	for _, target := range []string{"serverful", "serverless"} {
		for k, want := range map[key]int{
			{target, "predict", results.GroupDeployCold}: 2, {target, "predict", results.GroupWarm}: 2,
			{target, "faces/upload", results.GroupCold}: 1, {target, "faces/upload", results.GroupWarm}: 1,
			{target, "predict", "1"}: 2,
		} {
			if n[k] != want {
				t.Errorf("%v: %d requests, want %d", k, n[k], want)
			}
		}
		// Forced cold: the fake's update restarted the local instance.
		if k := (key{target, "faces/upload", results.GroupCold}); cold[k] != n[k] {
			t.Errorf("%v: %d of %d answers cold after a forced cold start", k, cold[k], n[k])
		}
	}
	for _, mb := range []string{"1024", "2048"} {
		k := key{"serverless@" + mb, "predict", results.GroupCold}
		if n[k] != 2 || cold[k] == 0 {
			t.Errorf("sweep %v: %d requests, %d cold; want 2, cold after the memory change", k, n[k], cold[k])
		}
	}
	if n[key{"serverful", "predict", results.GroupCold}] != 0 {
		t.Error("the first cold burst after deploy is labelled cold, not deploy-cold")
	}

	metrics := map[string]float64{}
	for _, s := range samples {
		metrics[s.Target+" "+s.Metric] += s.Value
	}
	if metrics["serverful instances"] == 0 || metrics["serverful tasks"] == 0 {
		t.Errorf("no fleet samples of instances and tasks: %v", metrics)
	}
	for _, target := range []string{"serverless", "serverless@1024", "serverless@2048"} {
		if withID[target] == 0 || metrics[target+" "+cloud.MetricReportsMissing] != 0 || metrics[target+" "+cloud.MetricReportsJoined] != float64(withID[target]) {
			t.Errorf("%s: REPORT counts %v, want all %d requests with a request id joined", target, metrics, withID[target])
		}
	}

	// What was asked of AWS: the account checks, forced cold starts, the sweep's
	// sizes and back to the stack's, the leftover check by the stack's tags.
	ops := strings.Join(r.srv.Operations(""), " ")
	for _, want := range []string{"GetCallerIdentity", "GetRole", "UpdateService", "DescribeAutoScalingGroups", "DescribeTargetHealth", "FilterLogEvents", "GetResources"} {
		if !strings.Contains(ops, want) {
			t.Errorf("no %s call; calls: %s", want, ops)
		}
	}
	var memories []int
	envChanges := 0
	for _, c := range r.srv.Calls("lambda") {
		if c.Method != "PUT" {
			continue
		}
		var in struct {
			MemorySize  int
			Environment *struct{ Variables map[string]string }
		}
		if err := c.JSON(&in); err != nil {
			t.Fatal(err)
		}
		if in.MemorySize > 0 {
			memories = append(memories, in.MemorySize)
		}
		if in.Environment != nil {
			envChanges++
		}
	}
	if fmt.Sprint(memories) != "[1024 2048 3000]" || envChanges != 1 {
		t.Errorf("Lambda updates: memory sizes %v (want [1024 2048 3000]), %d environment changes (want 1, faces/upload's forced cold)", memories, envChanges)
	}
	var forced int
	for _, c := range r.srv.Calls("ecs") {
		var in struct{ ForceNewDeployment bool }
		if c.Operation == "UpdateService" && c.JSON(&in) == nil && in.ForceNewDeployment {
			forced++
		}
	}
	if forced != 1 {
		t.Errorf("%d forced ECS deployments, want 1 (faces/upload's cold burst)", forced)
	}
	var lo struct{ Leftovers []leftover.Leftover }
	b, err := os.ReadFile(filepath.Join(r.out, cloud.LeftoversFile))
	if err != nil || json.Unmarshal(b, &lo) != nil || len(lo.Leftovers) != 0 {
		t.Errorf("leftovers file: %v %s", err, b)
	}
}

// TestCloudTeardownAfterFailure: a failure mid-run (the Lambda update that
// forces faces/upload's cold start fails) still tears both stacks down, keeps
// what was measured, and the error says what failed.
func TestCloudTeardownAfterFailure(t *testing.T) {
	r := newCloudRig(t, true)
	r.lambda.FailNextUpdate(stubFunction, "InvalidImage", "the image cannot be pulled")
	err := r.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "coldwarm faces/upload on serverless: force cold") || !strings.Contains(err.Error(), "InvalidImage") {
		t.Fatalf("err = %v, want the failed update of faces/upload's forced cold start", err)
	}
	r.checkEmpty("serverful", "serverless")
	_, recs, _ := r.results()
	targets := map[string]int{}
	for _, rec := range recs {
		targets[rec.Target]++
	}
	if targets["serverful"] == 0 || targets["serverless"] == 0 || len(targets) != 2 {
		t.Errorf("requests per target %v: want those before the failure, on serverful and serverless only", targets)
	}
	if !strings.Contains(r.stdout.String(), "leftover check: nothing") {
		t.Error("no leftover check after the failed run")
	}
}

// TestCloudTeardownAfterInterrupt: SIGINT (Ctrl-C) mid-run cancels the run's
// context: the load stops, what was measured is kept, both stacks are torn down.
func TestCloudTeardownAfterInterrupt(t *testing.T) {
	r := newCloudRig(t, true)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	restart := r.ecs.OnNewDeployment
	r.ecs.OnNewDeployment = func(cluster, service string) {
		restart(cluster, service)
		if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
			t.Error(err)
		}
	}
	err := r.run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the cancellation", err)
	}
	r.checkEmpty("serverful", "serverless")
	_, recs, _ := r.results()
	if len(recs) == 0 {
		t.Error("nothing measured before the interrupt was kept")
	}
	for _, rec := range recs {
		if strings.HasPrefix(rec.Target, "serverless@") {
			t.Errorf("the sweep ran after the interrupt: %+v", rec)
			break
		}
	}
	if !strings.Contains(r.stdout.String(), "leftover check: nothing") {
		t.Error("no leftover check after the interrupted run")
	}
}

// TestCloudPreflightRefusals: each missing prerequisite stops the command
// before anything is created, with a message saying what to do.
func TestCloudPreflightRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, check, msg string
		break_           func(r *cloudRig)
	}{
		{"no CLI", "pulumi", "the pulumi CLI is not on PATH", func(r *cloudRig) {
			r.env.LookPath = func(string) (string, error) {
				return "", errors.New(`exec: "pulumi": executable file not found in $PATH`)
			}
		}},
		{"not logged in", "pulumi", "pulumi login", func(r *cloudRig) {
			r.env.PulumiEnv["PULUMI_HOME"] = t.TempDir()
		}},
		{"no credentials", "aws", "AWS refused the credentials (InvalidClientTokenId", func(r *cloudRig) {
			r.sts.Refuse("InvalidClientTokenId", "The security token included in the request is invalid.")
		}},
		{"containerd image store", "docker", "containerd image store", func(r *cloudRig) {
			r.env.DockerInfo = func(context.Context) ([]byte, error) {
				return []byte(`{"ServerVersion":"29.0.0","DriverStatus":[["driver-type","io.containerd.snapshotter.v1"]]}`), nil
			}
		}},
		{"no service-linked role", "ecs-role", "aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com", func(r *cloudRig) {
			r.iam = awsfake.NewIAM()
			r.iam.Install(r.srv)
		}},
		{"low concurrency", "lambda-concurrency", "concurrency is 10 (10 unreserved) in this region, below the largest burst of 30", func(r *cloudRig) {
			r.lambda.SetAccountLimits(10, 10)
			r.opts.Scenarios = []benchscenario.Scenario{benchscenario.ColdWarm{Burst: 30, FacesBurst: 1, Functions: []string{"predict"}, Images: []string{"images/dog.jpg"}}}
		}},
		{"budget", "budget", "is above -max-usd 0.01", func(r *cloudRig) { r.opts.MaxUSD = 0.01 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newCloudRig(t, false)
			tc.break_(r)
			err := r.run(context.Background())
			var pe *cloud.Error
			if !errors.As(err, &pe) || pe.Check != tc.check || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want a %s refusal saying %q", err, tc.check, tc.msg)
			}
			r.noStacks()
		})
	}
}

// TestCloudDryRun: the plan and its worst case, then nothing created.
func TestCloudDryRun(t *testing.T) {
	r := newCloudRig(t, false)
	r.opts.DryRun = true
	if err := r.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Worst-case cost", "t3a.xlarge instances", "Lambda 1024 MB compute", "Lambda 2048 MB compute", "dry run: nothing created"} {
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout.String())
		}
	}
	r.noStacks()
}
