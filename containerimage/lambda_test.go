package containerimage

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/lambdaemu"
	"github.com/servebench/servebench/internal/predicttest"
)

// gatewayURL is the API Gateway endpoint the function believes it is behind: the
// base of its signed file:// URLs, which come back to it through the gateway.
const gatewayURL = "https://gateway.test"

// lambdaMemoryMB is the function's configured memory, as the study's (3000 MB).
const lambdaMemoryMB = 3000

// lambdaFunction is the Lambda image running under its emulator, with the log of the
// emulator's REPORT lines.
type lambdaFunction struct {
	c   container
	log *lambdaemu.Log
}

func startLambda(t *testing.T, img string, b buckets) lambdaFunction {
	t.Helper()
	args := append(b.mountArgs(),
		// Lambda's filesystem is read-only but for /tmp.
		"--read-only", "--tmpfs", "/tmp",
		"-e", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(lambdaMemoryMB),
		"-e", "SERVEBENCH_INPUT_BUCKET="+inURL,
		"-e", "SERVEBENCH_OUTPUT_BUCKET="+outURL,
		"-e", "SERVEBENCH_PUBLIC_URL="+gatewayURL)
	f := lambdaFunction{c: start(t, img, freePort(t), args...), log: lambdaemu.NewLog(nil)}
	f.c.follow(t, f.log.Stdout(), f.log.Stderr())
	return f
}

// invoke sends an HTTP request through the gateway to the function and returns the
// gateway's answer, its body and the emulator's REPORT for it. The emulator may not
// listen yet right after the container starts: an invoke that did not reach it is
// tried again.
func (f lambdaFunction) invoke(t *testing.T, method, target, ctype string, body []byte) (*http.Response, []byte, lambdaemu.Report) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		r, err := http.NewRequestWithContext(ctx, method, gatewayURL+target, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		resp, err := lambdaemu.Invoke(ctx, f.c.url(), r)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("%s %s: %v", method, target, err)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		out, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		rep, err := f.log.Report(ctx, resp.Header.Get(lambdaemu.RequestIDHeader))
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		return resp, out, rep
	}
}

// TestLambdaImage: the Lambda image under the Runtime Interface Emulator, sent API
// Gateway HTTP API v2 events, detects dog, bicycle and car on dog.jpg with ONNX
// Runtime cold and then warm, with JPEG through libjpeg-turbo, and serves the
// annotated image at its signed URL through the gateway (a base64-encoded binary
// answer).
func TestLambdaImage(t *testing.T) {
	img := imageName(t, EnvLambdaImage)
	b := newBuckets(t)
	f := startLambda(t, img, b)

	var last predicttest.Answer
	for i, wantCold := range []bool{true, false} {
		resp, body, rep := f.invoke(t, http.MethodPost, "/predict", "application/json", []byte(`{"filename": "images/dog.jpg"}`))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("predict %d: status %d: %s", i, resp.StatusCode, body)
		}
		var a predicttest.Answer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("predict %d: %v: %s", i, err, body)
		}
		predicttest.CheckDog(t, a.Detections)
		checkRunsOn(t, body)
		if a.Server.Cold != wantCold || a.Server.Platform != "lambda" || a.Server.MemoryMB != lambdaMemoryMB {
			t.Errorf("predict %d: server %+v, want cold=%v on lambda with %d MB", i, a.Server, wantCold, lambdaMemoryMB)
		}
		if _, ok := a.TimingsMS["init"]; ok != wantCold {
			t.Errorf("predict %d: timings_ms.init present %v, want %v", i, ok, wantCold)
		}
		if rep.Cold != wantCold || (rep.InitMS > 0) != wantCold {
			t.Errorf("predict %d: REPORT cold %v with init %.2f ms, want an init only when cold", i, rep.Cold, rep.InitMS)
		}
		if rep.DurationMS < a.TimingsMS["total"] {
			t.Errorf("predict %d: REPORT duration %.2f ms, shorter than the handler's %.2f ms", i, rep.DurationMS, a.TimingsMS["total"])
		}
		if _, err := os.Stat(filepath.Join(b.out, filepath.FromSlash(a.Filename))); err != nil {
			t.Errorf("predict %d: the output %q is not in the mounted bucket: %v", i, a.Filename, err)
		}
		t.Logf("predict %s: REPORT init %.2f ms, duration %.2f ms, billed %.0f ms; server %+v, timings_ms %v",
			map[bool]string{true: "cold", false: "warm"}[wantCold], rep.InitMS, rep.DurationMS, rep.BilledMS, a.Server, a.TimingsMS)
		last = a
	}

	resp, body, _ := f.invoke(t, http.MethodGet, "/healthz", "", nil)
	var h health
	if err := json.Unmarshal(body, &h); err != nil || resp.StatusCode != http.StatusOK || !h.ModelLoaded || h.Backend != "onnxruntime" {
		t.Errorf("healthz after predict: %d %s, want the model loaded on onnxruntime", resp.StatusCode, body)
	}

	u, err := url.Parse(last.Location)
	if err != nil || !strings.HasPrefix(last.Location, gatewayURL+"/files?") {
		t.Fatalf("location %q (%v): want the gateway's /files", last.Location, err)
	}
	resp, body, _ = f.invoke(t, http.MethodGet, u.RequestURI(), "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed location: status %d: %s", resp.StatusCode, body)
	}
	checkAnnotated(t, body, b, last.Filename)
}
