package awsfake

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
)

// LambdaFunction is a function's configuration as the Lambda fake keeps it.
type LambdaFunction struct {
	Name     string
	MemoryMB int
	Env      map[string]string
	// UpdatePolls is how many GetFunctionConfiguration answers an update stays
	// InProgress for before it ends; 0 ends it at once.
	UpdatePolls int
	// EnvErrorCode, when set, models an environment Lambda cannot decrypt (a KMS
	// key gone): answers carry Environment.Error and no variables.
	EnvErrorCode, EnvErrorMessage string
}

// Lambda models what servebench does to a deployed function: GetAccountSettings,
// GetFunctionConfiguration and UpdateFunctionConfiguration, with updates that
// run InProgress for a while and end Successful or Failed, as "Lambda function
// states" describes (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html):
// during an update, another one is refused with ResourceConflictException; a
// failed update leaves the previous configuration in place.
type Lambda struct {
	// OnUpdate, when set, is called (without the fake's lock) when an update
	// ends Successful, before the answer that says so is sent: the function's
	// instances are replaced, so an end-to-end test restarts its local instance
	// there, and the client sees Successful only once it has.
	OnUpdate func(name string)

	mu                sync.Mutex
	functions         map[string]*lambdaFn
	limit, unreserved int
}

type lambdaFn struct {
	LambdaFunction
	status, reason, reasonCode string
	pollsLeft                  int
	revision                   int
	prev                       LambdaFunction // what an update in progress replaces
	failCode, failReason       string         // the next update fails so
	conflicts                  int            // updates refused before any is taken
	updates                    int            // updates that ended Successful
}

// NewLambda has no functions and an established account's concurrency (1000).
func NewLambda() *Lambda {
	return &Lambda{functions: map[string]*lambdaFn{}, limit: 1000, unreserved: 1000}
}

// AddFunction adds (or replaces) a function, Active with its last update
// Successful.
func (f *Lambda) AddFunction(fn LambdaFunction) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn.Env = maps.Clone(fn.Env)
	f.functions[fn.Name] = &lambdaFn{LambdaFunction: fn, status: "Successful", revision: 1}
}

// Function is the current configuration of a function and how many updates
// ended Successful; ok is false for an unknown name.
func (f *Lambda) Function(name string) (fn LambdaFunction, status string, updates int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.functions[name]
	if !ok {
		return LambdaFunction{}, "", 0, false
	}
	fn = s.LambdaFunction
	fn.Env = maps.Clone(fn.Env)
	return fn, s.status, s.updates, true
}

// FailNextUpdate makes the function's next update end Failed with code (e.g.
// "InvalidImage") and reason.
func (f *Lambda) FailNextUpdate(name, code, reason string) {
	f.withFn(name, func(s *lambdaFn) { s.failCode, s.failReason = code, reason })
}

// ConflictNextUpdates makes the function's next n updates fail with
// ResourceConflictException although its last update looks finished: another
// client's update started between a read and a write.
func (f *Lambda) ConflictNextUpdates(name string, n int) {
	f.withFn(name, func(s *lambdaFn) { s.conflicts = n })
}

// SetAccountLimits sets what GetAccountSettings answers.
func (f *Lambda) SetAccountLimits(limit, unreserved int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit, f.unreserved = limit, unreserved
}

func (f *Lambda) withFn(name string, do func(*lambdaFn)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.functions[name]; ok {
		do(s)
	}
}

// Install registers the fake on srv.
func (f *Lambda) Install(srv *Server) { srv.Handle("lambda", f) }

const (
	lambdaConfigPrefix = "/2015-03-31/functions/"
	lambdaAccountPath  = "/2016-08-19/account-settings"
)

func (f *Lambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if path == lambdaAccountPath && r.Method == http.MethodGet {
		f.accountSettings(w)
		return
	}
	name, ok := strings.CutPrefix(path, lambdaConfigPrefix)
	name, ok2 := strings.CutSuffix(name, "/configuration")
	if !ok || !ok2 || strings.Contains(name, "/") {
		JSONError(w, http.StatusNotFound, "UnknownOperationException", "awsfake: Lambda fakes no "+r.Method+" "+r.URL.Path)
		return
	}
	// The API takes a name or an ARN.
	if _, after, found := strings.Cut(name, ":function:"); found {
		name = after
	}
	// The answer is held back until OnUpdate has run.
	rec := httptest.NewRecorder()
	var done func()
	switch r.Method {
	case http.MethodGet:
		done = f.getConfiguration(rec, name)
	case http.MethodPut:
		done = f.updateConfiguration(rec, r, name)
	default:
		JSONError(rec, http.StatusNotFound, "UnknownOperationException", "awsfake: Lambda fakes no "+r.Method+" "+r.URL.Path)
	}
	if done != nil {
		done()
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (f *Lambda) accountSettings(w http.ResponseWriter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	WriteJSON(w, http.StatusOK, map[string]any{
		"AccountLimit": map[string]any{
			"ConcurrentExecutions":           f.limit,
			"UnreservedConcurrentExecutions": f.unreserved,
			"CodeSizeUnzipped":               262144000,
			"CodeSizeZipped":                 52428800,
			"TotalCodeSize":                  80530636800,
		},
		"AccountUsage": map[string]any{"FunctionCount": len(f.functions), "TotalCodeSize": 0},
	})
}

// getConfiguration answers and advances an update in progress; it returns the
// OnUpdate call to make once the lock is released, if any.
func (f *Lambda) getConfiguration(w http.ResponseWriter, name string) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.functions[name]
	if !ok {
		notFound(w, name)
		return nil
	}
	var done func()
	if s.status == "InProgress" {
		if s.pollsLeft > 0 {
			s.pollsLeft--
		} else {
			done = f.finish(s)
		}
	}
	WriteJSON(w, http.StatusOK, s.configuration())
	return done
}

type lambdaUpdate struct {
	Environment *struct{ Variables map[string]string }
	MemorySize  *int
	RevisionId  string
}

func (f *Lambda) updateConfiguration(w http.ResponseWriter, r *http.Request, name string) func() {
	var u lambdaUpdate
	if err := json.Unmarshal(CallFrom(r).Body, &u); err != nil {
		JSONError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.functions[name]
	switch {
	case !ok:
		notFound(w, name)
		return nil
	case s.conflicts > 0 || s.status == "InProgress":
		if s.conflicts > 0 {
			s.conflicts--
		}
		JSONError(w, http.StatusConflict, "ResourceConflictException",
			"The operation cannot be performed at this time. An update is in progress for resource: "+lambdaARN(name))
		return nil
	case u.RevisionId != "" && u.RevisionId != s.revisionID():
		JSONError(w, http.StatusPreconditionFailed, "PreconditionFailedException",
			"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
		return nil
	case u.MemorySize != nil && (*u.MemorySize < 128 || *u.MemorySize > 10240):
		JSONError(w, http.StatusBadRequest, "InvalidParameterValueException",
			"'MemorySize' value failed to satisfy constraint: Member must have value between 128 and 10240")
		return nil
	}
	s.prev = s.LambdaFunction
	s.prev.Env = maps.Clone(s.Env)
	if u.Environment != nil {
		// The variables given replace all of them: one left out is gone.
		s.Env = maps.Clone(u.Environment.Variables)
	}
	if u.MemorySize != nil {
		s.MemoryMB = *u.MemorySize
	}
	s.revision++
	s.status, s.reason, s.reasonCode = "InProgress", "", ""
	s.pollsLeft = s.UpdatePolls
	var done func()
	if s.UpdatePolls == 0 {
		done = f.finish(s)
	}
	WriteJSON(w, http.StatusOK, s.configuration())
	return done
}

// finish ends s's update in progress.
func (f *Lambda) finish(s *lambdaFn) func() {
	if s.failCode != "" {
		s.LambdaFunction = s.prev
		s.status, s.reasonCode, s.reason = "Failed", s.failCode, s.failReason
		s.failCode, s.failReason = "", ""
		return nil
	}
	s.status = "Successful"
	s.updates++
	if f.OnUpdate == nil {
		return nil
	}
	hook, name := f.OnUpdate, s.Name
	return func() { hook(name) }
}

func (s *lambdaFn) revisionID() string { return "rev-" + strconv.Itoa(s.revision) }

func (s *lambdaFn) configuration() map[string]any {
	c := map[string]any{
		"FunctionName":     s.Name,
		"FunctionArn":      lambdaARN(s.Name),
		"MemorySize":       s.MemoryMB,
		"PackageType":      "Image",
		"State":            "Active",
		"LastUpdateStatus": s.status,
		"RevisionId":       s.revisionID(),
	}
	switch {
	case s.EnvErrorCode != "":
		c["Environment"] = map[string]any{"Error": map[string]string{"ErrorCode": s.EnvErrorCode, "Message": s.EnvErrorMessage}}
	case len(s.Env) > 0:
		c["Environment"] = map[string]any{"Variables": s.Env}
	}
	if s.reason != "" {
		c["LastUpdateStatusReason"] = s.reason
		c["LastUpdateStatusReasonCode"] = s.reasonCode
	}
	return c
}

func lambdaARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + FakeAccount + ":function:" + name
}

func notFound(w http.ResponseWriter, name string) {
	JSONError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+lambdaARN(name))
}
