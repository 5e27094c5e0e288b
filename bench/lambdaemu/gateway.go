// Package lambdaemu runs a Lambda function's bootstrap under the AWS Lambda Runtime
// Interface Emulator (aws-lambda-rie) and speaks to it as an API Gateway HTTP API
// does: an http.Request becomes a payload format 2.0 event, the function's answer
// becomes an HTTP answer again, and the emulator's REPORT lines give each request's
// platform figures (duration, billed duration, init duration).
//
// The emulator runs the bootstrap as Lambda does: one request at a time, the
// bootstrap started (init) on the first invoke.
package lambdaemu

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// IntegrationTimeout is API Gateway HTTP API's fixed limit for a Lambda
// integration; past it the gateway answers 503 whatever the function does.
const IntegrationTimeout = 30 * time.Second

// RequestIDHeader is the header API Gateway HTTP API puts its request id in on
// every answer; here it is also the Lambda request id the REPORT lines carry.
const RequestIDHeader = "Apigw-Requestid"

// MaxPayloadBytes is an HTTP API's payload quota (10 MB, not adjustable): a
// larger request body never reaches the function; the gateway answers 413.
const MaxPayloadBytes = 10 << 20

// ErrPayloadTooLarge is Event's error for a body over MaxPayloadBytes.
var ErrPayloadTooLarge = errors.New("request body over the gateway's 10 MB payload quota")

// Event turns r into the API Gateway HTTP API (payload format 2.0) event the
// gateway would send for it on its $default route: header names lower-cased and
// repeated values joined with commas, the Cookie header moved to cookies, the raw
// query kept, and a body that is not text base64-encoded (multipart uploads,
// images). It reads r.Body, at most MaxPayloadBytes of it (ErrPayloadTooLarge
// beyond).
func Event(r *http.Request, requestID string, now time.Time) (events.APIGatewayV2HTTPRequest, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1)); err != nil {
			return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("event for %s %s: read body: %w", r.Method, r.URL.Path, err)
		}
		if len(body) > MaxPayloadBytes {
			return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("event for %s %s: %w", r.Method, r.URL.Path, ErrPayloadTooLarge)
		}
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		name := strings.ToLower(k)
		if name == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[name] = strings.Join(vs, ",")
	}
	headers["host"] = host
	if len(body) > 0 {
		headers["content-length"] = strconv.Itoa(len(body))
	}
	sourceIP := "127.0.0.1"
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = h
	}
	headers["x-forwarded-for"] = sourceIP
	headers["x-forwarded-proto"] = "http"
	var query map[string]string
	if r.URL.RawQuery != "" {
		// Repeated parameters are joined with commas, as the gateway does. A
		// query Go cannot wholly decode (a bad escape, a ';') is no reason to
		// fail the request: the function reads rawQueryString, and the
		// parameters that do decode are passed on.
		q, _ := url.ParseQuery(r.URL.RawQuery)
		query = map[string]string{}
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              "$default",
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "$default",
			AccountID:    "123456789012",
			Stage:        "$default",
			RequestID:    requestID,
			APIID:        "local",
			DomainName:   host,
			DomainPrefix: strings.SplitN(host, ".", 2)[0],
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type"), body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev, nil
}

// isText reports whether the gateway passes a body of this type as text: text/*,
// JSON, XML and JavaScript that are valid UTF-8. Everything else, multipart and
// form bodies included, arrives base64-encoded.
func isText(contentType string, body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript":
		return true
	}
	return false
}

// Response turns the function's answer (the invoke payload) into the HTTP answer
// the gateway gives: status, headers, cookies as Set-Cookie, the body decoded when
// isBase64Encoded. As the gateway does for format 2.0, a JSON answer without a
// statusCode (any JSON value but an object that has one) is itself the body of a
// 200 answer, and multiValueHeaders (a format 1.0 field) are ignored. An answer
// it cannot read is a 500.
func Response(payload []byte, requestID string) *http.Response {
	var v events.APIGatewayV2HTTPResponse
	var probe map[string]json.RawMessage
	if !json.Valid(payload) {
		return GatewayError(http.StatusInternalServerError, requestID)
	}
	// Only an object fills probe: a string, number, array or null is valid
	// JSON without a statusCode too, and inferred as such.
	_ = json.Unmarshal(payload, &probe)
	if _, ok := probe["statusCode"]; !ok {
		v = events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(payload)}
	} else if err := json.Unmarshal(payload, &v); err != nil || v.StatusCode < 100 || v.StatusCode > 599 {
		return GatewayError(http.StatusInternalServerError, requestID)
	}
	body := []byte(v.Body)
	if v.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(v.Body)
		if err != nil {
			return GatewayError(http.StatusInternalServerError, requestID)
		}
		body = b
	}
	h := http.Header{}
	// Sorted, and added: names that differ only in case are one HTTP header,
	// whose values are then all kept, in the same order every time, instead
	// of one picked by map order.
	for _, k := range slices.Sorted(maps.Keys(v.Headers)) {
		h.Add(k, v.Headers[k])
	}
	for _, c := range v.Cookies {
		h.Add("Set-Cookie", c)
	}
	return answer(v.StatusCode, h, body, requestID)
}

// GatewayError is the gateway's own answer when the integration fails: 500
// {"message":"Internal Server Error"} for a function error or unreadable answer,
// 503 {"message":"Service Unavailable"} when the integration timed out; and 413
// {"message":"Request Entity Too Large"} for a body over its quota.
func GatewayError(status int, requestID string) *http.Response {
	msg, _ := json.Marshal(map[string]string{"message": http.StatusText(status)})
	return answer(status, http.Header{"Content-Type": {"application/json"}}, msg, requestID)
}

func answer(status int, h http.Header, body []byte, requestID string) *http.Response {
	h.Set(RequestIDHeader, requestID)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return &http.Response{
		Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
	}
}
