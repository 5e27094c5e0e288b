//go:build onnxruntime

package detect

import (
	"context"
	"image"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

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

func TestONNXRuntimeLibraryLookup(t *testing.T) {
	t.Setenv(LibraryEnv, "/nonexistent/libonnxruntime.so.1")
	_, err := ortLibrary()
	if err == nil || !strings.Contains(err.Error(), LibraryEnv) || !strings.Contains(err.Error(), "/nonexistent/") {
		t.Errorf("missing library named in %s: %v, want an error naming both", LibraryEnv, err)
	}

	t.Setenv(LibraryEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/cache-for-test")
	candidates := ortLibraryCandidates()
	if candidates[0] != "/opt/onnxruntime/lib/libonnxruntime.so.1" ||
		candidates[len(candidates)-1] != "/cache-for-test/servebench/onnxruntime-1.30.0/libonnxruntime.so.1" {
		t.Errorf("candidates %v: want the container path first and the setup script's cache last", candidates)
	}
}

// BenchmarkONNXRuntimeSession is the floor under BenchmarkDetect/onnxruntime: the bare
// session run on tensors prepared once, no letterbox, decoding or per-call tensors.
func BenchmarkONNXRuntimeSession(b *testing.B) {
	d := testDetector(b, BackendONNXRuntime)
	session := d.net.(*ortNet).session
	in := make([]float32, inputLen)
	letterbox(loadImage(b, "dog.jpg"), in)
	input, err := ort.NewTensor(ort.NewShape(inputShape...), in)
	if err != nil {
		b.Fatal(err)
	}
	defer input.Destroy()
	output, err := ort.NewEmptyTensor[float32](ort.NewShape(outputShape...))
	if err != nil {
		b.Fatal(err)
	}
	defer output.Destroy()
	for b.Loop() {
		if err := session.Run([]ort.Value{input}, []ort.Value{output}); err != nil {
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
