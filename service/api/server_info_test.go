package api_test

import (
	"context"
	"image"
	"net/http"
	"runtime"
	"testing"

	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/imagein"
)

// onPlatform sets the environment a platform gives a process, clearing what
// another platform would set.
func onPlatform(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range []string{"SERVEBENCH_PLATFORM", "SERVEBENCH_MEMORY_MB", "AWS_LAMBDA_FUNCTION_NAME",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "ECS_CONTAINER_METADATA_URI_V4", "K_SERVICE", "FUNCTION_TARGET"} {
		t.Setenv(k, env[k])
	}
}

// newProductionService is a mem:// service built the way the entry points build
// it: the instance from the environment and detect.New loading the model (no
// NewDetector), so the threads reach a real detector.
func newProductionService(t *testing.T, edit func(*config.Config)) *service {
	t.Helper()
	return newServiceWith(t, edit, nil)
}

// serverOf is the "server" object of a JSON answer.
func serverOf(t *testing.T, what string, resp *http.Response, body map[string]any) map[string]any {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %v", what, resp.StatusCode, body)
	}
	server, _ := body["server"].(map[string]any)
	if server == nil {
		t.Fatalf("%s: no server object in %v", what, body)
	}
	return server
}

// TestAnswersNameBackendAndThreads: on a platform set through the environment,
// /healthz, a /predict answer and a faces answer carry the backend and the
// threads the platform's rule gives, and the detector runs with them.
func TestAnswersNameBackendAndThreads(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"lambda-1024", map[string]string{"SERVEBENCH_PLATFORM": "lambda", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}, 1},
		{"lambda-3538", map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "predict", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3538"}, min(2, runtime.NumCPU())},
		{"cloudfunctions-1024", map[string]string{"K_SERVICE": "predict", "SERVEBENCH_MEMORY_MB": "1024"}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			onPlatform(t, c.env)
			s := newProductionService(t, func(c *config.Config) { c.Backend = detect.BackendONNXRuntime })
			// codec: a server object names the JPEG codec; /healthz does not (naming
			// it would load it, and a probe stays cheap).
			check := func(what string, server map[string]any, codec bool) {
				t.Helper()
				if server["backend"] != detect.BackendONNXRuntime || server["threads"] != float64(c.want) {
					t.Errorf("%s: server %v, want backend %s and %d threads", what, server, detect.BackendONNXRuntime, c.want)
				}
				if codec && server["codec"] != imagein.Codec() {
					t.Errorf("%s: server %v, want the JPEG codec %s", what, server, imagein.Codec())
				}
			}

			resp, body := s.call(t, "GET", "/healthz", "", nil)
			check("/healthz before the model loads", body, false)
			if body["model_loaded"] != false {
				t.Fatalf("/healthz: %v, want the model not loaded yet", body)
			}

			resp, body = s.call(t, "POST", "/predict", "application/json", []byte(`{"filename":"images/dog.jpg"}`))
			check("/predict", serverOf(t, "/predict", resp, body), true)
			if dets, _ := body["detections"].([]any); len(dets) == 0 {
				t.Errorf("/predict found nothing: %v", body)
			}

			ct, form := multipartBody(t, "photo", "face.png", encodePNG(t, grey(92, 112)))
			resp, body = s.call(t, "POST", "/faces/upload?id=1", ct, form)
			check("/faces/upload", serverOf(t, "/faces/upload", resp, body), true)

			resp, body = s.call(t, "GET", "/healthz", "", nil)
			check("/healthz after", body, false)
			if body["model_loaded"] != true {
				t.Errorf("/healthz: %v, want the model loaded", body)
			}
		})
	}
}

// TestColdAnswerNamesTheBackendAutoChose: the request that loads the model
// answers with the backend "auto" chose, not "auto"; before any load, /healthz
// and a faces answer say "auto".
func TestColdAnswerNamesTheBackendAutoChose(t *testing.T) {
	onPlatform(t, map[string]string{"SERVEBENCH_PLATFORM": "lambda", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"})
	s := newProductionService(t, func(c *config.Config) { c.Backend = detect.BackendAuto })
	_, body := s.call(t, "GET", "/healthz", "", nil)
	if body["backend"] != detect.BackendAuto || body["threads"] != 1.0 {
		t.Errorf("/healthz before the model loads: %v, want backend auto and 1 thread", body)
	}
	ct, form := multipartBody(t, "photo", "face.png", encodePNG(t, grey(92, 112)))
	resp, body := s.call(t, "POST", "/faces/upload?id=1", ct, form)
	if server := serverOf(t, "/faces/upload", resp, body); server["backend"] != detect.BackendAuto || server["threads"] != 1.0 {
		t.Errorf("/faces/upload before the model loads: server %v, want backend auto and 1 thread", server)
	}
	resp, body = s.call(t, "POST", "/predict", "application/json", []byte(`{"filename":"images/dog.jpg"}`))
	server := serverOf(t, "/predict", resp, body)
	if server["backend"] != detect.BackendONNXRuntime || server["threads"] != 1.0 {
		t.Errorf("cold /predict: server %v, want the backend auto chose (%s) and 1 thread", server, detect.BackendONNXRuntime)
	}
}

// reportsThreads is the shared real detector reporting a thread count of its own,
// as a backend that picks its own (gomlx) does.
type reportsThreads struct {
	detect.Detector
	n int
}

func (d reportsThreads) Threads() int { return d.n }
func (reportsThreads) Close() error   { return nil } // shared: the test binary's

// TestThreadsOverrideAndDetectorsOwnCount: SERVEBENCH_THREADS (Config.Threads)
// wins over the platform's rule in what the detector is asked for, and answers
// report what the detector says it runs with.
func TestThreadsOverrideAndDetectorsOwnCount(t *testing.T) {
	onPlatform(t, map[string]string{"SERVEBENCH_PLATFORM": "lambda", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"})
	var asked detect.LoadOptions
	s := newServiceWith(t, func(c *config.Config) { c.Threads = 3 },
		func(ctx context.Context, backend string, model []byte, opt detect.LoadOptions) (detect.Detector, error) {
			asked = opt
			return reportsThreads{apitest.Detector(t), 5}, nil
		})
	_, body := s.call(t, "GET", "/healthz", "", nil)
	if body["threads"] != 3.0 {
		t.Errorf("/healthz before the model loads: %v, want the 3 threads of SERVEBENCH_THREADS", body)
	}
	resp, body := s.call(t, "POST", "/predict", "application/json", []byte(`{"filename":"images/dog.jpg"}`))
	server := serverOf(t, "/predict", resp, body)
	if asked.Threads != 3 {
		t.Errorf("the detector was asked for %d threads, want 3 (SERVEBENCH_THREADS)", asked.Threads)
	}
	if server["threads"] != 5.0 {
		t.Errorf("/predict: server %v, want the 5 threads the detector reports", server)
	}
}

// grey is a plain grey image of w×h.
func grey(w, h int) image.Image {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	return img
}
