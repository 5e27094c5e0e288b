package faces

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/servebench/servebench/service/timing"
)

// dataDir is the shared test data: $SERVEBENCH_DATA, else ../shared/data beside
// the checkout.
func dataDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SERVEBENCH_DATA")
	if dir == "" {
		dir = "../../../shared/data"
	}
	if _, err := os.Stat(filepath.Join(dir, "faces", "orl", "s1", "1.pgm")); err != nil {
		t.Fatalf("test data not found: set SERVEBENCH_DATA to the shared data directory (with faces/orl): %v", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func orlDir(t testing.TB) string { return filepath.Join(dataDir(t), "faces", "orl") }

func loadORL(t testing.TB) *Dataset {
	t.Helper()
	files, err := ReadDir(os.DirFS(orlDir(t)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Load(files)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// One full ORL training shared by every test that needs a model: under -race it
// takes tens of seconds.
var orl struct {
	once  sync.Once
	ds    *Dataset
	model *Model
	rep   Report
	st    timing.Map
	err   error
}

func trainedORL(t testing.TB) (*Dataset, *Model, Report) {
	t.Helper()
	orl.once.Do(func() {
		orl.ds = loadORL(t)
		st := timing.New()
		orl.model, orl.rep, orl.err = Train(context.Background(), orl.ds, DefaultTrainOptions, st)
		orl.st = st.Finish()
	})
	if orl.err != nil {
		t.Fatal(orl.err)
	}
	return orl.ds, orl.model, orl.rep
}
