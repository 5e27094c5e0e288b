package lambdaemu

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestEvent(t *testing.T) {
	now := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	r := httptest.NewRequest("POST", "http://api.example.com/faces/upload?id=3&tag=a&tag=b&q=x%20y", strings.NewReader("--b\r\n\xff\xd8binary\r\n--b--"))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	r.Header.Add("X-Multi", "one")
	r.Header.Add("X-Multi", "two")
	r.Header.Set("Cookie", "a=1; b=2")
	r.Header.Set("User-Agent", "servebench-test")
	ev, err := Event(r, "req-1", now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Version != "2.0" || ev.RouteKey != "$default" || ev.RawPath != "/faces/upload" || ev.RawQueryString != "id=3&tag=a&tag=b&q=x%20y" {
		t.Errorf("event %+v", ev)
	}
	if ev.QueryStringParameters["tag"] != "a,b" || ev.QueryStringParameters["q"] != "x y" || ev.QueryStringParameters["id"] != "3" {
		t.Errorf("query parameters %v", ev.QueryStringParameters)
	}
	if ev.Headers["x-multi"] != "one,two" || ev.Headers["host"] != "api.example.com" || ev.Headers["content-type"] != "multipart/form-data; boundary=b" {
		t.Errorf("headers %v", ev.Headers)
	}
	if _, ok := ev.Headers["cookie"]; ok || !slices.Equal(ev.Cookies, []string{"a=1", "b=2"}) {
		t.Errorf("cookies %v (headers %v): want them moved out of the headers", ev.Cookies, ev.Headers)
	}
	if !ev.IsBase64Encoded {
		t.Fatalf("a multipart body is sent base64-encoded")
	}
	if b, err := base64.StdEncoding.DecodeString(ev.Body); err != nil || string(b) != "--b\r\n\xff\xd8binary\r\n--b--" {
		t.Errorf("body %q decodes to %q (%v)", ev.Body, b, err)
	}
	c := ev.RequestContext
	if c.RequestID != "req-1" || c.HTTP.Method != "POST" || c.HTTP.Path != "/faces/upload" || c.HTTP.UserAgent != "servebench-test" ||
		c.TimeEpoch != now.UnixMilli() || c.Time != "23/Nov/2026:18:00:00 +0000" || c.Stage != "$default" {
		t.Errorf("request context %+v", c)
	}

	for _, tc := range []struct {
		ctype, body string
		base64      bool
	}{
		{"application/json", `{"filename":"images/dog.jpg"}`, false},
		{"text/plain; charset=utf-8", "héllo", false},
		{"application/vnd.api+json", `{}`, false},
		{"application/x-www-form-urlencoded", "a=1", true},
		{"application/octet-stream", "abc", true},
		{"application/json", "\xff\xfe", true}, // not UTF-8
		{"", "abc", true},
	} {
		r := httptest.NewRequest("POST", "/predict", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", tc.ctype)
		ev, err := Event(r, "x", now)
		if err != nil {
			t.Fatal(err)
		}
		got := ev.Body
		if ev.IsBase64Encoded {
			b, _ := base64.StdEncoding.DecodeString(ev.Body)
			got = string(b)
		}
		if ev.IsBase64Encoded != tc.base64 || got != tc.body {
			t.Errorf("%q body %q: base64 %v body %q; want base64 %v", tc.ctype, tc.body, ev.IsBase64Encoded, ev.Body, tc.base64)
		}
	}
}

func TestResponse(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nrest")
	for _, tc := range []struct {
		name    string
		payload any
		status  int
		header  http.Header
		cookies []string
		body    string
	}{
		{"json", events.APIGatewayV2HTTPResponse{StatusCode: 404, Headers: map[string]string{"Content-Type": "application/json", "Server-Timing": "a;dur=1, b;dur=2"},
			Body: `{"error":{"code":"not_found"}}`}, 404,
			http.Header{"Content-Type": {"application/json"}, "Server-Timing": {"a;dur=1, b;dur=2"}}, nil, `{"error":{"code":"not_found"}}`},
		{"binary", events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"},
			Body: base64.StdEncoding.EncodeToString(png), IsBase64Encoded: true, Cookies: []string{"a=1; Path=/", "b=2"}}, 200,
			http.Header{"Content-Type": {"image/png"}}, []string{"a=1; Path=/", "b=2"}, string(png)},
		// Format 2.0 inference: JSON without a statusCode is a 200 JSON body.
		{"bare json", map[string]int{"answer": 42}, 200, http.Header{"Content-Type": {"application/json"}}, nil, `{"answer":42}`},
		// Format 1.0's multiValueHeaders mean nothing to a 2.0 integration.
		{"multi-value", events.APIGatewayV2HTTPResponse{StatusCode: 201, MultiValueHeaders: map[string][]string{"X-A": {"1", "2"}}}, 201, http.Header{"X-A": nil}, nil, ""},
		{"bad status", map[string]any{"statusCode": 42}, 500, http.Header{"Content-Type": {"application/json"}}, nil, `{"message":"Internal Server Error"}`},
		{"bad base64", events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "%%%", IsBase64Encoded: true}, 500, nil, nil, `{"message":"Internal Server Error"}`},
	} {
		payload, _ := json.Marshal(tc.payload)
		resp := Response(payload, "req-9")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status || string(body) != tc.body || resp.Header.Get(RequestIDHeader) != "req-9" {
			t.Errorf("%s: %d %q (id %q), want %d %q", tc.name, resp.StatusCode, body, resp.Header.Get(RequestIDHeader), tc.status, tc.body)
		}
		for k, v := range tc.header {
			if !slices.Equal(resp.Header.Values(k), v) {
				t.Errorf("%s: header %s = %q, want %q", tc.name, k, resp.Header.Values(k), v)
			}
		}
		if got := resp.Header.Values("Set-Cookie"); !slices.Equal(got, tc.cookies) {
			t.Errorf("%s: Set-Cookie %q, want %q", tc.name, got, tc.cookies)
		}
	}
	if resp := Response([]byte("Task timed out"), "x"); resp.StatusCode != 500 {
		t.Errorf("a payload that is not JSON: %d, want 500", resp.StatusCode)
	}
}

// TestGatewayInvoke runs the client against a stand-in for the emulator's invoke
// endpoint: the event it gets, and the gateway's answers to a function error and
// to an invocation that outruns the integration limit.
func TestGatewayInvoke(t *testing.T) {
	var (
		mu    sync.Mutex // the stand-in's handlers run concurrently with the test
		got   events.APIGatewayV2HTTPRequest
		gotID string
		mode  = "ok"
	)
	setMode := func(m string) { mu.Lock(); mode = m; mu.Unlock() }
	release := make(chan struct{})
	emu := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != InvocationsPath || r.Method != "POST" {
			http.Error(w, "wrong endpoint "+r.URL.Path, 404)
			return
		}
		var ev events.APIGatewayV2HTTPRequest
		_ = json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		got, gotID = ev, r.Header.Get("X-Amzn-RequestId")
		m := mode
		mu.Unlock()
		switch m {
		case "ok":
			_ = json.NewEncoder(w).Encode(events.APIGatewayV2HTTPResponse{StatusCode: 202, Body: "accepted"})
		case "error":
			_, _ = w.Write([]byte(`{"errorMessage":"boom","errorType":"Runtime.ExitError"}`))
		case "timeout":
			_, _ = w.Write([]byte("Task timed out after 30.00 seconds"))
		case "slow":
			<-release
		}
	}))
	defer emu.Close()
	defer close(release)

	r := httptest.NewRequest("POST", "/predict?x=1", strings.NewReader(`{"filename":"a.jpg"}`))
	r.Header.Set("Content-Type", "application/json")
	resp, err := Invoke(context.Background(), emu.URL, r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	id := resp.Header.Get(RequestIDHeader)
	mu.Lock()
	if resp.StatusCode != 202 || string(body) != "accepted" || id == "" || id != gotID || got.RequestContext.RequestID != id {
		t.Errorf("answer %d %q, id %q; the emulator got id %q, event id %q", resp.StatusCode, body, id, gotID, got.RequestContext.RequestID)
	}
	if got.RawPath != "/predict" || got.RawQueryString != "x=1" || got.Body != `{"filename":"a.jpg"}` || got.IsBase64Encoded {
		t.Errorf("event %+v", got)
	}

	mu.Unlock()
	for _, m := range []string{"error", "timeout"} {
		setMode(m)
		resp, err := Invoke(context.Background(), emu.URL, httptest.NewRequest("GET", "/healthz", nil))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 500 || string(body) != `{"message":"Internal Server Error"}` {
			t.Errorf("function %s: %d %s, want the gateway's 500", m, resp.StatusCode, body)
		}
	}

	// A body over the payload quota never reaches the function.
	setMode("ok")
	got = events.APIGatewayV2HTTPRequest{}
	resp, err = Invoke(context.Background(), emu.URL, httptest.NewRequest("POST", "/faces/upload",
		bytes.NewReader(make([]byte, MaxPayloadBytes+1))))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	mu.Lock()
	if resp.StatusCode != 413 || string(body) != `{"message":"Request Entity Too Large"}` || got.RawPath != "" {
		t.Errorf("a body over the quota: %d %s, the function got %q; want the gateway's 413", resp.StatusCode, body, got.RawPath)
	}
	mu.Unlock()

	setMode("slow")
	g := &Gateway{Timeout: 50 * time.Millisecond}
	resp, err = g.Invoke(context.Background(), emu.URL, httptest.NewRequest("GET", "/healthz", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || string(body) != `{"message":"Service Unavailable"}` {
		t.Errorf("past the integration limit: %d %s, want the gateway's 503", resp.StatusCode, body)
	}
	// The caller giving up is an error, not an answer.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := Invoke(ctx, emu.URL, httptest.NewRequest("GET", "/healthz", nil)); err == nil {
		t.Errorf("invoke with the caller's context ended: no error")
	}
}

// The lines as aws-lambda-rie v0.0.0-20261030222936-bef5c4ba774d prints them.
const (
	coldReport = "REPORT RequestId: req-1\tInit Duration: 0.30 ms\tDuration: 485.19 ms\tBilled Duration: 486 ms\tMemory Size: 3000 MB\tMax Memory Used: 3000 MB\t"
	warmReport = "REPORT RequestId: req-2\tDuration: 74.21 ms\tBilled Duration: 75 ms\tMemory Size: 3000 MB\tMax Memory Used: 3000 MB\t"
	stderrCold = "01 Dec 2026 10:25:09,211 [INFO] (rapid) INIT START(type: on-demand, phase: init)\n" +
		"01 Dec 2026 10:25:09,228 [INFO] (rapid) INIT RTDONE(status: success)\n" +
		"01 Dec 2026 10:25:09,228 [INFO] (rapid) INIT REPORT(durationMs: 16.914000)\n" +
		"01 Dec 2026 10:25:09,228 [INFO] (rapid) INVOKE START(requestId: req-1)\n"
	stderrWarm = "01 Dec 2026 10:25:09,708 [INFO] (rapid) INVOKE START(requestId: req-2)\n"
)

func TestParseReport(t *testing.T) {
	r, ok := ParseReport(coldReport)
	if !ok || r != (Report{RequestID: "req-1", DurationMS: 485.19, BilledMS: 486, Cold: true, MemorySizeMB: 3000, MaxMemoryMB: 3000}) {
		t.Errorf("cold: %+v %v", r, ok)
	}
	r, ok = ParseReport(warmReport + "\n")
	if !ok || r != (Report{RequestID: "req-2", DurationMS: 74.21, BilledMS: 75, MemorySizeMB: 3000, MaxMemoryMB: 3000}) {
		t.Errorf("warm: %+v %v", r, ok)
	}
	for _, bad := range []string{"START RequestId: req-1 Version: $LATEST", "REPORT RequestId: x\tDuration: 1.00 ms", "REPORT RequestId: x\tDuration: ab ms\tBilled Duration: 1 ms"} {
		if r, ok := ParseReport(bad); ok {
			t.Errorf("%q parsed as %+v", bad, r)
		}
	}
}

// TestLog feeds the emulator's two streams in pieces, the REPORT before the
// stderr line that names its init, as concurrent readers may deliver them.
func TestLog(t *testing.T) {
	var copied strings.Builder
	l := NewLog(&copied)
	out, errw := l.Stdout(), l.Stderr()
	_, _ = io.WriteString(out, "START RequestId: req-1 Version: $LATEST\n{\"msg\":\"model loaded\"}\nEND RequestId: req-1\n"+coldReport[:20])
	_, _ = io.WriteString(out, coldReport[20:]+"\n")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if _, err := l.Report(ctx, "req-1"); err == nil {
		t.Errorf("a cold REPORT was handed out before its init duration was read")
	}
	cancel()
	done := make(chan Report)
	go func() {
		r, err := l.Report(context.Background(), "req-1")
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	_, _ = io.WriteString(errw, stderrCold)
	if r := <-done; !r.Cold || r.InitMS != 16.914 || r.DurationMS != 485.19 {
		t.Errorf("cold: %+v", r)
	}

	_, _ = io.WriteString(errw, stderrWarm)
	_, _ = io.WriteString(out, warmReport+"\n")
	r, err := l.Report(context.Background(), "req-2")
	if err != nil || r.Cold || r.InitMS != 0 || r.BilledMS != 75 {
		t.Errorf("warm: %+v %v", r, err)
	}
	if !strings.Contains(copied.String(), "model loaded") || !strings.Contains(copied.String(), "INIT REPORT") {
		t.Errorf("the log file did not get both streams: %q", copied.String())
	}
}
