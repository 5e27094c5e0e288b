package local

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/lambdaemu"
	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
)

// TestLocalServerlessRecordsLambdaRequestID runs the Lambda bootstrap under the
// emulator behind the serverless front door and checks that each recorded
// request_id (server.request_id, which the client reads from the answer) names
// the invocation of the emulator's REPORT line for that very request: the
// front door joined platform_report to the request by its own id (the one it
// gave the invoke), so the REPORT found by the recorded id must carry the same
// figures. A server instance behind the same front door records none.
func TestLocalServerlessRecordsLambdaRequestID(t *testing.T) {
	ctx := context.Background()
	log, _, work, bin, rie, buckets := setUp(t)
	logs := filepath.Join(work, "logs")
	sl, err := StartServerless(log, "serverless", LambdaLauncher(bin, buckets, logs, rie, lambdaemu.Function{MemoryMB: 1024, Timeout: time.Minute}),
		ServerlessConfig{MaxInstances: 2, KeepAlive: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sl.Close)
	plain, err := StartServerless(log, "plain", &Launcher{Bin: bin, Buckets: buckets, LogDir: filepath.Join(work, "plain-logs")},
		ServerlessConfig{MaxInstances: 1, KeepAlive: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plain.Close)

	a := loadgen.NewAttacker(loadgen.Timeout(time.Minute))
	defer a.Close()
	predict := func(base string) func(int) (loadgen.Target, error) {
		return func(int) (loadgen.Target, error) {
			return loadgen.Target{Method: "POST", URL: base + "/predict", Body: []byte(`{"filename":"images/dog.jpg"}`),
				Record: results.Record{Scenario: "coldwarm", Target: "serverless", Function: "predict", Group: "cold"}}, nil
		}
	}
	// Two at once start two instances (cold), then two more find them warm.
	var recs []results.Record
	for range 2 {
		for res := range a.Attack(ctx, predict(sl.URL()), loadgen.Burst(2)) {
			recs = append(recs, res.Record())
		}
	}
	sl.Close() // the emulators' logs are complete once they have exited

	reports := map[string]lambdaemu.Report{}
	files, _ := filepath.Glob(filepath.Join(logs, "*.log"))
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if r, ok := lambdaemu.ParseReport(sc.Text()); ok {
				reports[r.RequestID] = r
			}
		}
		f.Close()
	}
	if len(reports) != len(recs) {
		t.Errorf("%d REPORT lines in %d emulator logs for %d requests", len(reports), len(files), len(recs))
	}
	seen := map[string]bool{}
	cold := 0
	for _, rec := range recs {
		if !rec.OK() || rec.PlatformReport == nil || rec.Cold == nil {
			t.Fatalf("request failed or without platform figures: %+v", rec)
		}
		rep, ok := reports[rec.RequestID]
		switch {
		case rec.RequestID == "":
			t.Errorf("no request_id recorded: %+v", rec)
		case seen[rec.RequestID]:
			t.Errorf("request_id %s recorded twice", rec.RequestID)
		case !ok:
			t.Errorf("request_id %s is in no REPORT line the emulators logged (%d)", rec.RequestID, len(reports))
		case rep.DurationMS != rec.PlatformReport.DurationMS || rep.BilledMS != rec.PlatformReport.BilledMS || rep.Cold != *rec.Cold:
			t.Errorf("REPORT of request_id %s: duration %.2f billed %.0f cold %v; the front door joined duration %.2f billed %.0f, the answer said cold %v",
				rec.RequestID, rep.DurationMS, rep.BilledMS, rep.Cold, rec.PlatformReport.DurationMS, rec.PlatformReport.BilledMS, *rec.Cold)
		}
		seen[rec.RequestID] = true
		if *rec.Cold {
			cold++
		}
	}
	if cold != 2 {
		t.Errorf("%d cold answers of %d, want the first burst's 2", cold, len(recs))
	}

	res := a.Do(ctx, loadgen.Target{Method: "POST", URL: plain.URL() + "/predict", Body: []byte(`{"filename":"images/dog.jpg"}`)})
	if !res.OK() || res.Instance == "" || res.RequestID != "" || res.Record().RequestID != "" {
		t.Errorf("server instance: status %d err %q instance %q request id %q; want an answer without request_id", res.Status, res.Err, res.Instance, res.RequestID)
	}
}
