package detect

import (
	"bytes"
	"context"
	"errors"
	"image"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/servebench/servebench/service/onnxrt"
)

// TestThreads checks that LoadOptions.Threads reaches the backend and Threads reports it
// (onnxrt's TestIntraOpThreads checks that ONNX Runtime then starts that many).
func TestThreads(t *testing.T) {
	model := testModel(t)
	for _, c := range []struct {
		backend       string
		threads, want int
	}{
		{BackendONNXRuntime, 3, 3},
		{BackendONNXRuntime, 0, runtime.GOMAXPROCS(0)},
		{BackendGoMLX, 1, 1},
		{BackendGoMLX, 0, runtime.GOMAXPROCS(0)},
		{BackendGoMLX, runtime.GOMAXPROCS(0) + 1, runtime.GOMAXPROCS(0)}, // its pool never runs more
	} {
		d, err := New(context.Background(), c.backend, model, LoadOptions{Threads: c.threads})
		if err != nil {
			t.Fatalf("New(%s): %v%s", c.backend, err, libraryHint(c.backend))
		}
		if d.Threads() != c.want {
			t.Errorf("%s with LoadOptions.Threads %d: Threads() = %d, want %d", c.backend, c.threads, d.Threads(), c.want)
		}
		if net, ok := d.(*detector).net.(*ortNet); ok && net.session.IntraOpThreads() != c.want {
			t.Errorf("%s with LoadOptions.Threads %d: session has %d intra-op threads, want %d",
				c.backend, c.threads, net.session.IntraOpThreads(), c.want)
		}
		d.Close()
	}
}

// badLibrary is a file that exists but is no shared library.
func badLibrary(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(p, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestONNXRuntimeBadLibrary: asked for onnxruntime, a library that does not load is an
// error naming the variable, whether the path came in LoadOptions or the variable.
func TestONNXRuntimeBadLibrary(t *testing.T) {
	bad := badLibrary(t)
	for name, c := range map[string]struct{ opt, env string }{
		"LoadOptions.Library": {bad, ""},
		LibraryEnv:            {"", bad},
		"missing":             {"", filepath.Join(filepath.Dir(bad), "missing.so")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(LibraryEnv, c.env)
			d, err := New(context.Background(), BackendONNXRuntime, testModel(t), LoadOptions{Library: c.opt})
			if err == nil {
				d.Close()
				t.Fatal("New(onnxruntime) with a bad library: no error")
			}
			if !strings.Contains(err.Error(), LibraryEnv) || errors.Is(err, ErrInvalidModel) {
				t.Errorf("error %q: want one naming %s, not ErrInvalidModel", err, LibraryEnv)
			}
			if err := CheckBackend(context.Background(), BackendONNXRuntime, LoadOptions{Library: c.opt}); err == nil ||
				!strings.Contains(err.Error(), LibraryEnv) {
				t.Errorf("CheckBackend(onnxruntime): %v, want an error naming %s", err, LibraryEnv)
			}
		})
	}
}

// captureLog sends slog's default logger to a buffer for the rest of the test.
func captureLog(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &buf
}

// TestAutoFallsBackLoggingWhy: under auto, a library that does not load gives gomlx, and
// the log says why (the library's error), at start (CheckBackend) and at load (New), to
// LoadOptions.Log or else slog's default logger.
func TestAutoFallsBackLoggingWhy(t *testing.T) {
	bad := badLibrary(t)
	defaultLog := captureLog(t)
	if err := CheckBackend(context.Background(), BackendAuto, LoadOptions{Library: bad}); err != nil {
		t.Errorf("CheckBackend(auto) with a bad library: %v, want nil (gomlx will do)", err)
	}
	if !strings.Contains(defaultLog.String(), "falling back") || !strings.Contains(defaultLog.String(), bad) {
		t.Errorf("CheckBackend(auto) logged %q, want the fallback and the library's error", defaultLog)
	}

	defaultLog.Reset()
	var log bytes.Buffer
	d, err := New(context.Background(), BackendAuto, testModel(t), LoadOptions{Library: bad, Log: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Backend() != BackendGoMLX {
		t.Errorf("auto with a bad library chose %s, want %s", d.Backend(), BackendGoMLX)
	}
	if !strings.Contains(log.String(), "falling back") || !strings.Contains(log.String(), bad) ||
		!strings.Contains(log.String(), LibraryEnv) {
		t.Errorf("New(auto) logged %q to LoadOptions.Log, want the fallback and the library's error naming %s", &log, LibraryEnv)
	}
	if defaultLog.Len() != 0 {
		t.Errorf("New(auto) with LoadOptions.Log logged %q to the default logger too", defaultLog)
	}
}

func TestCheckBackend(t *testing.T) {
	log := captureLog(t)
	for _, backend := range []string{BackendONNXRuntime, BackendAuto, "", BackendGoMLX} {
		if err := CheckBackend(context.Background(), backend, LoadOptions{}); err != nil {
			t.Errorf("CheckBackend(%q): %v%s", backend, err, libraryHint(BackendONNXRuntime))
		}
	}
	if log.Len() != 0 {
		t.Errorf("CheckBackend with a working library logged %q, want nothing", log)
	}
	if err := CheckBackend(context.Background(), "tensorflow", LoadOptions{}); err == nil || !strings.Contains(err.Error(), "tensorflow") {
		t.Errorf("CheckBackend(tensorflow): %v, want an error naming it", err)
	}
}

// TestBackendsAgree runs both backends on the same input tensor: their raw outputs, and
// the detections decoded from them, must agree far more closely than either agrees
// with the reference (which involves another runtime and JPEG decoder).
func TestBackendsAgree(t *testing.T) {
	skipGoMLXRunUnderRace(t)
	ortDet, gomlxDet := testDetector(t, BackendONNXRuntime), testDetector(t, BackendGoMLX)
	img := loadImage(t, "zidane.jpg")
	in := make([]float32, inputLen)
	r := letterbox(img, in)
	outs := map[string][]float32{}
	for name, d := range map[string]*detector{"onnxruntime": ortDet, "gomlx": gomlxDet} {
		out := make([]float32, outputLen)
		if err := d.net.run(context.Background(), in, out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		outs[name] = out
	}

	// Raw outputs: box offsets and log sizes, and sigmoided scores.
	worst := 0.0
	for i, a := range outs["onnxruntime"] {
		worst = max(worst, math.Abs(float64(a-outs["gomlx"][i])))
	}
	t.Logf("largest raw output difference: %.2g", worst)
	if worst > 2e-4 {
		t.Errorf("raw outputs differ by up to %.2g, want ≤ 2e-4", worst)
	}

	// Decoded at a low threshold, so that many boxes are compared.
	b := img.Bounds()
	opt := Options{ScoreThreshold: 0.1, IOUThreshold: 0.45}
	want := decode(outs["onnxruntime"], r, b.Dx(), b.Dy(), opt)
	got := decode(outs["gomlx"], r, b.Dx(), b.Dy(), opt)
	if len(want) < 3 || len(got) != len(want) {
		t.Fatalf("gomlx: %d detections, onnxruntime %d (want the same, at least 3)", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ClassID != w.ClassID || math.Abs(float64(g.Score-w.Score)) > 1e-3 || boxDist(g.Box, w.Box) > 0.05 {
			t.Errorf("detection %d: gomlx %s %.4f %v, onnxruntime %s %.4f %v (scores ±1e-3, boxes ±0.05 px)",
				i, g.Label, g.Score, g.Box, w.Label, w.Score, w.Box)
		}
	}
}

// TestDetectOddImages runs the odd inputs through ONNX Runtime end to end (on gomlx the
// letterbox, the only part that sees the image, is covered by TestLetterboxOddImages).
func TestDetectOddImages(t *testing.T) {
	d := testDetector(t, BackendONNXRuntime)
	for name, img := range oddImages(t) {
		dets, err := d.Detect(context.Background(), img, Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		b := img.Bounds()
		for _, det := range dets {
			if det.Box[0] < 0 || det.Box[1] < 0 || det.Box[2] > float32(b.Dx()) || det.Box[3] > float32(b.Dy()) {
				t.Errorf("%s: box %v outside the %dx%d image", name, det.Box, b.Dx(), b.Dy())
			}
		}
	}
}

// TestDetectConcurrent calls ONNX Runtime from several goroutines at once and expects
// the answers of one call at a time (gomlx: see TestReference, which runs its images
// concurrently).
func TestDetectConcurrent(t *testing.T) {
	d := testDetector(t, BackendONNXRuntime)
	names := []string{"dog.jpg", "bus.jpg", "zidane.jpg", "horses.jpg"}
	imgs := make([]image.Image, len(names))
	want := make([][]Detection, len(names))
	for i, name := range names {
		imgs[i] = loadImage(t, name)
		var err error
		if want[i], err = d.Detect(context.Background(), imgs[i], Options{}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 3 {
				i := (g + k) % len(names)
				got, err := d.Detect(context.Background(), imgs[i], Options{})
				if err != nil {
					t.Error(err)
					return
				}
				if !reflect.DeepEqual(got, want[i]) {
					t.Errorf("%s concurrently: %+v, alone: %+v", names[i], got, want[i])
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkONNXRuntimeSession is the floor under BenchmarkDetect/onnxruntime: the bare
// session run on tensors prepared once, no letterbox, decoding or per-call tensors.
func BenchmarkONNXRuntimeSession(b *testing.B) {
	net := testDetector(b, BackendONNXRuntime).net.(*ortNet)
	in, out := make([]float32, inputLen), make([]float32, outputLen)
	letterbox(loadImage(b, "dog.jpg"), in)
	input, err := net.rt.NewTensor(in, inputShape...)
	if err != nil {
		b.Fatal(err)
	}
	defer input.Release()
	output, err := net.rt.NewTensor(out, outputShape...)
	if err != nil {
		b.Fatal(err)
	}
	defer output.Release()
	for b.Loop() {
		if err := net.session.Run(context.Background(), []*onnxrt.Value{input}, []*onnxrt.Value{output}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetectParallel is BenchmarkDetect/onnxruntime with calls from several
// goroutines sharing one session: throughput when requests overlap.
func BenchmarkDetectParallel(b *testing.B) {
	d := testDetector(b, BackendONNXRuntime)
	img := loadImage(b, "dog.jpg")
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := d.Detect(context.Background(), img, Options{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
