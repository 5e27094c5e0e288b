// Package gcffake is an in-process Google Cloud Functions v2 and Cloud Run Admin
// v2 endpoint for tests: one httptest server that the real google.golang.org/api
// clients reach through option.WithEndpoint (Options). It models what forcing a
// cold start needs — functions with their environment, revision and Cloud Run
// service; functions.patch answering a long-running operation; operations.get;
// services.get; functions.list — and records every request, so a test asserts on
// what was sent as well as on what the code did with the answers.
//
// The wire format is the REST one the generated clients speak: JSON bodies,
// resource names in the path after /v2/, errors as {"error": {"code", "message",
// "status", "details"}}.
package gcffake

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"

	cloudfunctions "google.golang.org/api/cloudfunctions/v2"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"
)

// Call is one request the fake received.
type Call struct {
	Method string
	Path   string // without the /v2/ prefix: projects/P/locations/L/functions/F
	Query  url.Values
	Body   []byte
}

// JSON decodes the call's body into v.
func (c Call) JSON(v any) error { return json.Unmarshal(c.Body, v) }

// Server is the fake endpoint.
type Server struct {
	URL string

	// OnNewRevision is called with a function's name whenever a new revision of it
	// starts serving (as an update's operation completes), outside the fake's
	// lock: a test restarts the local instance standing in for it.
	OnNewRevision func(function string)

	// Set before the calls they shape:
	// OperationPolls is how many operations.get answers say "not done" first.
	OperationPolls int
	// RevisionLag is how many functions.get answers, after the operation is done,
	// do not yet show the function ACTIVE on its new revision: the first a stale
	// read (ACTIVE on the old revision), the last (of two or more) DEPLOYING on
	// the new one, any between DEPLOYING on the old one.
	RevisionLag int
	// ServiceLag is how many services.get answers, after that, do not yet show
	// the Cloud Run service serving the new revision: the first a stale read (no
	// new revision yet), the second (of three or more) with the new revision
	// created but not ready and reconciling not yet begun, the last (of two or
	// more) still reconciling though it is ready, any other reconciling with it
	// created, not ready.
	ServiceLag int

	mu        sync.Mutex
	functions map[string]*function
	ops       map[string]*operation
	nextOp    int
	calls     []Call
	listErr   *apiError
}

type function struct {
	fn               cloudfunctions.Function
	svc              run.GoogleCloudRunV2Service
	gen              int
	lag, lagOf       int // functions.get answers left not showing the new revision, of how many
	svcLag, svcLagOf int // services.get answers left not showing it served, of how many
	pinned           bool
	failUpdate       string // the next update's operation fails with this message
	failDeploy       string // the next update leaves the function FAILED with this message
}

type operation struct {
	op       cloudfunctions.Operation
	function string
	env      map[string]string
	polls    int
}

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []any  `json:"details,omitempty"`
}

// New starts a fake closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{functions: map[string]*function{}, ops: map[string]*operation{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Options point the real Cloud Functions and Cloud Run clients at the fake,
// without credentials.
func (s *Server) Options() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(s.URL + "/"), option.WithoutAuthentication()}
}

// AddFunction deploys a function named projects/P/locations/L/functions/F (its
// Cloud Run service is F in the same location), ACTIVE on its first revision,
// serving at url with env.
func (s *Server) AddFunction(name, url string, env map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, short := path.Split(name)
	loc := strings.TrimSuffix(parent, "functions/")
	f := &function{gen: 1}
	f.fn = cloudfunctions.Function{
		Name: name, State: "ACTIVE", Url: url, Environment: "GEN_2",
		ServiceConfig: &cloudfunctions.ServiceConfig{
			Service: loc + "services/" + short, Uri: url, AvailableMemory: "1Gi",
			EnvironmentVariables: maps.Clone(env), Revision: revision(short, 1), AllTrafficOnLatestRevision: true,
		},
	}
	rev := f.fn.ServiceConfig.Service + "/revisions/" + revision(short, 1)
	f.svc = run.GoogleCloudRunV2Service{
		Name: f.fn.ServiceConfig.Service, Uri: url, LatestCreatedRevision: rev, LatestReadyRevision: rev,
		TrafficStatuses:   []*run.GoogleCloudRunV2TrafficTargetStatus{{Type: "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", Percent: 100}},
		TerminalCondition: &run.GoogleCloudRunV2Condition{Type: "Ready", State: "CONDITION_SUCCEEDED"},
	}
	s.functions[name] = f
}

// revision names a revision as Cloud Run does: service-generation-suffix.
func revision(service string, gen int) string {
	return fmt.Sprintf("%s-%05d-%c%c%c", service, gen, 'a'+gen%26, 'k'+gen%13, 'q'+gen%7)
}

// Function is the function as the fake holds it now.
func (s *Server) Function(name string) (cloudfunctions.Function, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.functions[name]
	if !ok {
		return cloudfunctions.Function{}, false
	}
	fn := f.fn
	sc := *f.fn.ServiceConfig
	sc.EnvironmentVariables = maps.Clone(sc.EnvironmentVariables)
	fn.ServiceConfig = &sc
	return fn, true
}

// FailUpdate makes the next update of the function end with its operation
// failed with message (the old revision keeps serving).
func (s *Server) FailUpdate(name, message string) {
	s.set(name, func(f *function) { f.failUpdate = message })
}

// FailDeploy makes the next update's operation succeed but leave the function
// FAILED with message as its state message.
func (s *Server) FailDeploy(name, message string) {
	s.set(name, func(f *function) { f.failDeploy = message })
}

func (s *Server) set(name string, fn func(*function)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.functions[name])
}

// PinTraffic sends all of the function's traffic to its first revision, by name,
// as a service pinned to a revision does: a new revision then never serves.
func (s *Server) PinTraffic(name string) { s.set(name, func(f *function) { f.pinned = true }) }

// FailList makes functions.list answer an error: HTTP code, its gRPC status name,
// and, when reason is set, a google.rpc.ErrorInfo detail with that reason (as
// SERVICE_DISABLED is sent).
func (s *Server) FailList(code int, status, reason, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &apiError{Code: code, Status: status, Message: message}
	if reason != "" {
		e.Details = []any{map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}}
	}
	s.listErr = e
}

// Calls are the requests received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	name, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	if !ok {
		writeError(w, &apiError{Code: 404, Status: "NOT_FOUND", Message: "no such API version: " + r.URL.Path})
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Path: name, Query: r.URL.Query(), Body: body})
	s.mu.Unlock()
	parts := strings.Split(name, "/")
	kind := ""
	if len(parts) >= 5 {
		kind = parts[4]
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 5 && kind == "functions":
		s.list(w)
	case r.Method == http.MethodGet && len(parts) == 6 && kind == "functions":
		s.getFunction(w, name)
	case r.Method == http.MethodPatch && len(parts) == 6 && kind == "functions":
		s.patch(w, r, name, body)
	case r.Method == http.MethodGet && len(parts) == 6 && kind == "operations":
		s.getOperation(w, name)
	case r.Method == http.MethodGet && len(parts) == 6 && kind == "services":
		s.getService(w, name)
	default:
		writeError(w, &apiError{Code: 404, Status: "NOT_FOUND", Message: fmt.Sprintf("the fake has no %s %s", r.Method, name)})
	}
}

func (s *Server) list(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listErr != nil {
		writeError(w, s.listErr)
		return
	}
	var out cloudfunctions.ListFunctionsResponse
	for _, f := range s.functions {
		fn := f.fn
		out.Functions = append(out.Functions, &fn)
	}
	writeJSON(w, out)
}

func (s *Server) getFunction(w http.ResponseWriter, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.functions[name]
	if !ok {
		writeError(w, notFound("function", name))
		return
	}
	if f.lag == 0 {
		writeJSON(w, f.fn)
		return
	}
	i := f.lagOf - f.lag + 1 // 1-based answer within the lag
	f.lag--
	fn := f.fn
	sc := *fn.ServiceConfig
	fn.ServiceConfig = &sc
	switch {
	case i == 1:
		sc.Revision, fn.State = revision(path.Base(sc.Service), f.gen-1), "ACTIVE"
	case i == f.lagOf:
		fn.State = "DEPLOYING"
	default:
		sc.Revision, fn.State = revision(path.Base(sc.Service), f.gen-1), "DEPLOYING"
	}
	writeJSON(w, fn)
}

// patch accepts only what forcing a cold start sends: the environment, by mask.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, name string, body []byte) {
	if m := r.URL.Query().Get("updateMask"); m != "serviceConfig.environmentVariables" {
		writeError(w, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Message: fmt.Sprintf("the fake updates only serviceConfig.environmentVariables, not updateMask=%q", m)})
		return
	}
	var in cloudfunctions.Function
	if err := json.Unmarshal(body, &in); err != nil || in.ServiceConfig == nil {
		writeError(w, &apiError{Code: 400, Status: "INVALID_ARGUMENT", Message: fmt.Sprintf("body is no Function with a serviceConfig: %v", err)})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.functions[name]
	if !ok {
		writeError(w, notFound("function", name))
		return
	}
	if f.fn.State == "DEPLOYING" {
		writeError(w, &apiError{Code: 409, Status: "ABORTED", Message: "An operation on function " + name + " is already in progress."})
		return
	}
	s.nextOp++
	loc := strings.TrimSuffix(path.Dir(path.Dir(name)), "/")
	op := &operation{function: name, env: in.ServiceConfig.EnvironmentVariables}
	op.op = cloudfunctions.Operation{Name: fmt.Sprintf("%s/operations/operation-%d", loc, s.nextOp)}
	s.ops[op.op.Name] = op
	f.fn.State = "DEPLOYING"
	writeJSON(w, op.op)
}

func (s *Server) getOperation(w http.ResponseWriter, name string) {
	s.mu.Lock()
	op, ok := s.ops[name]
	if !ok {
		s.mu.Unlock()
		writeError(w, notFound("operation", name))
		return
	}
	op.polls++
	if op.op.Done || op.polls <= s.OperationPolls {
		out := op.op
		s.mu.Unlock()
		writeJSON(w, out)
		return
	}
	f := s.functions[op.function]
	op.op.Done = true
	rolled := false
	switch {
	case f.failUpdate != "":
		op.op.Error = &cloudfunctions.Status{Code: 3, Message: f.failUpdate}
		f.failUpdate, f.fn.State = "", "ACTIVE"
	default:
		f.gen++
		short := path.Base(f.fn.ServiceConfig.Service)
		f.fn.ServiceConfig.EnvironmentVariables = maps.Clone(op.env)
		f.fn.ServiceConfig.Revision = revision(short, f.gen)
		f.fn.State = "ACTIVE"
		f.lag, f.lagOf, f.svcLag, f.svcLagOf = s.RevisionLag, s.RevisionLag, s.ServiceLag, s.ServiceLag
		if f.failDeploy != "" {
			f.fn.State = "FAILED"
			f.fn.StateMessages = []*cloudfunctions.GoogleCloudFunctionsV2StateMessage{{Severity: "ERROR", Type: "CloudRunServiceNotReady", Message: f.failDeploy}}
			f.failDeploy = ""
		}
		f.svc.LatestCreatedRevision = f.fn.ServiceConfig.Service + "/revisions/" + f.fn.ServiceConfig.Revision
		if f.fn.State == "ACTIVE" {
			f.svc.LatestReadyRevision = f.svc.LatestCreatedRevision
		}
		rolled = f.fn.State == "ACTIVE"
		b, _ := json.Marshal(f.fn)
		op.op.Response = b
	}
	out := op.op
	hook := s.OnNewRevision
	s.mu.Unlock()
	if rolled && hook != nil {
		hook(op.function)
	}
	writeJSON(w, out)
}

func (s *Server) getService(w http.ResponseWriter, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.functions {
		if f.svc.Name != name {
			continue
		}
		svc := f.svc
		if f.pinned {
			svc.TrafficStatuses = []*run.GoogleCloudRunV2TrafficTargetStatus{{Type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
				Revision: svc.Name + "/revisions/" + revision(path.Base(svc.Name), 1), Percent: 100}}
		}
		if f.svcLag > 0 {
			i := f.svcLagOf - f.svcLag + 1
			f.svcLag--
			old := svc.Name + "/revisions/" + revision(path.Base(svc.Name), f.gen-1)
			switch {
			case i == 1:
				svc.LatestCreatedRevision, svc.LatestReadyRevision = old, old
			case i == 2 && f.svcLagOf >= 3:
				svc.LatestReadyRevision = old
			case i == f.svcLagOf:
				svc.Reconciling = true
			default:
				svc.Reconciling, svc.LatestReadyRevision = true, old
			}
		}
		writeJSON(w, svc)
		return
	}
	writeError(w, notFound("service", name))
}

func notFound(kind, name string) *apiError {
	return &apiError{Code: 404, Status: "NOT_FOUND", Message: fmt.Sprintf("Resource '%s' (%s) was not found", name, kind)}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.Code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}
