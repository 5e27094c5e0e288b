package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/instance"
	"github.com/servebench/servebench/service/reply"
	"github.com/servebench/servebench/service/storage"
)

// service is an API behind a real HTTP server, on one storage backend.
type service struct {
	api    *api.API
	srv    *httptest.Server
	bs     apitest.Buckets
	loader *apitest.Loader
}

func testConfig() config.Config {
	c := config.Defaults
	c.InputBucket, c.OutputBucket = "mem://", "mem://"
	return c
}

// newService starts the API on backend with the model and dog.jpg in its input
// bucket. edit may change the configuration first.
func newService(t *testing.T, backend string, edit func(*config.Config)) *service {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	bs := apitest.Open(t, backend, storage.Options{FileBaseURL: srv.URL + api.FilesPath})
	apitest.Seed(t, bs.In, "dog.jpg")
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	loader := &apitest.Loader{TB: t}
	a, err := api.New(api.Options{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Instance: instance.New(),
		Input: bs.In, Output: bs.Out, ModelKey: apitest.ModelKey, NewDetector: loader.New})
	if err != nil {
		t.Fatal(err)
	}
	h = a
	return &service{api: a, srv: srv, bs: bs, loader: loader}
}

var dogPNG struct {
	once sync.Once
	b    []byte
}

// seedPNG writes images/dog.png, a PNG copy of dog.jpg, made once per test
// binary (PNG encoding is slow under -race).
func seedPNG(t *testing.T, b *storage.Bucket) {
	t.Helper()
	dogPNG.once.Do(func() {
		img, err := jpeg.Decode(bytes.NewReader(apitest.Read(t, "images/dog.jpg")))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		dogPNG.b = buf.Bytes()
	})
	if err := b.Write(context.Background(), "images/dog.png", "image/png", dogPNG.b); err != nil {
		t.Fatal(err)
	}
}

// post sends body to path and decodes the JSON answer into out (if not nil).
func (s *service) post(t *testing.T, path, body string, out any) *http.Response {
	t.Helper()
	resp, err := http.Post(s.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s answered Content-Type %q, want application/json; body %s", path, ct, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s answered %d with non-JSON %q: %v", path, resp.StatusCode, b, err)
		}
	}
	return resp
}

type answer struct {
	api.PredictResponse
	Timings map[string]float64 `json:"timings_ms"`
}

var stages = []string{"download", "decode", "inference", "draw", "encode", "upload", "total"}

// TestPredict runs /predict end to end on every storage backend with the real
// detector and checks the answer, the annotated image and the signed URL.
func TestPredict(t *testing.T) {
	for _, backend := range apitest.BackendNames {
		t.Run(backend, func(t *testing.T) {
			s := newService(t, backend, nil)
			input := apitest.Read(t, "images/dog.jpg")

			var first answer
			resp := s.post(t, "/predict", `{"filename": "images/dog.jpg"}`, &first)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %+v", resp.StatusCode, first)
			}
			apitest.CheckDetections(t, first.Detections, apitest.Dog)
			if !first.Server.Cold || first.Server.Instance == "" || first.Server.Runtime == "" {
				t.Errorf("first answer's server = %+v, want cold with instance and runtime", first.Server)
			}
			if first.Server.RequestID != "" {
				t.Errorf("request_id %q off Lambda; it names a Lambda invocation only", first.Server.RequestID)
			}
			for _, st := range append([]string{"init", "model"}, stages...) {
				if v, ok := first.Timings[st]; !ok || v < 0 {
					t.Errorf("cold timings_ms has no %q: %v", st, first.Timings)
				}
			}
			header := resp.Header.Get("Server-Timing")
			for _, st := range stages {
				if !strings.Contains(header, st+";dur=") {
					t.Errorf("Server-Timing %q lacks %s", header, st)
				}
			}
			if first.Bucket != s.bs.Out.Name() || !strings.HasPrefix(first.Filename, "predictions/") || !strings.HasSuffix(first.Filename, "-dog.jpg") {
				t.Errorf("bucket %q filename %q, want %s and predictions/...-dog.jpg", first.Bucket, first.Filename, s.bs.Out.Name())
			}
			out, err := s.bs.Out.Read(context.Background(), first.Filename, 0)
			if err != nil {
				t.Fatalf("the annotated image is not in the output bucket: %v", err)
			}
			if _, format, _ := image.DecodeConfig(bytes.NewReader(out)); format != "jpeg" {
				t.Errorf("output of a JPEG is %q, want jpeg", format)
			}
			apitest.CheckAnnotated(t, input, out, first.Detections)
			checkLocation(t, s, first.PredictResponse, out)

			// The second request is a PNG (answered in PNG) on two backends; PNG
			// encoding is slow under -race, so JPEG again on the others.
			second, ext := answer{}, "jpg"
			if backend == "mem" || backend == "file" {
				seedPNG(t, s.bs.In)
				ext = "png"
			}
			if resp := s.post(t, "/predict", `{"filename": "images/dog.`+ext+`", "score_threshold": 0.3}`, &second); resp.StatusCode != http.StatusOK {
				t.Fatalf("second request: status %d", resp.StatusCode)
			}
			if second.Server.Cold || second.Server.Instance != first.Server.Instance {
				t.Errorf("second answer's server = %+v, want warm on instance %s", second.Server, first.Server.Instance)
			}
			if _, ok := second.Timings["init"]; ok {
				t.Errorf("warm answer has timings_ms.init: %v", second.Timings)
			}
			if len(second.Detections) < len(apitest.Dog) {
				t.Errorf("a lower threshold found %d objects, fewer than %d", len(second.Detections), len(apitest.Dog))
			}
			if !strings.HasSuffix(second.Filename, "-dog."+ext) {
				t.Errorf("output of dog.%s is %q", ext, second.Filename)
			}
			out2, err := s.bs.Out.Read(context.Background(), second.Filename, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, format, _ := image.DecodeConfig(bytes.NewReader(out2)); format != map[string]string{"jpg": "jpeg", "png": "png"}[ext] {
				t.Errorf("output of dog.%s is %q", ext, format)
			}
			if got := len(apitest.Keys(t, s.bs.Out)); got != 2 {
				t.Errorf("output bucket holds %d objects after two requests, want 2: %v", got, apitest.Keys(t, s.bs.Out))
			}
			if n := s.loader.Loads.Load(); n != 1 {
				t.Errorf("model loaded %d times, want 1", n)
			}
		})
	}
}

// checkLocation checks the signed URL the way each backend allows: file:// is
// fetched from the server's /files route, S3 from gofakes3, GCS is checked for a
// V2 signature by the service account's key (the fake server cannot be reached by
// URL), mem:// says it cannot sign. location_expires is the URL's end.
func checkLocation(t *testing.T, s *service, a api.PredictResponse, stored []byte) {
	t.Helper()
	if left := time.Until(a.LocationExpires); a.Location != "" && (left < 890*time.Second || left > 900*time.Second) {
		t.Errorf("location_expires %v is %v away, want the configured 900 s", a.LocationExpires, left)
	}
	switch s.bs.Backend {
	case "mem":
		if a.Location != "" || !strings.Contains(a.LocationError, "cannot sign") || !a.LocationExpires.IsZero() {
			t.Errorf("mem:// location %q, location_error %q, location_expires %v: want none and a reason", a.Location, a.LocationError, a.LocationExpires)
		}
	case "gcs":
		// Signed as on Cloud Functions: by IAM SignBlob, for the metadata
		// server's service account. (Its host is the emulator's here.)
		if exp := s.bs.GCP.CheckSignedURL(t, a.Location, "out", a.Filename); exp.Sub(a.LocationExpires).Abs() > time.Second {
			t.Errorf("GCS location %q expires at %v, location_expires says %v", a.Location, exp, a.LocationExpires)
		}
	default:
		u, err := url.Parse(a.Location)
		if err != nil {
			t.Fatal(err)
		}
		if s.bs.Backend == "s3" && u.Query().Get("X-Amz-Signature") == "" {
			t.Errorf("S3 location %q has no signature", a.Location)
		}
		got := fetch(t, a.Location, http.StatusOK)
		if !bytes.Equal(got, stored) {
			t.Errorf("the signed URL served %d bytes, not the %d stored", len(got), len(stored))
		}
		if s.bs.Backend == "file" {
			q := u.Query()
			q.Set("signature", "forged")
			u.RawQuery = q.Encode()
			fetch(t, u.String(), http.StatusForbidden)
		}
	}
}

func fetch(t *testing.T, u string, want int) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d: %s", u, resp.StatusCode, want, b)
	}
	return b
}

// TestConcurrentFirstRequests sends parallel first requests to a fresh instance:
// the model loads once, exactly one answer is cold, all find the dog.
func TestConcurrentFirstRequests(t *testing.T) {
	s := newService(t, "mem", nil)
	const n = 8
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if resp := s.post(t, "/predict", `{"filename":"images/dog.jpg"}`, &answers[i]); resp.StatusCode != http.StatusOK {
				t.Errorf("request %d: status %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	cold := 0
	for _, a := range answers {
		if a.Server.Cold {
			cold++
		}
		apitest.CheckDetections(t, a.Detections, apitest.Dog)
	}
	if cold != 1 {
		t.Errorf("%d of %d answers were cold, want 1", cold, n)
	}
	if got := s.loader.Loads.Load(); got != 1 {
		t.Errorf("the model was loaded %d times, want 1", got)
	}
	if got := len(apitest.Keys(t, s.bs.Out)); got != n {
		t.Errorf("%d output objects for %d requests", got, n)
	}
}

// TestModelLoadFailure: a failed load answers 503 and the next request retries.
func TestModelLoadFailure(t *testing.T) {
	s := newService(t, "mem", nil)
	var health struct {
		Status      string `json:"status"`
		ModelLoaded bool   `json:"model_loaded"`
		Instance    string `json:"instance"`
		Backend     string `json:"backend"`
	}
	getJSON(t, s.srv.URL+"/healthz", &health)
	if health.Status != "ok" || health.ModelLoaded || health.Instance != s.api.Instance.ID() || health.Backend != "auto" {
		t.Errorf("healthz before any request = %+v", health)
	}
	s.loader.Fail.Store(true)
	var e errAnswer
	if resp := s.post(t, "/predict", `{"filename":"images/dog.jpg"}`, &e); resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != "unavailable" {
		t.Fatalf("with a failing model load: status %d %+v, want 503 unavailable", resp.StatusCode, e)
	}
	s.loader.Fail.Store(false)
	var a answer
	if resp := s.post(t, "/predict", `{"filename":"images/dog.jpg"}`, &a); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the failure: status %d, want a retried load and 200", resp.StatusCode)
	}
	apitest.CheckDetections(t, a.Detections, apitest.Dog)
	if got := s.loader.Loads.Load(); got != 2 {
		t.Errorf("loads = %d, want 2 (one failed, one retried)", got)
	}
	if a.Server.Cold {
		t.Errorf("the request after a failed cold one is cold again")
	}
	getJSON(t, s.srv.URL+"/healthz", &health)
	if !health.ModelLoaded || health.Backend != "onnxruntime" {
		t.Errorf("healthz after a load = %+v, want model_loaded and the backend in use", health)
	}

	// A model missing from the bucket is a 503 too, with nothing written.
	s2 := newService(t, "mem", nil)
	if err := s2.bs.In.Delete(context.Background(), apitest.ModelKey); err != nil {
		t.Fatal(err)
	}
	if resp := s2.post(t, "/predict", `{"filename":"images/dog.jpg"}`, &e); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("missing model: status %d, want 503", resp.StatusCode)
	}
	if k := apitest.Keys(t, s2.bs.Out); len(k) != 0 {
		t.Errorf("output bucket after a failed load: %v", k)
	}
}

func getJSON(t *testing.T, u string, out any) {
	t.Helper()
	if err := json.Unmarshal(fetch(t, u, http.StatusOK), out); err != nil {
		t.Fatal(err)
	}
}

type errAnswer struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestPreload loads the model before any request, marking the instance ready.
func TestPreload(t *testing.T) {
	s := newService(t, "mem", nil)
	if err := s.api.Preload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !s.api.ModelLoaded() || s.api.Instance.Init() <= 0 {
		t.Fatalf("after Preload: loaded %v, init %v", s.api.ModelLoaded(), s.api.Instance.Init())
	}
	var a answer
	s.post(t, "/predict", `{"filename":"images/dog.jpg"}`, &a)
	if _, waited := a.Timings["model"]; waited || !a.Server.Cold || a.Timings["init"] <= 0 {
		t.Errorf("first answer after preload: cold %v timings %v; want cold, init, no model stage", a.Server.Cold, a.Timings)
	}
}

// FuzzParseRequest: no body panics; an accepted request has a valid key and
// thresholds in range; every rejection is a 400 or 413.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{`{"filename":"images/dog.jpg"}`, `{"filename":"a","score_threshold":0.3,"iou_threshold":0.5}`,
		`{"filename":"../x"}`, `{}`, `[]`, `{"filename":"a"} x`, `{"filename":"\u0000"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := api.ParseRequest(bytes.NewReader(body))
		if err != nil {
			if s := reply.As(err).Status; s != 400 && s != 413 {
				t.Fatalf("status %d for %v", s, err)
			}
			return
		}
		if storage.ValidKey(req.Filename) != nil {
			t.Fatalf("accepted invalid key %q", req.Filename)
		}
		for _, v := range []*float32{req.ScoreThreshold, req.IOUThreshold} {
			if v != nil && !(*v > 0 && *v <= 1) {
				t.Fatalf("accepted threshold %v", *v)
			}
		}
	})
}
