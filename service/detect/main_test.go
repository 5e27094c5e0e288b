package detect

import (
	"context"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// dataDir is the shared test data: SERVEBENCH_DATA, else ../shared/data beside the
// checkout. Missing data fails the tests: they must not pass by testing nothing.
var dataDir = sync.OnceValues(func() (string, error) {
	if d := os.Getenv("SERVEBENCH_DATA"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "..", "shared", "data")
		if _, err := os.Stat(filepath.Join(cand, "models")); err == nil {
			return filepath.Clean(cand), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
})

func testData(t testing.TB, rel string) string {
	t.Helper()
	dir, err := dataDir()
	if err != nil {
		t.Fatalf("test data not found: set SERVEBENCH_DATA (scripts/test does) or put it at ../shared/data beside the checkout")
	}
	return filepath.Join(dir, rel)
}

var modelBytes = sync.OnceValues(func() ([]byte, error) {
	dir, err := dataDir()
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, "models", "yolox_nano.onnx"))
})

func testModel(t testing.TB) []byte {
	t.Helper()
	testData(t, "models")
	m, err := modelBytes()
	if err != nil {
		t.Fatalf("read model: %v", err)
	}
	return m
}

// Detectors are built once per test binary and shared: building sessions is slow, and
// compiling the gomlx graph under -race very slow.
var (
	detectorsMu sync.Mutex
	detectors   = map[string]*detector{}
)

func testDetector(t testing.TB, backend string) *detector {
	t.Helper()
	model := testModel(t)
	detectorsMu.Lock()
	defer detectorsMu.Unlock()
	if d, ok := detectors[backend]; ok {
		return d
	}
	d, err := New(context.Background(), backend, model, LoadOptions{})
	if err != nil {
		t.Fatalf("New(%s): %v%s", backend, err, libraryHint(backend))
	}
	detectors[backend] = d.(*detector)
	return detectors[backend]
}

// libraryHint says, for a test that needs ONNX Runtime, how to provide it.
func libraryHint(backend string) string {
	if backend != BackendONNXRuntime {
		return ""
	}
	return "\nthe onnxruntime tests need libonnxruntime.so.1: set " + LibraryEnv +
		" to its path (scripts/setup-onnxruntime fetches it; scripts/test does both)"
}

func loadImage(t testing.TB, name string) image.Image {
	t.Helper()
	f, err := os.Open(testData(t, filepath.Join("images", name)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return img
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range detectors {
		d.Close()
	}
	os.Exit(code)
}
