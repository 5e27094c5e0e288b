package lambdaemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// InvocationsPath is where the emulator takes invokes: the Lambda Invoke API's path
// for its one function.
const InvocationsPath = "/2015-03-31/functions/function/invocations"

// Gateway stands in for API Gateway's HTTP API in front of one emulated function.
type Gateway struct {
	Client  *http.Client  // nil: a client without keep-alive limits or timeout of its own
	Timeout time.Duration // integration timeout; 0 means IntegrationTimeout
}

// Invoke is Gateway{}.Invoke: API Gateway's defaults.
func Invoke(ctx context.Context, endpointURL string, r *http.Request) (*http.Response, error) {
	return (&Gateway{}).Invoke(ctx, endpointURL, r)
}

// Invoke sends r to the function behind the emulator at endpointURL (its base URL,
// such as http://127.0.0.1:9000) as the gateway would, and returns the gateway's
// answer, whose Apigw-Requestid header names the request id of the emulator's
// REPORT line for it. A function error or an answer that is not a format 2.0
// response is a 500 answer and the integration timeout a 503, as the gateway
// gives them; an error is returned only when the emulator could not be reached or
// ctx ended.
func (g *Gateway) Invoke(ctx context.Context, endpointURL string, r *http.Request) (*http.Response, error) {
	id := NewRequestID()
	ev, err := Event(r, id, time.Now())
	if errors.Is(err, ErrPayloadTooLarge) {
		return GatewayError(http.StatusRequestEntityTooLarge, id), nil
	}
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("invoke %s %s: encode event: %w", r.Method, r.URL.Path, err)
	}
	limit := g.Timeout
	if limit == 0 {
		limit = IntegrationTimeout
	}
	ictx, cancel := context.WithTimeoutCause(ctx, limit, errIntegrationTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ictx, http.MethodPost, strings.TrimSuffix(endpointURL, "/")+InvocationsPath, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("invoke %s %s: %w", r.Method, r.URL.Path, err)
	}
	// The emulator names the invocation after this header: its START, END and
	// REPORT lines carry it, which joins them to this request.
	req.Header.Set("X-Amzn-RequestId", id)
	req.Header.Set("Content-Type", "application/json")
	client := g.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	var out []byte
	if err == nil {
		out, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
	}
	switch {
	case err != nil && ctx.Err() == nil && errors.Is(context.Cause(ictx), errIntegrationTimeout):
		return GatewayError(http.StatusServiceUnavailable, id), nil
	case err != nil:
		return nil, fmt.Errorf("invoke %s %s at %s: %w", r.Method, r.URL.Path, endpointURL, err)
	case resp.StatusCode != http.StatusOK || functionError(out):
		return GatewayError(http.StatusInternalServerError, id), nil
	}
	return Response(out, id), nil
}

var errIntegrationTimeout = errors.New("integration timeout")

// functionError reports an invoke payload that is the runtime's error report (the
// function failed or timed out), which Lambda flags with X-Amz-Function-Error and
// the emulator does not: {"errorMessage", "errorType"}, or its plain "Task timed
// out after N seconds".
func functionError(payload []byte) bool {
	if bytes.HasPrefix(payload, []byte("Task timed out")) {
		return true
	}
	var e struct {
		StatusCode   *int   `json:"statusCode"`
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	return json.Unmarshal(payload, &e) == nil && e.StatusCode == nil && (e.ErrorMessage != "" || e.ErrorType != "")
}

// NewRequestID returns a random request id in Lambda's UUID form.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
