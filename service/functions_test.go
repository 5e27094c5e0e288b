package service

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/storage"
)

// startFramework serves the registered functions with functions-framework-go on a
// loopback port: each at /<name> as `cmd/functions` does, or, with target set,
// only that one at every path, as on Cloud Functions.
func startFramework(t *testing.T, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	t.Setenv("FUNCTION_TARGET", target)
	go funcframework.StartHostPort("127.0.0.1", port) // runs until the test binary exits
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			t.Setenv("FUNCTION_TARGET", "")
			return "http://127.0.0.1:" + port
		}
		if time.Now().After(deadline) {
			t.Fatalf("the functions framework did not start: %v", err)
		}
	}
}

func post(t *testing.T, u, body string, out any) *http.Response {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s answered %d, not JSON: %v", u, resp.StatusCode, err)
	}
	return resp
}

// TestFunctions: the predict function through the functions framework, on ONNX
// Runtime as on Cloud Functions (which builds this module from source; scripts/test
// runs this package with CGO_ENABLED=0 as well), after a misconfigured first call
// that must answer the contract naming the variable.
func TestFunctions(t *testing.T) {
	base := startFramework(t, "")
	t.Cleanup(shared.reset)

	// Misconfigured: every call says what is wrong, and nothing is cached.
	t.Setenv("SERVEBENCH_INPUT_BUCKET", "mem://")
	t.Setenv("SERVEBENCH_OUTPUT_BUCKET", "")
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if resp := post(t, base+"/predict", `{"filename":"images/dog.jpg"}`, &e); resp.StatusCode != 500 ||
		e.Error.Code != "internal" || !strings.Contains(e.Error.Message, "SERVEBENCH_OUTPUT_BUCKET") {
		t.Errorf("misconfigured function: %d %+v, want 500 naming SERVEBENCH_OUTPUT_BUCKET", resp.StatusCode, e)
	}

	bs := apitest.Open(t, "file", storage.Options{})
	apitest.Seed(t, bs.In, "dog.jpg")
	t.Setenv("SERVEBENCH_INPUT_BUCKET", bs.InURL)
	t.Setenv("SERVEBENCH_OUTPUT_BUCKET", bs.OutURL)
	t.Setenv("SERVEBENCH_BACKEND", "onnxruntime")
	t.Setenv("SERVEBENCH_PLATFORM", "cloudfunctions")
	apitest.Detector(t) // fails clearly if the build has no ONNX Runtime

	for i, wantCold := range []bool{true, false} {
		var a api.PredictResponse
		resp := post(t, base+"/predict", `{"filename":"images/dog.jpg"}`, &a)
		if resp.StatusCode != 200 {
			t.Fatalf("call %d: status %d", i, resp.StatusCode)
		}
		apitest.CheckDetections(t, a.Detections, apitest.Dog)
		if a.Server.Cold != wantCold || a.Server.Platform != "cloudfunctions" || a.Server.Backend != "onnxruntime" {
			t.Errorf("call %d: server %+v, want cold=%v on onnxruntime", i, a.Server, wantCold)
		}
		if ok, err := bs.Out.Exists(t.Context(), a.Filename); !ok {
			t.Errorf("call %d: %s not in the output bucket: %v", i, a.Filename, err)
		}
		if !strings.Contains(resp.Header.Get("Server-Timing"), "inference;dur=") {
			t.Errorf("Server-Timing %q", resp.Header.Get("Server-Timing"))
		}
	}
	// On Cloud Functions (FUNCTION_TARGET set) the function answers at its URL's
	// root, and at any path below it.
	target := startFramework(t, "predict")
	for _, path := range []string{"/", "/whatever"} {
		var a api.PredictResponse
		if resp := post(t, target+path, `{"filename":"images/dog.jpg"}`, &a); resp.StatusCode != 200 || a.Server.Cold {
			t.Errorf("FUNCTION_TARGET=predict at %s: %d %+v", path, resp.StatusCode, a.Server)
		}
		apitest.CheckDetections(t, a.Detections, apitest.Dog)
	}
	for name := range Functions {
		resp, err := http.Get(base + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET /%s: Content-Type %q, want the JSON contract", name, ct)
		}
	}
}

// TestStudyClientsThroughFunctions: the two studies' own clients, unchanged,
// through functions-framework-go as Cloud Functions runs it (FUNCTION_TARGET: one
// function per server, at every path). The Eigenfaces study's curl sequence goes
// byte for byte as curl sent it to the study's own URLs (…/eigenfaces_train_http:
// GET, no id, the upload as curl's multipart) and names a held-out ORL face; the
// YOLO study's Locust and JMeter requests to the predict function answer the dog.
func TestStudyClientsThroughFunctions(t *testing.T) {
	t.Cleanup(shared.reset)
	subjects := []int{8, 17, 26, 35}
	dir := apitest.AsDeployed(t, "cloudfunctions", subjects...)
	shared.reset() // a handler another test built saw other buckets

	const host = "us-east1-anthony-orlowski.cloudfunctions.net" // the study's
	face, name := apitest.HeldOut(t, dir, subjects, 3)
	answers := apitest.EigenfacesCurl(t, apitest.ExampleImage(t, face), func(fn string) apitest.Endpoint {
		base := startFramework(t, "faces_"+fn)
		return apitest.Endpoint{Send: apitest.OverTCP(strings.TrimPrefix(base, "http://")), Host: host, Target: "/eigenfaces_" + fn + "_http"}
	})
	apitest.CheckPredicted(t, answers, name)
	predict := startFramework(t, "predict")
	apitest.YOLOClients(t, apitest.OverTCP(strings.TrimPrefix(predict, "http://")), "us-east1-servebench.cloudfunctions.net")
}
