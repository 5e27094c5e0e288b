package local

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/assets"
	"github.com/servebench/servebench/bench/lambdaemu"
	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/report"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
)

func collect(ch <-chan loadgen.Result) []loadgen.Result {
	var out []loadgen.Result
	for r := range ch {
		out = append(out, r)
	}
	return out
}

// testData finds the shared data the way scripts/test provides it, and fails (never
// skips) when it is missing.
func testData(t *testing.T, root string) assets.Dir {
	t.Helper()
	if os.Getenv(assets.EnvDir) == "" {
		if _, err := os.Stat(filepath.Join(root, "..", "shared", "data", assets.ModelPath)); err != nil {
			t.Fatalf("no test data: set %s (scripts/test does) or put the data in ../shared/data beside the checkout", assets.EnvDir)
		}
	}
	d, err := assets.Locate(context.Background(), slog.New(slog.DiscardHandler), root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// setUp builds the service from the checkout into a temporary work directory,
// finds the Lambda emulator and seeds the buckets from the test data.
func setUp(t *testing.T) (log *slog.Logger, data assets.Dir, work string, bin Binary, rie string, buckets Buckets) {
	t.Helper()
	ctx := context.Background()
	log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	data = testData(t, root)
	work = t.TempDir()
	if bin, err = Build(ctx, log, root, filepath.Join(work, "bin")); err != nil {
		t.Fatal(err)
	}
	if rie, err = FindRIE(ctx, root); err != nil {
		t.Fatal(err)
	}
	if buckets, err = Seed(filepath.Join(work, "buckets"), data); err != nil {
		t.Fatal(err)
	}
	return log, data, work, bin, rie, buckets
}

// TestLocalEndToEnd builds the real service, stands up both deployments, runs a
// small batches and coldwarm run against them, and checks what the answers said
// about cold starts, that no instance outlives the deployments, and that the
// report agrees with the results file.
func TestLocalEndToEnd(t *testing.T) {
	ctx := context.Background()
	log, data, work, bin, rie, buckets := setUp(t)
	t.Logf("service built with the %s backend", bin.Backend)
	resultsPath := filepath.Join(work, "results.jsonl")
	w, err := results.Create(resultsPath, results.Header{Started: time.Now(), Scenarios: []string{"batches", "coldwarm"}})
	if err != nil {
		t.Fatal(err)
	}
	l := &Launcher{Bin: bin, Buckets: buckets, LogDir: filepath.Join(work, "logs")}
	ll := LambdaLauncher(bin, buckets, filepath.Join(work, "logs"), rie, lambdaemu.Function{MemoryMB: 3000, Timeout: time.Minute})

	// A low CPU threshold makes the autoscaler add its one extra instance under
	// any load, and a short idle time lets it remove it within the test.
	sf, err := StartServerful(ctx, log, "serverful", l, ServerfulConfig{Min: 1, Max: 2, ScaleOutCPU: 5, ScaleInIdle: 1500 * time.Millisecond,
		Interval: 300 * time.Millisecond, WarmUp: PredictWarmUp("images/dog.jpg")}, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sf.Close) // also on failure: no instance outlives the test
	sl, err := StartServerless(log, "serverless", ll, ServerlessConfig{MaxInstances: 8, KeepAlive: 3 * time.Second, Interval: 300 * time.Millisecond}, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sl.Close)
	ready := time.Now()

	images := []string{"images/dog.jpg", "images/bus.jpg", "images/zidane.jpg"}
	face, err := os.ReadFile(filepath.Join(data.Path, assets.FacesORL, "s7", "10.pgm"))
	if err != nil {
		t.Fatal(err)
	}
	plan := scenario.Plan{
		Scenarios: []scenario.Scenario{
			scenario.Batches{Size: 3, Batches: 2, Images: images},
			scenario.ColdWarm{Burst: 3, FacesBurst: 2, Functions: scenario.Functions, Images: images, Face: face, FaceName: "s7_10.pgm"},
		},
		Targets: []scenario.Target{
			{Name: "serverful", URL: sf.URL(), Cold: sf},
			{Name: "serverless", URL: sl.URL(), Cold: sl},
		},
	}
	r := &scenario.Runner{Attacker: loadgen.NewAttacker(loadgen.Timeout(time.Minute)), Out: w, Log: log}
	if _, err := plan.Run(ctx, r); err != nil {
		t.Fatal(err)
	}
	// The faces state the bursts left behind is shared through the output bucket:
	// caller 1's model, trained on a serverless instance and again on a serverful
	// one, names the person of the uploaded face.
	for _, base := range []string{sf.URL(), sl.URL()} {
		res := r.Attacker.Do(ctx, loadgen.Target{Method: "POST", URL: base + "/faces/predict?id=1"})
		var ans struct{ Name string }
		if err := json.Unmarshal(res.Body, &ans); err != nil || !res.OK() || ans.Name != "s7" {
			t.Errorf("faces/predict on %s: status %d err %q name %q (want s7): %s", base, res.Status, res.Err, ans.Name, res.Body)
		}
	}

	// A signed URL in an answer is served through the front door that gave it,
	// whichever instance takes the fetch: on the serverless side an invoke
	// whose binary answer the function base64-encodes.
	for _, base := range []string{sf.URL(), sl.URL()} {
		checkSignedURL(ctx, t, r.Attacker, base)
	}

	procs := append(sf.Instances(), sl.Instances()...)
	var bootstraps []int
	for _, p := range sl.Instances() {
		bootstraps = append(bootstraps, children(p.Pid())...)
	}
	if len(procs) < 3 {
		t.Errorf("%d instances running at the end; want the serverful one and the 2 serverless of the last burst", len(procs))
	}

	// Beyond its cap the serverless front door refuses with 429, as Lambda does.
	if err := sl.ForceCold(ctx); err != nil {
		t.Fatal(err)
	}
	capped := collect(r.Attacker.Attack(ctx, func(int) (loadgen.Target, error) {
		return loadgen.Target{Method: "POST", URL: sl.URL() + "/predict", Body: []byte(`{"filename":"images/dog.jpg"}`)}, nil
	}, loadgen.Burst(10)))
	ok, refused := 0, 0
	for _, res := range capped {
		switch {
		case res.OK():
			ok++
		case res.Status == 429 && res.Err == "too_many_requests":
			refused++
		default:
			t.Errorf("over the cap: status %d err %q", res.Status, res.Err)
		}
	}
	if ok > 8 || refused < 2 || ok+refused != 10 {
		t.Errorf("10 at once against a cap of 8: %d ok, %d refused", ok, refused)
	}
	procs = append(procs, sl.Instances()...)
	for _, p := range sl.Instances() {
		bootstraps = append(bootstraps, children(p.Pid())...)
	}
	if len(bootstraps) < 3 {
		t.Errorf("%d Lambda bootstraps seen under the serverless emulators; want one for each of at least 3", len(bootstraps))
	}

	// Idle: the serverful side scales back in to its minimum, and the serverless
	// side reaps every instance after its keep-alive.
	deadline := time.Now().Add(15 * time.Second)
	for (len(sf.Instances()) != 1 || len(sl.Instances()) != 0) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n, m := len(sf.Instances()), len(sl.Instances()); n != 1 || m != 0 {
		t.Errorf("after idling: %d serverful instances (want 1) and %d serverless (want 0)", n, m)
	}
	sf.Close()
	sl.Close()
	for _, p := range procs {
		if !p.Exited() {
			t.Errorf("instance %s (pid %d) still running after Close", p.Name, p.Pid())
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(p.Pid())); err == nil {
			t.Errorf("pid %d of %s still exists after Close", p.Pid(), p.Name)
		}
	}
	for _, pid := range bootstraps {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("Lambda bootstrap pid %d still exists after Close", pid)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(resultsPath)
	if err != nil {
		t.Fatal(err)
	}
	rf, err := results.Read(f)
	recs, samples := rf.Records, rf.Samples
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != plan.Planned() { // the capped burst was not recorded
		t.Fatalf("%d records, want %d: every request is written", len(recs), plan.Planned())
	}

	type key struct{ scenario, target, function, group string }
	cold := map[key]int{}
	n := map[key]int{}
	instances := map[key]map[string]bool{}
	for _, rec := range recs {
		if !rec.OK() {
			t.Errorf("request failed: %+v", rec)
			continue
		}
		if rec.Cold == nil || rec.Instance == "" {
			t.Errorf("answer without server info: %+v", rec)
			continue
		}
		if want := "local-" + rec.Target; rec.Platform != want {
			t.Errorf("platform %q from %s, want %q", rec.Platform, rec.Target, want)
		}
		if rec.ServerMS <= 0 || rec.ServerMS > rec.ClientMS {
			t.Errorf("server time %.1f ms against client time %.1f ms", rec.ServerMS, rec.ClientMS)
		}
		checkPlatformReport(t, rec)
		k := key{rec.Scenario, rec.Target, rec.Function, rec.Group}
		n[k]++
		if *rec.Cold {
			cold[k]++
		}
		if instances[k] == nil {
			instances[k] = map[string]bool{}
		}
		instances[k][rec.Instance] = true
		if rec.Target == "serverful" && rec.Scenario == "batches" && *rec.Cold {
			t.Errorf("serverful request at +%s after ready was cold", rec.Start.Sub(ready))
		}
	}
	// Serverless: the first batch starts an instance per request, all cold; the
	// second finds them idle, none cold.
	if k := (key{"batches", "serverless", "predict", "1"}); cold[k] != 3 || len(instances[k]) != 3 {
		t.Errorf("serverless batch 1: %d of %d cold on %d instances; want all 3 cold on 3", cold[k], n[k], len(instances[k]))
	}
	if k := (key{"batches", "serverless", "predict", "2"}); cold[k] != 0 || n[k] != 3 {
		t.Errorf("serverless batch 2: %d of %d cold; want none", cold[k], n[k])
	}
	// Serverful: warmed before it took load, so no cold answer in batches; an
	// instance the autoscaler adds is warmed before it joins, so none either.
	for _, b := range []string{"1", "2"} {
		if k := (key{"batches", "serverful", "predict", b}); cold[k] != 0 || n[k] != 3 {
			t.Errorf("serverful batch %s: %d of %d cold; want none", b, cold[k], n[k])
		}
	}
	// Coldwarm after ForceCold: serverless cold burst all cold, warm burst none;
	// serverful has one new instance, so exactly its first request is cold.
	// Each function is forced cold before its bursts.
	for _, fn := range scenario.Functions {
		burst := 3
		if fn != "predict" {
			burst = 2
		}
		if k := (key{"coldwarm", "serverless", fn, "cold"}); cold[k] != burst || n[k] != burst {
			t.Errorf("serverless %s forced-cold burst: %d of %d cold, want all %d", fn, cold[k], n[k], burst)
		}
		if k := (key{"coldwarm", "serverless", fn, "warm"}); cold[k] != 0 || n[k] != burst {
			t.Errorf("serverless %s warm burst: %d of %d cold, want none of %d", fn, cold[k], n[k], burst)
		}
		if k := (key{"coldwarm", "serverful", fn, "cold"}); cold[k] != 1 {
			t.Errorf("serverful %s forced-cold burst: %d of %d cold, want exactly 1 (one fresh instance)", fn, cold[k], n[k])
		}
	}
	for _, b := range []string{"1", "2"} {
		for inst := range instances[key{"coldwarm", "serverful", "predict", "cold"}] {
			if instances[key{"batches", "serverful", "predict", b}][inst] {
				t.Errorf("serverful instance %s survived ForceCold", inst)
			}
		}
	}

	// Samples: both deployments recorded instance counts over time.
	maxInst, maxMem := map[string]float64{}, map[string]float64{}
	for _, s := range samples {
		switch s.Metric {
		case "instances":
			maxInst[s.Target] = math.Max(maxInst[s.Target], s.Value)
		case "memory_mb":
			maxMem[s.Target] = math.Max(maxMem[s.Target], s.Value)
		}
	}
	// Each instance holds at least the model (3.7 MB) and a Go runtime: 5 MB is
	// a floor no running instance is under.
	for tgt, n := range maxInst {
		if maxMem[tgt] < 5*n {
			t.Errorf("%s: at most %.0f MB resident for up to %.0f instances", tgt, maxMem[tgt], n)
		}
	}
	if maxInst["serverful"] != 2 || maxInst["serverless"] < 3 || maxInst["serverless"] > 8 {
		t.Errorf("most instances sampled: %v; want serverful 2 (scaled out to its max), serverless 3..8 (its cap)", maxInst)
	}

	checkReport(t, resultsPath, recs)
}

// checkPlatformReport: a serverless request carries the emulator's REPORT
// figures, the init only when cold; a serverful one carries none.
func checkPlatformReport(t *testing.T, rec results.Record) {
	t.Helper()
	p := rec.PlatformReport
	if rec.Target == "serverful" {
		if p != nil {
			t.Errorf("serverful request with platform figures %+v", p)
		}
		return
	}
	if p == nil {
		t.Errorf("serverless request %s %s/%s without platform figures", rec.Function, rec.Scenario, rec.Group)
		return
	}
	// The invocation holds the handler and is within what the client waited;
	// billing is the duration rounded up to the millisecond (from the unrounded
	// duration: 2031.00 ms printed may bill 2032).
	if p.DurationMS < rec.ServerMS || p.DurationMS > rec.ClientMS || p.BilledMS < p.DurationMS || p.BilledMS > math.Ceil(p.DurationMS)+1 {
		t.Errorf("%s: REPORT duration %.2f ms, billed %.0f ms against server %.2f ms and client %.2f ms", rec.Function, p.DurationMS, p.BilledMS, rec.ServerMS, rec.ClientMS)
	}
	if (p.InitMS > 0) != *rec.Cold {
		t.Errorf("%s: REPORT init %.2f ms on a request with cold=%v", rec.Function, p.InitMS, *rec.Cold)
	}
	if p.MaxMemoryMB < 20 {
		t.Errorf("%s: peak memory %.1f MB", rec.Function, p.MaxMemoryMB)
	}
}

// checkSignedURL predicts through base and fetches the answer's signed URL
// through it too: the annotated JPEG, byte for byte what the bucket holds.
func checkSignedURL(ctx context.Context, t *testing.T, a *loadgen.Attacker, base string) {
	t.Helper()
	res := a.Do(ctx, loadgen.Target{Method: "POST", URL: base + "/predict", Body: []byte(`{"filename":"images/dog.jpg"}`)})
	var ans struct{ Location string }
	if err := json.Unmarshal(res.Body, &ans); err != nil || !res.OK() || !strings.HasPrefix(ans.Location, base+"/files?") {
		t.Errorf("predict on %s: status %d err %q location %q: want a URL under %s/files", base, res.Status, res.Err, ans.Location, base)
		return
	}
	got := a.Do(ctx, loadgen.Target{Method: "GET", URL: ans.Location})
	cfg, format, err := image.DecodeConfig(bytes.NewReader(got.Body))
	if got.Status != 200 || err != nil || format != "jpeg" || cfg.Width != 768 || cfg.Height != 576 {
		t.Errorf("signed URL through %s: status %d, %s %dx%d (%v); want the 768×576 annotated JPEG", base, got.Status, format, cfg.Width, cfg.Height, err)
	}
}

// checkReport writes the report from the results file and checks its files exist
// and its numbers are those of the records.
func checkReport(t *testing.T, resultsPath string, recs []results.Record) {
	t.Helper()
	dir := filepath.Join(filepath.Dir(resultsPath), "report")
	sum, err := report.Generate(context.Background(), resultsPath, report.Options{OutDir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sum.Files, "index.html") {
		t.Errorf("report files %v lack index.html", sum.Files)
	}
	for _, name := range sum.Files {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("report file %s: %v", name, err)
		}
	}
	if sum.Requests != len(recs) {
		t.Errorf("report counts %d requests, the file has %d", sum.Requests, len(recs))
	}
	type key struct{ scenario, target, function, group string }
	// The report's statistics are over the successful requests of each group.
	client := map[key][]float64{}
	total, failed, colds := map[key]int{}, map[key]int{}, map[key]int{}
	for _, r := range recs {
		k := key{r.Scenario, r.Target, r.Function, r.Group}
		total[k]++
		if !r.OK() {
			failed[k]++
			continue
		}
		client[k] = append(client[k], r.ClientMS)
		if r.Cold != nil && *r.Cold {
			colds[k]++
		}
	}
	if len(sum.Groups) != len(total) {
		t.Errorf("report has %d groups, the records %d", len(sum.Groups), len(total))
	}
	for _, g := range sum.Groups {
		k := key{g.Scenario, g.Target, g.Function, g.Group}
		if g.Total != total[k] || g.Failed != failed[k] || g.Cold != colds[k] {
			t.Errorf("report group %v: total %d failed %d cold %d; records: %d, %d, %d", k, g.Total, g.Failed, g.Cold, total[k], failed[k], colds[k])
		}
		xs := client[k]
		if len(xs) == 0 {
			continue
		}
		mean := 0.0
		for _, x := range xs {
			mean += x
		}
		mean /= float64(len(xs))
		if g.Client.N != len(xs) || math.Abs(g.Client.Mean-mean) > 1e-6 || g.Client.Max != slices.Max(xs) || g.Client.Min != slices.Min(xs) {
			t.Errorf("report group %v client time: n %d mean %.3f min %.3f max %.3f; records: %d, %.3f, %.3f, %.3f",
				k, g.Client.N, g.Client.Mean, g.Client.Min, g.Client.Max, len(xs), mean, slices.Min(xs), slices.Max(xs))
		}
	}
	if t.Failed() {
		fmt.Fprintf(os.Stderr, "report in %s\n", dir)
	}
}

// Build compiles without cgo and without build tags (both detector backends are
// always compiled in), and the processes it launches are told where both native
// libraries are: the test environment has them (scripts/test provides them).
func TestBuildWithoutCgo(t *testing.T) {
	ctx := context.Background()
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := Build(ctx, slog.New(slog.DiscardHandler), root, t.TempDir(), ServerCmd)
	if err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(bin.Path(ServerCmd))
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-tags"] != "" {
		t.Errorf("built with CGO_ENABLED=%q -tags=%q, want CGO_ENABLED=0 and no tags", settings["CGO_ENABLED"], settings["-tags"])
	}
	if bin.Backend != "onnxruntime" || bin.ORTLib == "" {
		t.Fatalf("backend %q, library %q: no ONNX Runtime library (set %s or run scripts/setup-onnxruntime)", bin.Backend, bin.ORTLib, ORTLibEnv)
	}
	if bin.TurboJPEGLib == "" {
		t.Fatalf("no libjpeg-turbo library: set %s or run scripts/setup-turbojpeg", TurboJPEGLibEnv)
	}
	env := (&Launcher{Bin: bin}).env(8080, nil)
	for _, want := range []string{"SERVEBENCH_BACKEND=onnxruntime", ORTLibEnv + "=" + bin.ORTLib, TurboJPEGLibEnv + "=" + bin.TurboJPEGLib} {
		if !slices.Contains(env, want) {
			t.Errorf("process environment %v lacks %s", env, want)
		}
	}
}

// Each library: the variable's path when set (and an error naming it when the
// file is not there), else what its setup script prints.
func TestFindLibs(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env, name string
		find      func(context.Context, string) (string, error)
		minSize   int64
	}{
		{ORTLibEnv, "libonnxruntime.so.1", findORTLib, 1 << 20},
		{TurboJPEGLibEnv, "libturbojpeg.so.0", findTurboJPEGLib, 1 << 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(c.env, "/nonexistent/"+c.name)
			if _, err := c.find(context.Background(), root); err == nil || !strings.Contains(err.Error(), c.env+"=/nonexistent") {
				t.Errorf("a missing library named by %s: err %v, want it named", c.env, err)
			}
			// Unset, the setup script answers: from its cache (scripts/test filled it),
			// the system, or a fetch.
			t.Setenv(c.env, "")
			lib, err := c.find(context.Background(), root)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(lib) != c.name {
				t.Errorf("setup script gave %q", lib)
			}
			if st, err := os.Stat(lib); err != nil || st.Size() < c.minSize {
				t.Errorf("library %s: %v", lib, err)
			}
		})
	}
}
