package onnxrt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testRuntime loads the library the environment names. A missing library fails the
// test: it must not pass by testing nothing.
func testRuntime(t testing.TB) *Runtime {
	t.Helper()
	r, err := Load("")
	if err != nil {
		t.Fatalf("ONNX Runtime is needed: set SERVEBENCH_ONNXRUNTIME_LIB to libonnxruntime.so.1 (scripts/setup-onnxruntime fetches it; scripts/test sets it): %v", err)
	}
	return r
}

func testSession(t testing.TB, model []byte, threads int) *Session {
	t.Helper()
	s, err := testRuntime(t).NewSession(model, SessionOptions{IntraOpThreads: threads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testTensor(t testing.TB, r *Runtime, data []float32, shape ...int64) *Value {
	t.Helper()
	v, err := r.NewTensor(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Release)
	return v
}

func TestLoad(t *testing.T) {
	r := testRuntime(t)
	if !regexp.MustCompile(`^1\.\d+\.\d+`).MatchString(r.Version()) {
		t.Errorf("Version() = %q, want a 1.x.y release", r.Version())
	}
	again, err := Load(r.Path())
	if err != nil || again != r {
		t.Errorf("second Load(%s) = %p, %v; want the same Runtime %p (one environment per process)", r.Path(), again, err, r)
	}
}

func TestLoadFailures(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "libonnxruntime.so.1")
	if err := os.WriteFile(text, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	libc := ""
	for _, p := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6", "/lib64/libc.so.6"} {
		if _, err := os.Stat(p); err == nil {
			libc = p
			break
		}
	}
	if libc == "" {
		t.Fatal("no libc.so.6 in the usual places: add this system's path to the test")
	}
	for name, path := range map[string]string{
		"missing":         filepath.Join(dir, "missing.so"),
		"not a library":   text,
		"another library": libc,
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %v, want an error", path, r)
			}
			for _, want := range []string{path, "SERVEBENCH_ONNXRUNTIME_LIB"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
		})
	}

	// With no path given, the variable decides.
	t.Setenv("SERVEBENCH_ONNXRUNTIME_LIB", filepath.Join(dir, "missing.so"))
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "SERVEBENCH_ONNXRUNTIME_LIB") ||
		!strings.Contains(err.Error(), "scripts/setup-onnxruntime") {
		t.Errorf("Load(\"\") with the variable naming a missing file: %v, want an error naming it and the setup script", err)
	}
}

func TestLibraryCandidates(t *testing.T) {
	t.Setenv("SERVEBENCH_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/cache-for-test")
	c := Library().Candidates
	if c[0] != "/opt/onnxruntime/lib/libonnxruntime.so.1" ||
		c[len(c)-1] != "/cache-for-test/servebench/onnxruntime-"+Version+"/libonnxruntime.so.1" {
		t.Errorf("candidates %v: want the container path first and the setup script's cache last", c)
	}
}

func TestSessionDescribesModel(t *testing.T) {
	s := testSession(t, identityModel(t, -1, 3), 1)
	wantIn := []TensorInfo{{Name: "x", Type: Float, Dims: []int64{-1, 3}}}
	wantOut := []TensorInfo{{Name: "y", Type: Float, Dims: []int64{-1, 3}}}
	if !slices.EqualFunc(s.Inputs(), wantIn, sameInfo) || !slices.EqualFunc(s.Outputs(), wantOut, sameInfo) {
		t.Errorf("inputs %+v, outputs %+v; want %+v, %+v", s.Inputs(), s.Outputs(), wantIn, wantOut)
	}
}

func sameInfo(a, b TensorInfo) bool {
	return a.Name == b.Name && a.Type == b.Type && slices.Equal(a.Dims, b.Dims)
}

func TestRun(t *testing.T) {
	s := testSession(t, testModel(t, []int64{2, 3}, node{"Neg", []string{"x"}, []string{"y"}}), 1)
	r := s.rt
	in := []float32{1, 2, 3, 4, 5, -6}
	out := make([]float32, len(in))
	if err := s.Run(context.Background(), []*Value{testTensor(t, r, in, 2, 3)}, []*Value{testTensor(t, r, out, 2, 3)}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{-1, -2, -3, -4, -5, 6}; !slices.Equal(out, want) {
		t.Errorf("Neg(%v) = %v, want %v (written into the caller's slice)", in, out, want)
	}
}

func TestRunConcurrent(t *testing.T) {
	s := testSession(t, testModel(t, []int64{64, 64}, node{"MatMul", []string{"x", "x"}, []string{"y"}}), 1)
	r := s.rt
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			in, out := make([]float32, 64*64), make([]float32, 64*64)
			for i := range 64 {
				in[i*64+i] = float32(g) // g·I, whose square is g²·I
			}
			x, err := r.NewTensor(in, 64, 64)
			if err != nil {
				t.Error(err)
				return
			}
			defer x.Release()
			y, err := r.NewTensor(out, 64, 64)
			if err != nil {
				t.Error(err)
				return
			}
			defer y.Release()
			for range 20 {
				if err := s.Run(context.Background(), []*Value{x}, []*Value{y}); err != nil {
					t.Error(err)
					return
				}
				if out[0] != float32(g*g) || out[1] != 0 {
					t.Errorf("goroutine %d: out[0:2] = %v, want [%d 0]", g, out[:2], g*g)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRunErrors(t *testing.T) {
	s := testSession(t, identityModel(t, 2, 3), 1)
	r := s.rt
	x := testTensor(t, r, make([]float32, 6), 2, 3)
	wrong := testTensor(t, r, make([]float32, 6), 3, 2)
	err := s.Run(context.Background(), []*Value{wrong}, []*Value{x})
	var oerr *Error
	if !errors.As(err, &oerr) || oerr.Op != "Run" || oerr.Code != InvalidArgument || oerr.Message == "" {
		t.Errorf("input of the wrong shape: %v, want an *Error from Run with ORT_INVALID_ARGUMENT and a message", err)
	}
	if err := s.Run(context.Background(), nil, []*Value{x}); err == nil {
		t.Error("no input: no error")
	}
	if _, err := r.NewTensor(make([]float32, 5), 2, 3); err == nil {
		t.Error("NewTensor of 5 values as 2×3: no error")
	}
}

func TestNewSessionErrors(t *testing.T) {
	r := testRuntime(t)
	_, err := r.NewSession([]byte("GIF89a this is not a model"), SessionOptions{IntraOpThreads: 1})
	if !IsCode(err, InvalidProtobuf) || !strings.Contains(err.Error(), "CreateSessionFromArray") {
		t.Errorf("not a model: %v, want ORT_INVALID_PROTOBUF from CreateSessionFromArray", err)
	}
	if _, err := r.NewSession(identityModel(t, 2), SessionOptions{}); err == nil {
		t.Error("0 threads: no error")
	}
	_, err = r.NewSession(identityModel(t, 2), SessionOptions{IntraOpThreads: 1,
		Config: map[string]string{"": "0"}}) // ONNX Runtime rejects an empty key
	if !IsCode(err, InvalidArgument) || !strings.Contains(err.Error(), "AddSessionConfigEntry") {
		t.Errorf("an empty config key: %v, want ORT_INVALID_ARGUMENT from AddSessionConfigEntry", err)
	}
}

// TestRunCancel cancels a long run shortly after it starts: it must stop early with the
// context's error instead of finishing.
func TestRunCancel(t *testing.T) {
	const n = 256
	s := testSession(t, slowModel(t, n, 400), 1)
	r := s.rt
	x := testTensor(t, r, make([]float32, n*n), n, n)
	y := testTensor(t, r, make([]float32, n*n), n, n)

	start := time.Now()
	if err := s.Run(context.Background(), []*Value{x}, []*Value{y}); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(full/20, cancel)
	start = time.Now()
	err := s.Run(ctx, []*Value{x}, []*Value{y})
	t.Logf("full run %v, cancelled after %v: returned after %v", full, full/20, time.Since(start))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v, want context.Canceled", err)
	}

	if err := s.Run(ctx, []*Value{x}, []*Value{y}); !errors.Is(err, context.Canceled) {
		t.Errorf("run on a cancelled context: %v, want context.Canceled", err)
	}
}

// TestIntraOpThreads checks that the thread count reaches ONNX Runtime: a session's
// intra-op pool starts one thread fewer than its size (the caller runs too).
func TestIntraOpThreads(t *testing.T) {
	r := testRuntime(t)
	model := identityModel(t, 2)
	for _, threads := range []int{1, 4} {
		// The Go runtime may start a thread of its own meanwhile: take the fewest seen.
		fewest := 1 << 30
		for range 3 {
			before := osThreads(t)
			s, err := r.NewSession(model, SessionOptions{IntraOpThreads: threads})
			if err != nil {
				t.Fatal(err)
			}
			fewest = min(fewest, osThreads(t)-before)
			if s.IntraOpThreads() != threads {
				t.Errorf("IntraOpThreads() = %d, want %d", s.IntraOpThreads(), threads)
			}
			s.Close()
		}
		if fewest != threads-1 {
			t.Errorf("a session of %d intra-op threads started %d threads, want %d", threads, fewest, threads-1)
		}
	}
}

func osThreads(t *testing.T) int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	return len(tasks)
}

func TestReleaseTwice(t *testing.T) {
	r := testRuntime(t)
	v, err := r.NewTensor([]float32{1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	v.Release()
	v.Release()
	s, err := r.NewSession(identityModel(t, 1), SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
}

// BenchmarkRunOverhead is the binding's cost per call, as the detector calls it (tensors
// wrapped, run options made, Run, all released) on a model that does almost nothing.
func BenchmarkRunOverhead(b *testing.B) {
	s := testSession(b, identityModel(b, 1), 1)
	in, out := []float32{1}, []float32{0}
	for b.Loop() {
		x, err := s.rt.NewTensor(in, 1)
		if err != nil {
			b.Fatal(err)
		}
		y, err := s.rt.NewTensor(out, 1)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Run(context.Background(), []*Value{x}, []*Value{y}); err != nil {
			b.Fatal(err)
		}
		x.Release()
		y.Release()
	}
}

// TestDroppedWithoutClose: a Session or Value dropped without Close or Release is freed
// when collected, instead of leaking and of the runtime panicking on a Pinner collected
// while pinning (which kills the whole process).
func TestDroppedWithoutClose(t *testing.T) {
	r := testRuntime(t)
	freed := make(chan string, 2)
	func() {
		s, err := r.NewSession(identityModel(t, 1), SessionOptions{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		v, err := r.NewTensor([]float32{1}, 1)
		if err != nil {
			t.Fatal(err)
		}
		// Watch the handles: once freed, a handle's once has run.
		for name, h := range map[string]*handle{"session": s.h, "value": v.h} {
			runtime.AddCleanup(&h.ptr, func(n string) { freed <- n }, name)
		}
	}()
	for range 20 {
		runtime.GC()
		if len(freed) == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(freed) != 2 {
		t.Fatalf("%d of 2 dropped objects freed after 20 collections", len(freed))
	}
}
