package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	_ "github.com/servebench/servebench/service" // registers the Cloud Functions targets
)

// The four faces functions through the Lambda entry point: API Gateway HTTP API
// (payload 2.0) events through aws-lambda-go-api-proxy into the same handler, the
// upload as a base64 multipart body as API Gateway delivers it.
func TestFacesThroughLambda(t *testing.T) {
	subjects := []int{2, 9, 14, 27, 36}
	dir := orlSubset(t, subjects...)
	s := newService(t, "mem", nil)
	proxy := httpadapter.NewV2(s.api).ProxyWithContext
	face, name := heldOut(t, dir, subjects, 3)
	ct, form := multipartBody(t, "example_image.jpg", "face.png", encodePNG(t, face))

	call := func(path, query, contentType string, body []byte) map[string]any {
		t.Helper()
		ev := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "$default", RawPath: path, RawQueryString: query,
			Headers: map[string]string{"content-type": contentType},
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: path},
			},
			Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true,
		}
		resp, err := proxy(context.Background(), ev)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out := resp.Body
		if resp.IsBase64Encoded {
			b, _ := base64.StdEncoding.DecodeString(out)
			out = string(b)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, out)
		}
		if !strings.Contains(resp.Headers["Server-Timing"]+strings.Join(resp.MultiValueHeaders["Server-Timing"], ""), "total;dur=") {
			t.Errorf("%s: no Server-Timing header in %v %v", path, resp.Headers, resp.MultiValueHeaders)
		}
		return m
	}
	if got := call("/faces/download_data", "id=6&source=file://"+dir, "", nil); got["images"] != 50.0 {
		t.Errorf("download_data: %v", got)
	}
	if got := call("/faces/train", "id=6", "", nil); got["classes"] != 5.0 {
		t.Errorf("train: %v", got)
	}
	if got := call("/faces/upload", "id=6", ct, form); got["width"] != 92.0 {
		t.Errorf("upload: %v", got)
	}
	if got := call("/faces/predict", "id=6", "", nil); got["name"] != name {
		t.Errorf("predict: %v, want %s", got["name"], name)
	}
}

// The four faces functions through functions-framework-go, as Cloud Functions runs
// them: each target (faces_download_data, …) served at its own path, the service
// configured from the environment, the data set from SERVEBENCH_FACES_SOURCE.
func TestFacesThroughFunctionsFramework(t *testing.T) {
	subjects := []int{4, 11, 19, 30}
	dir := orlSubset(t, subjects...)
	in, out := t.TempDir(), t.TempDir()
	t.Setenv("SERVEBENCH_INPUT_BUCKET", "file://"+in)
	t.Setenv("SERVEBENCH_OUTPUT_BUCKET", "file://"+out)
	t.Setenv("SERVEBENCH_FACES_SOURCE", dir)
	t.Setenv("SERVEBENCH_PLATFORM", "cloudfunctions-test")
	t.Setenv("FUNCTION_TARGET", "")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	go funcframework.StartHostPort("127.0.0.1", port) // runs until the test binary exits
	base := "http://127.0.0.1:" + port
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("functions framework did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	face, name := heldOut(t, dir, subjects, 0)
	ct, form := multipartBody(t, "example_image.jpg", "face.png", encodePNG(t, face))
	call := func(target, contentType string, body []byte) map[string]any {
		t.Helper()
		resp, err := http.Post(base+"/"+target+"?id=8", contentType, strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v %v", target, resp.StatusCode, m, err)
		}
		if srv, _ := m["server"].(map[string]any); srv["platform"] != "cloudfunctions-test" {
			t.Errorf("%s: server %v", target, m["server"])
		}
		return m
	}
	if got := call("faces_download_data", "", nil); got["people"] != 4.0 {
		t.Errorf("download_data: %v", got)
	}
	if got := call("faces_train", "", nil); got["train_samples"] != 30.0 {
		t.Errorf("train: %v", got)
	}
	call("faces_upload", ct, form)
	if got := call("faces_predict", "", nil); got["name"] != name {
		t.Errorf("predict: %v, want %s", got["name"], name)
	}
	for _, k := range []string{"dataset.tar.gz", "model.bin", "upload"} {
		if _, err := os.Stat(filepath.Join(out, "faces", "8", k)); err != nil {
			t.Errorf("the output bucket lacks faces/8/%s: %v", k, err)
		}
	}
}
