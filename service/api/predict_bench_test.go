package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/imagein"
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
	predict := benchService(b, "images/dog.jpg", apitest.Read(b, "images/dog.jpg"))
	// The first answer loads the model and warms the pools; it is not what is measured.
	apitest.CheckDetections(b, predict().Detections, apitest.Dog)
	measureStages(b, predict)
}

// BenchmarkPredictWorst times whole /predict answers on the costliest images the
// default limits accept (config.Defaults: a uniform square of MaxImagePixels, as JPEG
// and as 16-bit PNG, the layout that decodes to the most memory), with the server's
// stages, the process's CPU time and the bytes allocated per answer. It is what one
// request can cost an instance; GOMAXPROCS=1 and SERVEBENCH_THREADS=1 stand for a
// Lambda-sized CPU:
//
//	GOMAXPROCS=1 SERVEBENCH_THREADS=1 go test -run '^$' -bench PredictWorst -benchtime 3x ./api/
func BenchmarkPredictWorst(b *testing.B) {
	side := int(math.Sqrt(float64(config.Defaults.MaxImagePixels)))
	for _, format := range []imagein.Format{imagein.JPEG, imagein.PNG} {
		b.Run(string(format), func(b *testing.B) {
			var img image.Image = image.NewRGBA(image.Rect(0, 0, side, side))
			if format == imagein.PNG {
				img = image.NewNRGBA64(img.Bounds())
			}
			var data bytes.Buffer
			if err := imagein.Encode(&data, img, format); err != nil {
				b.Fatal(err)
			}
			predict := benchService(b, "images/worst"+format.Ext(), data.Bytes())
			predict()
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			measureStages(b, predict)
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(float64(data.Len()), "input-B")
		})
	}
}

// benchService starts the real handler on mem:// buckets holding the model and data
// at key, with the ONNX Runtime detector, and returns a function that asks /predict
// for key and checks the answer is a 200.
func benchService(b *testing.B, key string, data []byte) func() api.PredictResponse {
	bs := apitest.Open(b, "mem", storage.Options{})
	apitest.Seed(b, bs.In)
	if err := bs.In.Write(context.Background(), key, "", data); err != nil {
		b.Fatal(err)
	}
	loader := &apitest.Loader{TB: b}
	a, err := api.New(api.Options{Config: testConfig(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Instance: instance.New(), Input: bs.In, Output: bs.Out, ModelKey: apitest.ModelKey, NewDetector: loader.New})
	if err != nil {
		b.Fatal(err)
	}
	body := fmt.Sprintf(`{"filename": %q}`, key)
	return func() api.PredictResponse {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/predict", strings.NewReader(body)))
		var resp api.PredictResponse
		if rec.Code != http.StatusOK {
			b.Fatalf("/predict answered %d: %s", rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			b.Fatalf("/predict answer is not JSON: %v: %s", err, rec.Body)
		}
		return resp
	}
}

// measureStages runs predict b.N times and reports the mean of each server stage.
func measureStages(b *testing.B, predict func() api.PredictResponse) {
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

// cpuTime is the process's user and system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
