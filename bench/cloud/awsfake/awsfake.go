// Package awsfake is an in-process AWS endpoint for tests: one httptest server that
// the real aws-sdk-go-v2 clients reach through their BaseEndpoint. Each request goes
// to the handler registered for the service named in its SigV4 credential scope
// (".../us-east-1/lambda/aws4_request"), so one URL serves every client, whatever
// protocol the service speaks (JSON with X-Amz-Target, awsQuery forms, REST-JSON).
//
// Every request is recorded (service, operation, body), so a test asserts on what
// was sent as well as on what the code under test did with the answers.
package awsfake

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region the fake answers for.
const Region = "us-east-1"

// Call is one request the fake received.
type Call struct {
	Service   string // from the credential scope: "lambda", "ecs", "sts", ...
	Operation string // X-Amz-Target's operation, the form's Action, else "METHOD /path"
	Method    string
	Path      string
	Body      []byte     // as sent
	Form      url.Values // awsQuery services: the parsed form
}

// JSON decodes the call's body into v (JSON services).
func (c Call) JSON(v any) error { return json.Unmarshal(c.Body, v) }

// Server is the fake endpoint.
type Server struct {
	URL string

	mu       sync.Mutex
	handlers map[string]http.Handler
	calls    []Call
	denied   map[string]bool // "service Operation"
}

// New starts a fake closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{handlers: map[string]http.Handler{}, denied: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Handle routes requests for one service (its SigV4 signing name) to h. Inside h,
// CallFrom(r) gives the parsed call.
func (s *Server) Handle(service string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[service] = h
}

// Deny makes every later call of operation on service (its signing name) answer
// AccessDenied, as AWS does when the caller's policies do not allow it.
func (s *Server) Deny(service, operation string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[service+" "+operation] = true
}

// Config is an aws.Config that sends every client to the fake with static
// credentials and no retries (a test sees every answer as it was given).
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKE", "secret", ""),
		BaseEndpoint: aws.String(s.URL),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// Calls returns the calls to a service ("" for all), in order.
func (s *Server) Calls(service string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if service == "" || c.Service == service {
			out = append(out, c)
		}
	}
	return out
}

// Operations lists a service's operations in the order they were called.
func (s *Server) Operations(service string) []string {
	var out []string
	for _, c := range s.Calls(service) {
		out = append(out, c.Operation)
	}
	return out
}

var scope = regexp.MustCompile(`Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request`)

type callKey struct{}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	m := scope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		http.Error(w, "awsfake: request not signed with SigV4", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := Call{Service: m[1], Method: r.Method, Path: r.URL.Path, Body: body}
	switch target := r.Header.Get("X-Amz-Target"); {
	case target != "":
		c.Operation = target[strings.LastIndex(target, ".")+1:]
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		c.Form, _ = url.ParseQuery(string(body))
		c.Operation = c.Form.Get("Action")
	default:
		c.Operation = r.Method + " " + r.URL.Path
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	h := s.handlers[c.Service]
	denied := s.denied[c.Service+" "+c.Operation]
	s.mu.Unlock()
	if denied {
		msg := fmt.Sprintf("User: arn:aws:iam::%s:user/tester is not authorized to perform: %s:%s", FakeAccount, c.Service, c.Operation)
		if c.Form != nil {
			QueryError(w, http.StatusForbidden, "AccessDenied", msg)
		} else {
			JSONError(w, http.StatusBadRequest, "AccessDeniedException", msg)
		}
		return
	}
	if h == nil {
		JSONError(w, http.StatusBadRequest, "UnknownOperationException", "awsfake: no fake for service "+c.Service)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h.ServeHTTP(w, r.WithContext(contextWith(r, c)))
}

// CallFrom is the parsed call of a request a handler is serving.
func CallFrom(r *http.Request) Call {
	c, _ := r.Context().Value(callKey{}).(Call)
	return c
}

// WriteJSON answers a JSON or REST-JSON service with status and v.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// JSONError is a JSON or REST-JSON service's error: the SDKs read the code from
// X-Amzn-ErrorType and __type.
func JSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	WriteJSON(w, status, map[string]string{"__type": code, "message": message})
}

// WriteQuery answers an awsQuery service (STS, IAM, Auto Scaling, ELBv2):
// <OpResponse><OpResult>result</OpResult></OpResponse>. result is marshalled by
// encoding/xml, so its fields carry the service's member names as xml tags.
func WriteQuery(w http.ResponseWriter, operation string, result any) {
	inner, err := xml.Marshal(result)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// The result's own element name is replaced by OpResult.
	if i := bytes.IndexByte(inner, '>'); i >= 0 && inner[0] == '<' {
		end := bytes.LastIndex(inner, []byte("</"))
		inner = inner[i+1 : end]
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, "<%sResponse><%sResult>%s</%sResult><ResponseMetadata><RequestId>awsfake</RequestId></ResponseMetadata></%sResponse>",
		operation, operation, inner, operation, operation)
}

// QueryError is an awsQuery service's error.
func QueryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>awsfake</RequestId></ErrorResponse>",
		code, xmlEscape(message))
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
