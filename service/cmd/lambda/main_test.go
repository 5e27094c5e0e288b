package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/storage"
)

// event is an API Gateway HTTP API (payload format 2.0) event as Lambda delivers
// it, shaped after the example in the AWS documentation.
const event = `{
  "version": "2.0",
  "routeKey": "$default",
  "rawPath": "%PATH%",
  "rawQueryString": "",
  "headers": {
    "accept": "*/*",
    "content-length": "%LEN%",
    "content-type": "application/json",
    "host": "abc123.execute-api.us-east-1.amazonaws.com",
    "user-agent": "servebench-test",
    "x-forwarded-for": "203.0.113.7",
    "x-forwarded-port": "443",
    "x-forwarded-proto": "https"
  },
  "requestContext": {
    "accountId": "123456789012",
    "apiId": "abc123",
    "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
    "domainPrefix": "abc123",
    "http": {
      "method": "%METHOD%",
      "path": "%PATH%",
      "protocol": "HTTP/1.1",
      "sourceIp": "203.0.113.7",
      "userAgent": "servebench-test"
    },
    "requestId": "JKJaXmPLvHcESHA=",
    "routeKey": "$default",
    "stage": "$default",
    "time": "23/Nov/2026:18:00:00 +0000",
    "timeEpoch": 1795457000000
  },
  "body": %BODY%,
  "isBase64Encoded": false
}`

// invoke hands the handler one event as the runtime client does: with the
// invocation's Lambda context (its request id) in ctx.
func invoke(t *testing.T, h lambda.Handler, requestID, method, path, body string) (events.APIGatewayV2HTTPResponse, map[string]any) {
	t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		AwsRequestID: requestID, InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:servebench",
	})
	out, err := h.Invoke(ctx, payload(method, path, body))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	return answer(t, out)
}

// payload is the API Gateway v2 event for one request.
func payload(method, path, body string) []byte {
	b, _ := json.Marshal(body)
	return []byte(strings.NewReplacer("%PATH%", path, "%METHOD%", method, "%LEN%", itoa(len(body)), "%BODY%", string(b)).Replace(event))
}

// answer decodes the function's API Gateway v2 answer and its JSON body.
func answer(t *testing.T, out []byte) (events.APIGatewayV2HTTPResponse, map[string]any) {
	t.Helper()
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("the function answered %q: %v", out, err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", resp.Body, err)
	}
	return resp, m
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestLambda runs the real Lambda handler (config from the environment, the
// adapter, the real detector) on API Gateway v2 events through aws-lambda-go's
// own (de)serialisation.
func TestLambda(t *testing.T) {
	bs := apitest.Open(t, "file", storage.Options{})
	apitest.Seed(t, bs.In, "dog.jpg")
	t.Setenv("SERVEBENCH_INPUT_BUCKET", bs.InURL)
	t.Setenv("SERVEBENCH_OUTPUT_BUCKET", bs.OutURL)
	t.Setenv("SERVEBENCH_BACKEND", "onnxruntime")
	t.Setenv("SERVEBENCH_PLATFORM", "lambda")
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3000")
	t.Setenv("SERVEBENCH_FACES_SOURCE", filepath.Join(apitest.DataDir(t), "faces", "orl"))
	apitest.Detector(t) // fails clearly if the build has no ONNX Runtime

	fn, err := newHandler(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := lambda.NewHandler(fn)

	const id1, id2 = "c6af9ac6-7b61-11e6-9a41-93e812345678", "0d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6"
	resp, body := invoke(t, h, id1, "POST", "/predict", `{"filename": "images/dog.jpg"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	if resp.Headers["Content-Type"] != "application/json" || !strings.Contains(resp.Headers["Server-Timing"], "inference;dur=") {
		t.Errorf("headers %v", resp.Headers)
	}
	var a api.PredictResponse
	if err := json.Unmarshal([]byte(resp.Body), &a); err != nil {
		t.Fatal(err)
	}
	apitest.CheckDetections(t, a.Detections, apitest.Dog)
	if !a.Server.Cold || a.Server.Platform != "lambda" {
		t.Errorf("server %+v, want cold on lambda", a.Server)
	}
	// The Lambda request id (REPORT's), not API Gateway's requestContext.requestId.
	if a.Server.RequestID != id1 {
		t.Errorf("server.request_id %q, want the invocation's %q", a.Server.RequestID, id1)
	}
	if _, ok := body["timings_ms"].(map[string]any)["init"]; !ok {
		t.Errorf("cold answer without timings_ms.init: %v", body["timings_ms"])
	}
	out, err := bs.Out.Read(context.Background(), a.Filename, 0)
	if err != nil {
		t.Fatalf("annotated image not written: %v", err)
	}
	apitest.CheckAnnotated(t, apitest.Read(t, "images/dog.jpg"), out, a.Detections)

	resp, body = invoke(t, h, id2, "POST", "/predict", `{"filename": "images/dog.jpg"}`)
	if server := body["server"].(map[string]any); resp.StatusCode != 200 || server["cold"] != false || server["request_id"] != id2 {
		t.Errorf("second invocation: %d %v, want warm with request_id %s", resp.StatusCode, server, id2)
	}
	// The faces routes build their server object apart from /predict's.
	resp, body = invoke(t, h, "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9", "POST", "/faces/download_data?id=1", ``)
	if server, _ := body["server"].(map[string]any); resp.StatusCode != 200 || server["request_id"] != "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9" {
		t.Errorf("faces/download_data through Lambda: %d %v, want the invocation's request_id", resp.StatusCode, body)
	}
	resp, body = invoke(t, h, "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "POST", "/predict", `{"filename": "images/missing.jpg"}`)
	if resp.StatusCode != 404 || body["error"].(map[string]any)["code"] != "not_found" {
		t.Errorf("missing image through Lambda: %d %v", resp.StatusCode, body)
	}
	resp, body = invoke(t, h, "5e4f3a2b-1c0d-4e9f-8a7b-6c5d4e3f2a1b", "GET", "/healthz", ``)
	if resp.StatusCode != 200 || body["model_loaded"] != true {
		t.Errorf("healthz through Lambda: %d %v", resp.StatusCode, body)
	}
}

// TestLambdaBinary builds this command without cgo, as the Lambda image does, and
// runs it under the AWS Lambda Runtime Interface Emulator on ONNX Runtime: an API
// Gateway v2 event for /predict answers the dog, from the onnxruntime backend.
func TestLambdaBinary(t *testing.T) {
	rie := os.Getenv("SERVEBENCH_LAMBDA_RIE")
	if rie == "" {
		t.Fatal("SERVEBENCH_LAMBDA_RIE is not set: scripts/setup-lambda-rie fetches the Lambda Runtime Interface Emulator and prints its path (scripts/test sets it)")
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if err := apitest.BuildNoCgo(".", bin); err != nil {
		t.Fatal(err)
	}
	bs := apitest.Open(t, "file", storage.Options{})
	apitest.Seed(t, bs.In, "dog.jpg")
	addr, runtimeAPI := freeAddr(t), freeAddr(t) // the emulator's default Runtime API port may be another test's
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", runtimeAPI, bin)
	cmd.Env = append(os.Environ(), "SERVEBENCH_INPUT_BUCKET="+bs.InURL, "SERVEBENCH_OUTPUT_BUCKET="+bs.OutURL,
		"SERVEBENCH_BACKEND=onnxruntime", "SERVEBENCH_PLATFORM=lambda", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=3000")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// The emulator starts the bootstrap in a process group of its own and stops it
	// on SIGTERM.
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("emulator and function output:\n%s", logs.String())
		}
	})

	u := "http://" + addr + "/2015-03-31/functions/function/invocations"
	client := &http.Client{Timeout: 2 * time.Minute}
	var resp *http.Response
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if resp, err = client.Post(u, "application/json", bytes.NewReader(payload("POST", "/predict", `{"filename": "images/dog.jpg"}`))); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not take the invoke within 30 s: %v", err)
		}
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke: %d %v: %s", resp.StatusCode, err, out)
	}
	r, _ := answer(t, []byte(out))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("predict: status %d: %s", r.StatusCode, r.Body)
	}
	var a api.PredictResponse
	if err := json.Unmarshal([]byte(r.Body), &a); err != nil {
		t.Fatal(err)
	}
	apitest.CheckDetections(t, a.Detections, apitest.Dog)
	if a.Server.Backend != "onnxruntime" || a.Server.Platform != "lambda" || !a.Server.Cold {
		t.Errorf("server %+v, want a cold answer from onnxruntime on lambda (SERVEBENCH_ONNXRUNTIME_LIB names the library; scripts/setup-onnxruntime fetches it)", a.Server)
	}
}

// freeAddr is a loopback address with a port free now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestLambdaConfigError: a bad variable stops the function at init, named.
func TestLambdaConfigError(t *testing.T) {
	t.Setenv("SERVEBENCH_INPUT_BUCKET", "mem://")
	t.Setenv("SERVEBENCH_OUTPUT_BUCKET", "ftp://nowhere")
	_, err := newHandler(context.Background())
	if err == nil || !strings.Contains(err.Error(), "SERVEBENCH_OUTPUT_BUCKET") || !strings.Contains(err.Error(), "ftp://nowhere") {
		t.Errorf("newHandler = %v, want an error naming SERVEBENCH_OUTPUT_BUCKET and its value", err)
	}
}
