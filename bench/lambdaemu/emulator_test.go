package lambdaemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servebench/servebench/assets"
	"github.com/servebench/servebench/bench/lambdaemu"
	"github.com/servebench/servebench/bench/local"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/internal/predicttest"
)

// fixture is the real Lambda bootstrap (service/cmd/lambda, ONNX Runtime backend)
// under its own emulator on this host, over seeded file:// buckets.
type fixture struct {
	p    *local.Process
	data assets.Dir
}

// shared is what every test's emulator uses: the bootstrap built once and the
// buckets seeded once (each test's callers use their own keys).
var shared struct {
	once    sync.Once
	err     error
	work    string
	data    assets.Dir
	rie     string
	bin     local.Binary
	buckets local.Buckets
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.work != "" {
		_ = os.RemoveAll(shared.work)
	}
	os.Exit(code)
}

func setup() error {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	root, err := local.FindRoot(".")
	if err != nil {
		return err
	}
	if os.Getenv(assets.EnvDir) == "" {
		if _, err := os.Stat(filepath.Join(root, "..", "shared", "data", assets.ModelPath)); err != nil {
			return fmt.Errorf("no test data: set %s (scripts/test does) or put the data in ../shared/data beside the checkout", assets.EnvDir)
		}
	}
	if shared.work, err = os.MkdirTemp("", "lambdaemu-test-"); err != nil {
		return err
	}
	if shared.data, err = assets.Locate(ctx, slog.New(slog.DiscardHandler), root, filepath.Join(shared.work, "cache")); err != nil {
		return err
	}
	if !shared.data.HasFaces() {
		return fmt.Errorf("data %s has no ORL faces (faces/orl); the faces functions need them", shared.data.Path)
	}
	if shared.rie, err = local.FindRIE(ctx, root); err != nil {
		return err
	}
	if shared.bin, err = local.Build(ctx, log, root, filepath.Join(shared.work, "bin"), local.LambdaCmd); err != nil {
		return err
	}
	if shared.bin.Backend != "onnxruntime" {
		return fmt.Errorf("built the %s backend; these tests want ONNX Runtime (set %s or run scripts/setup-onnxruntime)", shared.bin.Backend, local.ORTLibEnv)
	}
	shared.buckets, err = local.Seed(filepath.Join(shared.work, "buckets"), shared.data)
	return err
}

func start(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	shared.once.Do(func() { shared.err = setup() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	buckets := shared.buckets
	l := local.LambdaLauncher(shared.bin, buckets, filepath.Join(shared.work, "logs"), shared.rie, lambdaemu.Function{MemoryMB: 3000, Timeout: 30 * time.Second})
	// Signed URLs point at a gateway that is not there: the test hands them to
	// the function itself, as the local front door does.
	p, err := l.Launch(ctx, "lambda", "SERVEBENCH_OUTPUT_BUCKET="+buckets.SignedOutputURL("http://gateway.test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(p.Log)
			t.Logf("emulator log %s:\n%s", p.Log, b)
		}
	})
	return fixture{p: p, data: shared.data}
}

// call invokes the function with an HTTP request and decodes its JSON answer.
func (f fixture) call(t *testing.T, method, target, ctype string, body []byte) (*http.Response, []byte, *results.PlatformReport) {
	t.Helper()
	r, err := http.NewRequest(method, "http://gateway.test"+target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	resp, rep, err := f.p.Invoke(context.Background(), r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out, rep
}

// TestPredictColdThenWarm: /predict through the emulator, cold and then warm, with
// the REPORT figures of each joined to it, and its signed URL served by the
// function as a base64 body.
func TestPredictColdThenWarm(t *testing.T) {
	f := start(t)
	var prev predicttest.Answer
	for i, wantCold := range []bool{true, false} {
		resp, body, rep := f.call(t, "POST", "/predict", "application/json", []byte(`{"filename": "images/dog.jpg"}`))
		if resp.StatusCode != 200 {
			t.Fatalf("predict %d: status %d: %s", i, resp.StatusCode, body)
		}
		var a predicttest.Answer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("predict %d: %v: %s", i, err, body)
		}
		predicttest.CheckDog(t, a.Detections)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if !strings.Contains(resp.Header.Get("Server-Timing"), "inference;dur=") {
			t.Errorf("Server-Timing %q lacks inference", resp.Header.Get("Server-Timing"))
		}
		if a.Server.Cold != wantCold || a.Server.Platform != "lambda" || a.Server.MemoryMB != 3000 {
			t.Errorf("predict %d: server %+v, want cold=%v on lambda with 3000 MB", i, a.Server, wantCold)
		}
		if _, ok := a.TimingsMS["init"]; ok != wantCold {
			t.Errorf("predict %d: timings_ms.init present %v, want %v", i, ok, wantCold)
		}
		// The platform figures: the init only on the cold invocation; the
		// invocation covers the handler; billing is whole milliseconds up (from
		// the unrounded duration: 2031.00 ms printed may bill 2032).
		if (rep.InitMS > 0) != wantCold {
			t.Errorf("predict %d: REPORT init %.2f ms, want it only when cold", i, rep.InitMS)
		}
		if rep.DurationMS < a.TimingsMS["total"] || rep.DurationMS > a.TimingsMS["total"]+rep.InitMS+1000 {
			t.Errorf("predict %d: REPORT duration %.2f ms against the handler's %.2f ms", i, rep.DurationMS, a.TimingsMS["total"])
		}
		if rep.BilledMS < rep.DurationMS || rep.BilledMS > math.Ceil(rep.DurationMS)+1 {
			t.Errorf("predict %d: billed %.0f ms for %.2f ms", i, rep.BilledMS, rep.DurationMS)
		}
		if rep.MaxMemoryMB < 20 || rep.MaxMemoryMB > 3000 {
			t.Errorf("predict %d: peak memory %.1f MB; the bootstrap holds the model and ONNX Runtime", i, rep.MaxMemoryMB)
		}
		t.Logf("predict %s: REPORT init %.2f ms, duration %.2f ms, billed %.0f ms, peak %.0f MB; service timings_ms %v",
			map[bool]string{true: "cold", false: "warm"}[wantCold], rep.InitMS, rep.DurationMS, rep.BilledMS, rep.MaxMemoryMB, a.TimingsMS)
		if a.Filename == prev.Filename {
			t.Errorf("predict %d wrote %q again", i, a.Filename)
		}
		prev = a
	}

	// The annotated image behind the signed URL: a binary answer, which the
	// function sends base64-encoded and the gateway decodes.
	u, err := url.Parse(prev.Location)
	if err != nil || u.Host != "gateway.test" || u.Path != "/files" {
		t.Fatalf("location %q: %v; want the gateway's /files", prev.Location, err)
	}
	resp, body, _ := f.call(t, "GET", u.RequestURI(), "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("signed URL: status %d: %s", resp.StatusCode, body)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(body))
	src, _ := os.ReadFile(filepath.Join(f.data.Path, "images", "dog.jpg"))
	want, _, _ := image.DecodeConfig(bytes.NewReader(src))
	if err != nil || format != "jpeg" || cfg.Width != want.Width || cfg.Height != want.Height {
		t.Errorf("signed URL gave %s %dx%d (%v), want the annotated %dx%d JPEG", format, cfg.Width, cfg.Height, err, want.Width, want.Height)
	}
	// Tampered, the same URL is refused.
	resp, body, _ = f.call(t, "GET", strings.Replace(u.RequestURI(), "signature=", "signature=x", 1), "", nil)
	if resp.StatusCode == 200 {
		t.Errorf("tampered signed URL served: %d %d bytes", resp.StatusCode, len(body))
	}

	resp, body, _ = f.call(t, "GET", "/healthz", "", nil)
	var h struct {
		ModelLoaded bool `json:"model_loaded"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &h) != nil || !h.ModelLoaded {
		t.Errorf("healthz: %d %s", resp.StatusCode, body)
	}
}

// TestBadRequests: a malformed body and a missing key answer with the service's
// error contract through the gateway, and the instance keeps serving.
func TestBadRequests(t *testing.T) {
	f := start(t)
	for _, c := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"filename": `, 400, "bad_request"},
		{`{"filename": "images/missing.jpg"}`, 404, "not_found"},
	} {
		resp, body, rep := f.call(t, "POST", "/predict", "application/json", []byte(c.body))
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if resp.StatusCode != c.status || json.Unmarshal(body, &e) != nil || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s: %d %s, want %d with code %s", c.body, resp.StatusCode, body, c.status, c.code)
		}
		if rep.DurationMS <= 0 {
			t.Errorf("%s: no REPORT duration", c.body)
		}
	}
	resp, body, _ := f.call(t, "POST", "/predict", "application/json", []byte(`{"filename": "images/dog.jpg"}`))
	var a predicttest.Answer
	if resp.StatusCode != 200 || json.Unmarshal(body, &a) != nil {
		t.Fatalf("predict after the bad requests: %d %s", resp.StatusCode, body)
	}
	predicttest.CheckDog(t, a.Detections)
}

// TestFaces runs the four faces functions in order on one caller's state, the
// upload a multipart body the gateway base64-encodes.
func TestFaces(t *testing.T) {
	f := start(t)
	var dl struct{ People, Images, Width, Height int }
	resp, body, _ := f.call(t, "POST", "/faces/download_data?id=3", "", nil)
	if resp.StatusCode != 200 || json.Unmarshal(body, &dl) != nil || dl.People != 40 || dl.Images != 400 || dl.Width != 92 || dl.Height != 112 {
		t.Fatalf("download_data: %d %s; want the 40 × 10 ORL faces, 92×112", resp.StatusCode, body)
	}
	var tr struct {
		ModelBytes   int     `json:"model_bytes"`
		TestAccuracy float64 `json:"test_accuracy"`
	}
	resp, body, rep := f.call(t, "POST", "/faces/train?id=3", "", nil)
	if resp.StatusCode != 200 || json.Unmarshal(body, &tr) != nil || tr.ModelBytes == 0 || tr.TestAccuracy < 0.9 {
		t.Fatalf("train: %d %s; want a stored model with test accuracy ≥ 0.9", resp.StatusCode, body)
	}
	t.Logf("train: REPORT duration %.0f ms, billed %.0f ms", rep.DurationMS, rep.BilledMS)

	face, err := os.ReadFile(filepath.Join(f.data.Path, assets.FacesORL, "s7", "10.pgm"))
	if err != nil {
		t.Fatal(err)
	}
	upload, ctype, err := scenario.FaceUpload("s7_10.pgm", face)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		Filename      string
		Width, Height int
	}
	resp, body, _ = f.call(t, "POST", "/faces/upload?id=3", ctype, upload)
	if resp.StatusCode != 200 || json.Unmarshal(body, &up) != nil || up.Width != 92 || up.Height != 112 {
		t.Fatalf("upload: %d %s; want the 92×112 face stored", resp.StatusCode, body)
	}
	var pr struct{ Name string }
	resp, body, _ = f.call(t, "POST", "/faces/predict?id=3", "", nil)
	if resp.StatusCode != 200 || json.Unmarshal(body, &pr) != nil || pr.Name != "s7" {
		t.Errorf("faces/predict: %d %s; want s7, the person uploaded", resp.StatusCode, body)
	}
}
