package lambdaemu

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// FuzzGatewayEvent sends Event any request an HTTP server would hand the front
// door: method, request target (path and query), header lines and body as the
// client wrote them, parsed by net/http. What must hold: no panic and no error
// (nothing a client sends is the gateway's failure); the event the function
// gets says what the request said: the method, the path (raw and decoded), the
// raw query and every parameter in it, every header (names lower-cased, repeated
// values joined with commas) and every cookie, and the body byte for byte once
// base64-decoded when isBase64Encoded, text only when it is valid UTF-8, the
// same after the event's JSON round trip to the function.
func FuzzGatewayEvent(f *testing.F) {
	for _, s := range []struct{ method, target, headers, body string }{
		{"POST", "/predict", "Content-Type: application/json\n", `{"filename":"images/dog.jpg"}`},
		{"POST", "/faces/upload?id=3", "Content-Type: multipart/form-data; boundary=b\n", "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.pgm\"\r\n\r\nP5\n1 1\n255\n\xff\r\n--b--\r\n"},
		{"GET", "/faces/predict?id=1&id=2&q=x%20y&empty=&flag", "Cookie: a=1; b=2\nCookie: c=3\nX-Multi: one\nX-Multi: two\nUser-Agent: servebench\n", ""},
		{"GET", "/healthz?a=%zz&b=1;c=2", "", ""}, // a query Go's parser refuses in part
		{"PUT", "/a%2Fb/%7Euser/../c?x=%E2%82%AC", "X-Forwarded-For: 10.0.0.1\nHost: other.example\n", "\xff\xfe"}, // escaped slash, a dot segment, a spoofed forwarder, binary body
		{"POST", "/predict", "Content-Type: text/plain; charset=utf-8\n", "héllo"},
		{"POST", "/predict", "Content-Type: application/json\n", "\xc3\x28"}, // JSON that is not UTF-8
		{"DELETE", "*", "", ""},
		{"OPTIONS", "http://api.example.com/x?y=1", "", ""}, // an absolute-form target
	} {
		f.Add(s.method, s.target, s.headers, []byte(s.body))
	}
	now := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte) {
		r := serverRequest(method, target, headers, body)
		if r == nil {
			return // the server itself would have answered 400
		}
		sent, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("reading the request's own body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(sent))
		ev, err := Event(r, "req-1", now)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		checkEvent(t, r, sent, ev)
		// The function gets the event as JSON (Invoke marshals it): the body
		// arrives as it left, text being UTF-8 and binary base64. (A header
		// value that is not UTF-8 cannot; JSON has no way to carry it.)
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("the event does not encode: %v", err)
		}
		var got events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("the encoded event does not decode: %v", err)
		}
		if got.Body != ev.Body || got.IsBase64Encoded != ev.IsBase64Encoded {
			t.Fatalf("body %q (base64 %v) arrives as %q (base64 %v)", ev.Body, ev.IsBase64Encoded, got.Body, got.IsBase64Encoded)
		}
	})
}

// serverRequest is the request a net/http server hands its handler for these
// bytes, or nil where it would refuse them.
func serverRequest(method, target, headers string, body []byte) *http.Request {
	var raw strings.Builder
	raw.WriteString(method + " " + target + " HTTP/1.1\r\nHost: api.example.com\r\n")
	for _, line := range strings.Split(headers, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length", "transfer-encoding", "host":
			continue // framing and the authority are the wire's, below
		}
		raw.WriteString(line + "\r\n")
	}
	raw.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	raw.Write(body)
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw.String())))
	if err != nil {
		return nil
	}
	for _, vs := range r.Header {
		for _, v := range vs {
			if !validFieldValue(v) {
				return nil // the server refuses it: 400 Bad Request
			}
		}
	}
	r.RemoteAddr = "203.0.113.9:4711"
	return r
}

// validFieldValue is net/http's check of a header value (httpguts): no control
// characters but tab.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// gatewayHeaders are the headers the gateway sets itself, over the client's.
var gatewayHeaders = []string{"host", "content-length", "x-forwarded-for", "x-forwarded-proto"}

func checkEvent(t *testing.T, r *http.Request, sent []byte, ev events.APIGatewayV2HTTPRequest) {
	c := ev.RequestContext.HTTP
	if c.Method != r.Method {
		t.Fatalf("method %q, sent %q", c.Method, r.Method)
	}
	if ev.RawPath != r.URL.EscapedPath() || c.Path != r.URL.Path {
		t.Fatalf("path %q (raw %q), sent %q (raw %q)", c.Path, ev.RawPath, r.URL.Path, r.URL.EscapedPath())
	}
	if p, err := url.PathUnescape(ev.RawPath); err != nil || p != c.Path {
		t.Fatalf("raw path %q decodes to %q (%v), not the path %q", ev.RawPath, p, err, c.Path)
	}
	if ev.RawQueryString != r.URL.RawQuery {
		t.Fatalf("raw query %q, sent %q", ev.RawQueryString, r.URL.RawQuery)
	}
	// Every parameter Go can decode is there, repeated ones joined with commas
	// as the gateway does, and nothing else.
	params, _ := url.ParseQuery(r.URL.RawQuery)
	want := map[string]string{}
	for k, vs := range params {
		want[k] = strings.Join(vs, ",")
	}
	if len(want) == 0 {
		want = nil
	}
	if !maps.Equal(ev.QueryStringParameters, want) {
		t.Fatalf("query parameters %q, sent %q", ev.QueryStringParameters, want)
	}

	for k, vs := range r.Header {
		name := strings.ToLower(k)
		if name == "cookie" || slices.Contains(gatewayHeaders, name) {
			continue
		}
		if got, ok := ev.Headers[name]; !ok || got != strings.Join(vs, ",") {
			t.Fatalf("header %s = %q, sent %q", name, got, vs)
		}
	}
	// By lower-case name: a name that is not a valid token (a space in it) is
	// not canonicalized, so "A " stays "A " in r.Header and is "a " in the event.
	sentNames := map[string]bool{}
	for k := range r.Header {
		sentNames[strings.ToLower(k)] = true
	}
	for name := range ev.Headers {
		if !sentNames[name] && !slices.Contains(gatewayHeaders, name) {
			t.Fatalf("header %s = %q, not sent", name, ev.Headers[name])
		}
	}
	if ev.Headers["host"] != r.Host {
		t.Fatalf("host %q, sent %q", ev.Headers["host"], r.Host)
	}
	if _, ok := ev.Headers["cookie"]; ok {
		t.Fatalf("a cookie header beside cookies: %q", ev.Headers["cookie"])
	}
	// The cookies are the Cookie header's pieces, in order, none lost.
	noSpace := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) || r == ';' {
				return -1
			}
			return r
		}, s)
	}
	for _, c := range ev.Cookies {
		if c == "" || c != strings.TrimSpace(c) || strings.Contains(c, ";") {
			t.Fatalf("cookie %q", c)
		}
	}
	if a, b := noSpace(strings.Join(ev.Cookies, "")), noSpace(strings.Join(r.Header["Cookie"], "")); a != b {
		t.Fatalf("cookies %q, sent %q", ev.Cookies, r.Header["Cookie"])
	}

	got := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if got, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			t.Fatalf("a base64 body that does not decode: %v", err)
		}
	} else if !utf8.ValidString(ev.Body) {
		t.Fatalf("a text body that is not UTF-8: %q", ev.Body)
	}
	if !bytes.Equal(got, sent) {
		t.Fatalf("body %q (base64 %v), sent %q", got, ev.IsBase64Encoded, sent)
	}
	if len(sent) > 0 && ev.Headers["content-length"] != strconv.Itoa(len(sent)) {
		t.Fatalf("content-length %q for %d bytes", ev.Headers["content-length"], len(sent))
	}
}

// FuzzGatewayResponse turns any invoke payload into the gateway's answer. What
// must hold: no panic; a status from 100 to 599 whose status line and
// Content-Length agree with the answer; the request id on it; a payload that is
// not JSON, or that names a statusCode it cannot stand by (not a number in
// 100..599, a body flagged base64 that is not), is the gateway's own 500; any
// other JSON without a statusCode is a 200 carrying the payload as its body;
// and a valid format 2.0 response comes back as it said: status, body
// (base64-decoded when flagged), each header's value and the cookies.
func FuzzGatewayResponse(f *testing.F) {
	png := "\x89PNG\r\n\x1a\nrest"
	for _, v := range []any{
		events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json", "Server-Timing": "a;dur=1"},
			Body: `{"bucket":"out","filename":"x.jpg"}`},
		events.APIGatewayV2HTTPResponse{StatusCode: 404, Headers: map[string]string{"content-type": "application/json"}, Body: `{"error":{"code":"not_found","message":"no such key"}}`},
		events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"}, Body: base64.StdEncoding.EncodeToString([]byte(png)),
			IsBase64Encoded: true, Cookies: []string{"a=1; Path=/", "b=2"}},
		events.APIGatewayV2HTTPResponse{StatusCode: 201, MultiValueHeaders: map[string][]string{"X-A": {"1", "2"}}},
		map[string]any{"statusCode": 42},
		map[string]any{"statusCode": "200", "body": "x"},
		map[string]any{"statusCode": 200, "body": "%%%", "isBase64Encoded": true},
		map[string]any{"statusCode": 200, "headers": map[string]string{"X-A": "1", "x-a": "2"}},
		map[string]any{"answer": 42},
		map[string]any{"errorMessage": "boom", "errorType": "Runtime.ExitError"},
		"just a string", []int{1, 2}, nil, 12.5,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("Task timed out after 30.00 seconds"))
	f.Add([]byte(`{"statusCode":200,"body":"a"`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		resp := Response(payload, "req-9")
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		s := resp.StatusCode
		if s < 100 || s > 599 || !strings.HasPrefix(resp.Status, strconv.Itoa(s)+" ") {
			t.Fatalf("status %d (%q)", s, resp.Status)
		}
		if resp.ContentLength != int64(len(body)) || resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) || resp.Header.Get(RequestIDHeader) != "req-9" {
			t.Fatalf("a %d-byte body with Content-Length %d (%q), request id %q", len(body), resp.ContentLength, resp.Header.Get("Content-Length"), resp.Header.Get(RequestIDHeader))
		}
		gatewayError := func() {
			if s != http.StatusInternalServerError || string(body) != `{"message":"Internal Server Error"}` {
				t.Fatalf("payload %q: %d %q, want the gateway's 500", payload, s, body)
			}
		}
		var probe map[string]json.RawMessage
		if !json.Valid(payload) {
			gatewayError()
			return
		}
		if json.Unmarshal(payload, &probe) != nil || probe["statusCode"] == nil {
			// Format 2.0 infers a response from JSON without a statusCode.
			if s != http.StatusOK || !bytes.Equal(body, payload) || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("payload %q without a statusCode: %d %q (%q)", payload, s, body, resp.Header.Get("Content-Type"))
			}
			return
		}
		var v events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(payload, &v); err != nil || v.StatusCode < 100 || v.StatusCode > 599 {
			gatewayError()
			return
		}
		want := []byte(v.Body)
		if v.IsBase64Encoded {
			if want, err = base64.StdEncoding.DecodeString(v.Body); err != nil {
				gatewayError()
				return
			}
		}
		if s != v.StatusCode || !bytes.Equal(body, want) {
			t.Fatalf("payload %q: %d %q, want %d %q", payload, s, body, v.StatusCode, want)
		}
		for k, val := range v.Headers {
			if ck := http.CanonicalHeaderKey(k); ck != "Content-Length" && ck != RequestIDHeader && !slices.Contains(resp.Header.Values(k), val) {
				t.Fatalf("payload %q: header %s = %q, want %q among them", payload, k, resp.Header.Values(k), val)
			}
		}
		// Cookies are Set-Cookie headers, after any the headers set.
		if got := resp.Header.Values("Set-Cookie"); len(got) < len(v.Cookies) || !slices.Equal(got[len(got)-len(v.Cookies):], v.Cookies) {
			t.Fatalf("payload %q: Set-Cookie %q, want %q at the end", payload, got, v.Cookies)
		}
	})
}
