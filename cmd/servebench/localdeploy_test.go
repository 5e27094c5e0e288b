package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/study"
)

// TestLocalDeploymentsReachTheReport: `local`'s deployment records go into the
// results header (platform local, the serverful instance counts, the memory the
// serverless side runs at), and the report, which prices from them only, says
// the run was local and which memory it assumed.
func TestLocalDeploymentsReachTheReport(t *testing.T) {
	stderr = newConsole(os.Stderr)
	var hits atomic.Int64
	sf, sl := contractServer(t, 5*time.Millisecond, &hits), contractServer(t, 5*time.Millisecond, &hits)
	dir := t.TempDir()
	var out bytes.Buffer
	err := measure(context.Background(), slog.New(slog.DiscardHandler), measurement{
		dir: dir, started: time.Now(), config: map[string]any{},
		targets:     []scenario.Target{{Name: "serverful", URL: sf.URL}, {Name: "serverless", URL: sl.URL}},
		deployments: localDeployments(sf.URL, sl.URL, 2, 4),
		scenarios:   []scenario.Scenario{scenario.Batches{Size: 2, Batches: 1, Images: []string{"images/dog.jpg"}}},
		attacker:    loadgen.NewAttacker(), stdout: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := readResults(t, filepath.Join(dir, ResultsFile))
	f, l := h.Deployments["serverful"], h.Deployments["serverless"]
	if f.Platform != "local" || f.MinInstances != 2 || f.MaxInstances != 4 || f.Endpoint != sf.URL {
		t.Errorf("serverful record %+v, want local, 2..4 instances at %s", f, sf.URL)
	}
	if l.Platform != "local" || l.MemoryMB != study.LambdaMemoryMB || l.Endpoint != sl.URL {
		t.Errorf("serverless record %+v, want local at %d MB", l, study.LambdaMemoryMB)
	}
	for _, want := range []string{"a local run: durations come from this machine", fmt.Sprintf("at %d MB (assumed by the local run", study.LambdaMemoryMB)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("terminal summary lacks %q:\n%s", want, out.String())
		}
	}
}
