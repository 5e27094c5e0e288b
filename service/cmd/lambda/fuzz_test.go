package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/faces/pgm"
	"github.com/servebench/servebench/service/instance"
	"github.com/servebench/servebench/service/storage"
)

// gatewayHost is the API's domain in the fuzzed events.
const gatewayHost = "abc123.execute-api.us-east-1.amazonaws.com"

// Small image limits keep an upload cheap; the limit checks are the same code.
const fuzzMaxImageBytes, fuzzMaxImagePixels = 16 << 10, 64 << 10

// Body encodings of a fuzzed event (the fuzzer's encoding byte, modulo 3).
const (
	bodyText    = iota // the body as a JSON string, isBase64Encoded false
	bodyBase64         // the body base64-encoded, isBase64Encoded true (how API Gateway passes binary)
	bodyFlagged        // the body as it is with isBase64Encoded true: usually invalid base64
)

// FuzzLambdaEvent invokes the Lambda function's handler (proxy: the service behind
// aws-lambda-go-api-proxy) on fuzzed API Gateway HTTP API (payload 2.0) events,
// serialised and deserialised as the Lambda runtime does. The service has no
// model and no image it can decode, so no request reaches inference. What must
// hold:
//   - no panic, and the model is never loaded;
//   - the handler returns an error exactly when the event cannot become an HTTP
//     request (isBase64Encoded with a body that is not base64, a method or URL
//     net/http refuses), which Lambda reports as a failed invocation;
//   - otherwise the answer is a 200 with a JSON body, an error in the contract
//     (400, 403, 404, 405, 409, 413, 415 with the JSON error body), or, for a path
//     that is not canonical, net/http's redirect to a different canonical path;
//     bodies are text, so isBase64Encoded is false;
//   - only a 200 upload leaves an object in the output bucket, and it is the one
//     its answer names, within the byte limit.
func FuzzLambdaEvent(f *testing.F) {
	a, bs := lambdaFixture(f)
	h := lambda.NewHandler(proxy(a))
	base, err := apitest.APIGatewayV2Event(apitest.CurlGet(gatewayHost, "/"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range lambdaSeeds(f) {
		f.Add(s.method, s.path, s.query, s.headers, s.body, s.encoding)
	}
	f.Fuzz(func(t *testing.T, method, path, query, headers string, body []byte, encoding uint8) {
		payload, err := json.Marshal(gatewayEvent(base, method, path, query, headers, body, encoding))
		if err != nil {
			t.Fatal(err)
		}
		// The event as the function sees it: JSON has turned invalid UTF-8 into U+FFFD.
		var seen events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &seen); err != nil {
			t.Fatal(err)
		}
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e812345678"})
		out, invokeErr := h.Invoke(ctx, payload)
		defer func() {
			if err := os.RemoveAll(filepath.Join(bs.OutDir, "faces")); err != nil {
				t.Fatal(err)
			}
		}()
		if n := a.ModelLoads(); n != 0 {
			t.Fatalf("an event loaded the model (%d loads)", n)
		}
		left := apitest.Files(t, bs.OutDir)
		req, why := asRequest(seen)
		switch {
		case invokeErr != nil && why == nil:
			t.Fatalf("the handler failed (%v) on an event that is a valid request", invokeErr)
		case invokeErr == nil && why != nil:
			t.Fatalf("the handler answered %q for an event that is no request (%v)", out, why)
		case invokeErr != nil:
			if len(left) != 0 {
				t.Fatalf("a failed invocation left %v", left)
			}
			return
		}
		ans := gatewayAnswer(t, out)
		if ans.Status != http.StatusOK && len(left) != 0 {
			t.Fatalf("a %d answer left %v", ans.Status, left)
		}
		switch {
		case redirect(ans.Status):
			// net/http's ServeMux sends a path that is not canonical ("/faces",
			// "/a/../healthz") to the canonical one, as the HTTP server does.
			if err := checkRedirect(req.URL.Path, ans.Header.Get("Location")); err != nil {
				t.Fatal(err)
			}
		case ans.Status != http.StatusOK:
			if err := apitest.CheckError(ans, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound,
				http.StatusMethodNotAllowed, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType); err != nil {
				t.Fatal(err)
			}
		default:
			checkOK(t, ans, bs, left)
		}
	})
}

// checkOK checks a 200: a JSON object, and if it stored anything, the one upload
// it names, within the byte limit.
func checkOK(t *testing.T, ans apitest.Answer, bs apitest.Buckets, left []string) {
	t.Helper()
	var got struct {
		Key string `json:"key"`
	}
	if ct := ans.Header.Get("Content-Type"); ct != "application/json" || json.Unmarshal(ans.Body, &got) != nil {
		t.Fatalf("200 with Content-Type %q and body %q, want a JSON object", ct, ans.Body)
	}
	if len(left) == 0 {
		return
	}
	if keys := apitest.Keys(t, bs.Out); len(keys) != 1 || keys[0] != got.Key || !strings.HasSuffix(got.Key, "/upload") {
		t.Fatalf("a 200 answering key %q left %v", got.Key, keys)
	}
	if stored, err := bs.Out.Read(context.Background(), got.Key, 0); err != nil || len(stored) > fuzzMaxImageBytes {
		t.Fatalf("stored %d bytes (limit %d): %v", len(stored), fuzzMaxImageBytes, err)
	}
}

// lambdaFixture is the service as the Lambda function serves it, with nothing a
// fuzzed event could make expensive or reach outside: file:// buckets in
// temporary directories, no model (a load fails the target), an input image that
// is no image, no faces source and ?source= refused, small image limits.
func lambdaFixture(tb testing.TB) (*api.API, apitest.Buckets) {
	bs := apitest.Open(tb, "file", storage.Options{FileBaseURL: "https://" + gatewayHost + api.FilesPath})
	if err := bs.In.Write(context.Background(), "images/notes.txt", "text/plain", []byte("not an image")); err != nil {
		tb.Fatal(err)
	}
	cfg := config.Defaults
	cfg.InputBucket, cfg.OutputBucket, cfg.Platform = bs.InURL, bs.OutURL, "lambda"
	cfg.FacesSource, cfg.FacesAllowSrc = "", false
	cfg.MaxImageBytes, cfg.MaxImagePixels = fuzzMaxImageBytes, fuzzMaxImagePixels
	a, err := api.New(api.Options{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Instance: instance.New(),
		Input: bs.In, Output: bs.Out, ModelKey: apitest.ModelKey,
		NewDetector: func(context.Context, string, []byte, detect.LoadOptions) (detect.Detector, error) {
			return nil, errors.New("the Lambda event fuzzer loads no model")
		}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a, bs
}

// gatewayEvent is base (API Gateway's request context) with the request's own
// parts: method, raw path and query, headers ("name: value" lines; API Gateway
// lower-cases names) and the body in the given encoding.
func gatewayEvent(base events.APIGatewayV2HTTPRequest, method, path, query, headers string, body []byte, encoding uint8) events.APIGatewayV2HTTPRequest {
	ev := base
	ev.RawPath, ev.RawQueryString = path, query
	ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.Path = method, path
	ev.Headers = map[string]string{}
	for line := range strings.SplitSeq(headers, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k != "" {
			ev.Headers[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	ev.RequestContext.HTTP.UserAgent = ev.Headers["user-agent"]
	switch encoding % 3 {
	case bodyText:
		ev.Body, ev.IsBase64Encoded = string(body), false
	case bodyBase64:
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	case bodyFlagged:
		ev.Body, ev.IsBase64Encoded = string(body), true
	}
	return ev
}

// asRequest is the request aws-lambda-go-api-proxy makes of ev, by net/http's
// and base64's rules (the path from rawPath, else requestContext.http.path, after
// https:// and the domain name), or why there is none.
func asRequest(ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	if ev.IsBase64Encoded {
		if _, err := base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, err
		}
	}
	p := ev.RawPath
	if p == "" {
		p = ev.RequestContext.HTTP.Path
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u := "https://" + ev.RequestContext.DomainName + p
	if ev.RawQueryString != "" {
		u += "?" + ev.RawQueryString
	}
	return http.NewRequest(strings.ToUpper(ev.RequestContext.HTTP.Method), u, nil)
}

func redirect(status int) bool {
	return status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect
}

// checkRedirect says why a redirect from the path asked to location is not one
// to a different, canonical path (which would not redirect again).
func checkRedirect(asked, location string) error {
	u, err := url.Parse(location)
	if err != nil || u.Path == "" {
		return fmt.Errorf("redirect from %q to Location %q", asked, location)
	}
	clean := path.Clean(u.Path)
	canonical := u.Path == clean || (clean != "/" && u.Path == clean+"/")
	if u.Path == asked || !canonical {
		return fmt.Errorf("redirect from %q to %q, which is not a different canonical path", asked, u.Path)
	}
	return nil
}

// gatewayAnswer reads the function's answer as API Gateway does, failing on a
// base64 flag that does not match the body (only bodies that are not UTF-8 are
// base64-encoded).
func gatewayAnswer(t *testing.T, out []byte) apitest.Answer {
	t.Helper()
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("the function answered %q: %v", out, err)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil || utf8.Valid(body) {
			t.Fatalf("isBase64Encoded on a body that is not base64 of binary bytes (%v): %q", err, resp.Body)
		}
	}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	return apitest.Answer{Status: resp.StatusCode, Header: h, Body: body}
}

type lambdaSeed struct {
	method, path, query, headers string
	body                         []byte
	encoding                     uint8
}

// seedOf is the fuzzer's arguments for the API Gateway event of a raw request.
func seedOf(tb testing.TB, raw []byte) lambdaSeed {
	ev, err := apitest.APIGatewayV2Event(raw)
	if err != nil {
		tb.Fatal(err)
	}
	s := lambdaSeed{method: ev.RequestContext.HTTP.Method, path: ev.RawPath, query: ev.RawQueryString, body: []byte(ev.Body)}
	for _, k := range slices.Sorted(maps.Keys(ev.Headers)) {
		s.headers += k + ": " + ev.Headers[k] + "\n"
	}
	if ev.IsBase64Encoded {
		if s.body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			tb.Fatal(err)
		}
		s.encoding = bodyBase64
	}
	return s
}

// lambdaSeeds are the studies' clients' requests as API Gateway delivers them
// (curl's GETs and multipart upload, Locust's and JMeter's /predict, the events
// main_test.go sends), then events that go wrong in every part.
func lambdaSeeds(tb testing.TB) []lambdaSeed {
	photo := apitest.ExampleImage(tb, mustFace(tb))
	get := func(target string) lambdaSeed { return seedOf(tb, apitest.CurlGet(gatewayHost, target)) }
	upload := seedOf(tb, apitest.CurlForm(gatewayHost, "/faces/upload?id=3", "example_image.jpg", "example_image.jpg", photo))
	predict := seedOf(tb, apitest.LocustPredict(gatewayHost, "images/dog.jpg"))
	with := func(s lambdaSeed, edit func(*lambdaSeed)) lambdaSeed { edit(&s); return s }
	seeds := []lambdaSeed{
		get("/healthz"), get("/faces/download_data"), get("/faces/train"), get("/faces/predict?id=2"),
		get("/faces/download_data?source=/etc"), get("/faces/train?id=abc"), get("/files?method=GET&obj=x"),
		get("/nothing"), get("/predict"), get("/faces/upload"),
		upload, predict,
		seedOf(tb, apitest.JMeterPredict(gatewayHost, "images/notes.txt", "text/plain; charset=UTF-8")),
		seedOf(tb, apitest.JMeterPredict(gatewayHost, "../etc/passwd", "")),
		// main_test.go's event, as JSON with the fields API Gateway sends.
		{method: "POST", path: "/predict", headers: "content-type: application/json\nhost: " + gatewayHost + "\n", body: []byte(`{"filename": "images/missing.jpg"}`)},
		with(upload, func(s *lambdaSeed) { s.encoding = bodyText }),
		with(upload, func(s *lambdaSeed) { s.body = s.body[:len(s.body)/2] }),
		with(upload, func(s *lambdaSeed) { s.encoding = bodyFlagged }),
		with(upload, func(s *lambdaSeed) { s.body, s.encoding = []byte("bm90IGJhc2U2NA=="), bodyFlagged }),
		with(predict, func(s *lambdaSeed) { s.encoding = bodyFlagged }),
		with(predict, func(s *lambdaSeed) { s.method = "" }),
		with(predict, func(s *lambdaSeed) { s.method = "post" }),
		with(predict, func(s *lambdaSeed) { s.method = "BAD METHOD" }),
		// About what API Gateway passes: an HTTP API takes 10 KB of request headers.
		with(predict, func(s *lambdaSeed) { s.headers += "x-huge: " + strings.Repeat("a", 9<<10) + "\n" }),
		with(get("/healthz"), func(s *lambdaSeed) { s.method = "DELETE" }),
		with(get("/healthz"), func(s *lambdaSeed) { s.method = "HEAD" }),
		with(get("/healthz"), func(s *lambdaSeed) { s.path = "" }),
		with(get("/healthz"), func(s *lambdaSeed) { s.path = "healthz" }),
		with(get("/healthz"), func(s *lambdaSeed) { s.path = "/%zz" }),
		with(get("/healthz"), func(s *lambdaSeed) { s.path = "/faces/..%2fhealthz" }),
		with(get("/healthz"), func(s *lambdaSeed) { s.path = "/faces/../healthz" }),
		with(get("/healthz"), func(s *lambdaSeed) { s.path = "/faces" }),
		with(get("/healthz"), func(s *lambdaSeed) { s.path = "/heal\x00thz" }),
		with(get("/faces/train"), func(s *lambdaSeed) { s.query = "id=%zz&id=1" }),
	}
	return seeds
}

// mustFace is an ORL face of the test data.
func mustFace(tb testing.TB) image.Image {
	face, err := pgm.Decode(bytes.NewReader(apitest.Read(tb, "faces/orl/s1/1.pgm")))
	if err != nil {
		tb.Fatal(err)
	}
	return face
}
