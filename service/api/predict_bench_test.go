package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/instance"
	"github.com/servebench/servebench/service/storage"
)

// predictStages are the server stages of a warm /predict answer, in the order the
// handler records them; "total" is the server's own total.
var predictStages = []string{"download", "decode", "inference", "draw", "encode", "upload", "total"}

// BenchmarkPredict times warm /predict answers on dog.jpg through the real handler
// (mem:// buckets, the ONNX Runtime detector loaded once before the timer starts) and
// reports the server's own timings per stage. Run it in the same invocation as the bare
// session, so that the ratio total / session compares figures of one run:
//
//	go test -run '^$' -bench 'Predict$' -benchtime 30x ./api/
//	go test -run '^$' -bench 'Predict$|ONNXRuntimeSession' -benchtime 30x ./api/ ./detect/
//
// The detector's own split of "inference" (letterbox, network, decoding) is detect's
// BenchmarkDetect.
func BenchmarkPredict(b *testing.B) {
	bs := apitest.Open(b, "mem", storage.Options{})
	apitest.Seed(b, bs.In, "dog.jpg")
	loader := &apitest.Loader{TB: b}
	a, err := api.New(api.Options{Config: testConfig(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Instance: instance.New(), Input: bs.In, Output: bs.Out, ModelKey: apitest.ModelKey, NewDetector: loader.New})
	if err != nil {
		b.Fatal(err)
	}
	predict := func() api.PredictResponse {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/predict", strings.NewReader(`{"filename": "images/dog.jpg"}`)))
		var resp api.PredictResponse
		if rec.Code != http.StatusOK {
			b.Fatalf("/predict answered %d: %s", rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			b.Fatalf("/predict answer is not JSON: %v: %s", err, rec.Body)
		}
		return resp
	}
	// The first answer loads the model and warms the pools; it is not what is measured.
	apitest.CheckDetections(b, predict().Detections, apitest.Dog)

	sums := make([]float64, len(predictStages))
	for b.Loop() {
		resp := predict()
		for i, name := range predictStages {
			ms, ok := resp.Timings.Get(name)
			if !ok {
				b.Fatalf("the answer has no %q timing: %+v", name, resp.Timings)
			}
			sums[i] += ms
		}
	}
	for i, name := range predictStages {
		b.ReportMetric(sums[i]/float64(b.N), name+"-ms/op")
	}
}
