package gcf

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/cloud/gcf/gcffake"
	"github.com/servebench/servebench/bench/scenario"
)

const predict = "projects/proj/locations/us-central1/functions/servebench-serverless-predict-1024"

// Both satisfy the scenario's Coldable, so a target can carry them.
var (
	_ scenario.Coldable = (*Function)(nil)
	_ scenario.Coldable = Functions(nil)
)

type hooked struct {
	mu    sync.Mutex
	names []string
}

func (h *hooked) add(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.names = append(h.names, name)
}

func (h *hooked) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.names...)
}

// fakeWith starts the fake with the functions deployed and a hook recording
// every new revision.
func fakeWith(t *testing.T, names ...string) (*gcffake.Server, *hooked) {
	s := gcffake.New(t)
	h := &hooked{}
	s.OnNewRevision = h.add
	for _, n := range names {
		s.AddFunction(n, "https://"+n[strings.LastIndex(n, "/")+1:]+"-0abc-uc.a.run.app",
			map[string]string{"SERVEBENCH_BACKEND": "gomlx", "SERVEBENCH_INPUT": "gs://in", ColdVar: "1"})
	}
	return s, h
}

func function(t *testing.T, s *gcffake.Server, name string, withRun bool) *Function {
	t.Helper()
	fns, r, err := NewClients(context.Background(), s.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	f := &Function{Name: name, Svc: fns, Poll: time.Millisecond, Timeout: time.Minute, Log: slog.New(slog.DiscardHandler)}
	if withRun {
		f.Run = r
	}
	return f
}

// ops lists the calls as "METHOD path" in order.
func ops(calls []gcffake.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Method+" "+c.Path)
	}
	return out
}

func TestCloudForceColdChangesEnvAndWaitsForTheNewRevision(t *testing.T) {
	s, h := fakeWith(t, predict)
	s.OperationPolls, s.RevisionLag, s.ServiceLag = 2, 3, 4
	before, _ := s.Function(predict)
	if err := function(t, s, predict, true).ForceCold(context.Background()); err != nil {
		t.Fatal(err)
	}
	calls := s.Calls()
	op := "projects/proj/locations/us-central1/operations/operation-1"
	svc := "projects/proj/locations/us-central1/services/servebench-serverless-predict-1024"
	want := []string{
		"GET " + predict, "PATCH " + predict,
		"GET " + op, "GET " + op, "GET " + op, // not done twice, then done
		// ACTIVE on the old revision (stale), DEPLOYING on the old, DEPLOYING on
		// the new, then ACTIVE on the new.
		"GET " + predict, "GET " + predict, "GET " + predict, "GET " + predict,
		// No new revision yet (stale), created but not ready (twice: before and
		// while reconciling), ready but still reconciling, then serving it.
		"GET " + svc, "GET " + svc, "GET " + svc, "GET " + svc, "GET " + svc,
	}
	if fmt.Sprint(ops(calls)) != fmt.Sprint(want) {
		t.Fatalf("calls\n%s\nwant\n%s", strings.Join(ops(calls), "\n"), strings.Join(want, "\n"))
	}
	patch := calls[1]
	if m := patch.Query.Get("updateMask"); m != "serviceConfig.environmentVariables" {
		t.Errorf("updateMask %q", m)
	}
	// The body carries the whole environment and nothing else: every other
	// variable kept, only ColdVar changed.
	var body map[string]map[string]map[string]string
	if err := json.Unmarshal(patch.Body, &body); err != nil || len(body) != 1 || len(body["serviceConfig"]) != 1 {
		t.Fatalf("patch body %s (%v): want only serviceConfig.environmentVariables", patch.Body, err)
	}
	env := body["serviceConfig"]["environmentVariables"]
	if len(env) != 3 || env["SERVEBENCH_BACKEND"] != "gomlx" || env["SERVEBENCH_INPUT"] != "gs://in" || env[ColdVar] != "2" {
		t.Errorf("patched environment %v", env)
	}
	after, _ := s.Function(predict)
	if after.ServiceConfig.Revision == before.ServiceConfig.Revision || after.ServiceConfig.EnvironmentVariables[ColdVar] != env[ColdVar] {
		t.Errorf("revision %s → %s, env %v", before.ServiceConfig.Revision, after.ServiceConfig.Revision, after.ServiceConfig.EnvironmentVariables)
	}
	if fmt.Sprint(h.list()) != "["+predict+"]" {
		t.Errorf("new revisions %v", h.list())
	}
	// A second force changes the value again.
	if err := function(t, s, predict, false).ForceCold(context.Background()); err != nil {
		t.Fatal(err)
	}
	again, _ := s.Function(predict)
	if again.ServiceConfig.EnvironmentVariables[ColdVar] != "3" || again.ServiceConfig.Revision == after.ServiceConfig.Revision {
		t.Errorf("second force: env %v revision %s", again.ServiceConfig.EnvironmentVariables, again.ServiceConfig.Revision)
	}
}

// Without a Cloud Run client the function's own state is trusted: no services
// call. A function never forced before gets its first count.
func TestCloudForceColdWithoutRun(t *testing.T) {
	s, h := fakeWith(t)
	s.AddFunction(predict, "https://p.a.run.app", map[string]string{"SERVEBENCH_BACKEND": "gomlx"})
	if err := function(t, s, predict, false).ForceCold(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Calls() {
		if strings.Contains(c.Path, "/services/") {
			t.Errorf("called %s %s without a Run client", c.Method, c.Path)
		}
	}
	fn, _ := s.Function(predict)
	if env := fn.ServiceConfig.EnvironmentVariables; len(env) != 2 || env[ColdVar] != "1" || env["SERVEBENCH_BACKEND"] != "gomlx" {
		t.Errorf("environment %v", env)
	}
	if len(h.list()) != 1 {
		t.Errorf("new revisions %v", h.list())
	}
}

func TestCloudForceColdFailures(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(*gcffake.Server)
		fn    string
		want  string
	}{
		{"operation error", func(s *gcffake.Server) { s.FailUpdate(predict, "Build failed: go.mod requires go >= 1.27") }, predict,
			"the update failed: Build failed: go.mod requires go >= 1.27 (code 3)"},
		{"function failed", func(s *gcffake.Server) { s.FailDeploy(predict, "Container failed to start and listen on PORT=8080") }, predict,
			"the function is FAILED after the update: ERROR CloudRunServiceNotReady: Container failed to start and listen on PORT=8080"},
		{"no such function", func(*gcffake.Server) {}, predict + "x", "get the function: googleapi: Error 404"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, h := fakeWith(t, predict)
			c.setup(s)
			err := function(t, s, c.fn, true).ForceCold(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "force "+c.fn+" cold") {
				t.Errorf("err = %v, want it to say %q", err, c.want)
			}
			if len(h.list()) != 0 {
				t.Errorf("new revisions %v after a failure", h.list())
			}
		})
	}
}

// cancelAfter runs ForceCold and cancels it once the fake has received n GETs of
// path (so has answered n-1): what it last saw is then known, whatever the
// machine's speed.
func cancelAfter(t *testing.T, s *gcffake.Server, f *Function, path string, n int) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.ForceCold(ctx) }()
	for {
		seen := 0
		for _, c := range s.Calls() {
			if c.Method == http.MethodGet && c.Path == path {
				seen++
			}
		}
		if seen >= n {
			cancel()
			return <-done
		}
		select {
		case err := <-done:
			t.Fatalf("ForceCold returned before %d calls to %s: %v", n, path, err)
		case <-time.After(time.Millisecond):
		}
	}
}

// A revision that never comes is given up on, and the error says what was last
// seen.
func TestCloudForceColdGivesUp(t *testing.T) {
	s, _ := fakeWith(t, predict)
	s.RevisionLag = 1 << 30
	// The first GET is before the update; the third, the second poll, sees the
	// function DEPLOYING on its old revision (the first poll, a stale ACTIVE).
	err := cancelAfter(t, s, function(t, s, predict, true), predict, 4)
	if err == nil || !strings.Contains(err.Error(), "gave up waiting for a new revision (was servebench-serverless-predict-1024-00001-") ||
		!strings.Contains(err.Error(), "last seen: state DEPLOYING, revision servebench-serverless-predict-1024-00001-") ||
		!strings.Contains(err.Error(), "context canceled") {
		t.Errorf("err = %v", err)
	}
	// Timeout bounds the waits by itself.
	f := function(t, s, predict, true)
	f.Timeout = 20 * time.Millisecond
	if err := f.ForceCold(context.Background()); err == nil || !strings.Contains(err.Error(), "gave up waiting for ") ||
		!strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("with a timeout: err = %v", err)
	}
}

// A new revision that never gets the traffic (the service pinned to the old
// one) is not taken for serving.
func TestCloudForceColdWaitsForTraffic(t *testing.T) {
	s, _ := fakeWith(t, predict)
	s.PinTraffic(predict)
	svc := "projects/proj/locations/us-central1/services/servebench-serverless-predict-1024"
	err := cancelAfter(t, s, function(t, s, predict, true), svc, 3)
	if err == nil || !strings.Contains(err.Error(), "gave up waiting for Cloud Run service "+svc+" to serve revision servebench-serverless-predict-1024-00002-") ||
		!strings.Contains(err.Error(), "reconciling false, latest ready servebench-serverless-predict-1024-00002-cms, latest created servebench-serverless-predict-1024-00002-cms, 0 % of traffic on the latest") {
		t.Errorf("err = %v", err)
	}
}

// Functions forces every function of a target, each once, and reports each failure.
func TestCloudFunctionsForceColdEvery(t *testing.T) {
	train := strings.Replace(predict, "predict-1024", "faces-train-1024", 1)
	upload := strings.Replace(predict, "predict-1024", "faces-upload-1024", 1)
	s, h := fakeWith(t, predict, train, upload)
	clients := function(t, s, predict, true)
	fs := ForNames("proj", "us-central1", map[string]string{"/predict": "servebench-serverless-predict-1024",
		"/faces/train": "servebench-serverless-faces-train-1024", "/faces/upload": "servebench-serverless-faces-upload-1024"}, clients.Svc, clients.Run)
	var names []string
	for _, f := range fs {
		f.Poll, f.Log = time.Millisecond, clients.Log
		names = append(names, f.Name)
	}
	if fmt.Sprint(names) != fmt.Sprint([]string{train, upload, predict}) {
		t.Fatalf("functions %v", names)
	}
	if err := fs.ForceCold(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, n := range h.list() {
		got[n]++
	}
	if len(got) != 3 || got[predict] != 1 || got[train] != 1 || got[upload] != 1 {
		t.Errorf("new revisions %v", got)
	}
	s.FailUpdate(train, "quota exceeded")
	err := fs.ForceCold(context.Background())
	if err == nil || !strings.Contains(err.Error(), "force "+train+" cold: the update failed: quota exceeded") || strings.Contains(err.Error(), predict) {
		t.Errorf("err = %v", err)
	}
	if n := len(h.list()); n != 5 {
		t.Errorf("%d new revisions, want 3 + the 2 that did not fail", n)
	}
}

func TestCloudPreflight(t *testing.T) {
	s, _ := fakeWith(t, predict)
	if err := Preflight(context.Background(), "proj", s.Options()...); err != nil {
		t.Fatal(err)
	}
	calls := s.Calls()
	if len(calls) != 1 || calls[0].Method != http.MethodGet || calls[0].Path != "projects/proj/locations/-/functions" || calls[0].Query.Get("pageSize") != "1" {
		t.Errorf("calls %+v", calls)
	}
}

func TestCloudPreflightRefusals(t *testing.T) {
	for _, c := range []struct {
		name                          string
		code                          int
		status, reason, message, want string
	}{
		{"API disabled", 403, "PERMISSION_DENIED", "SERVICE_DISABLED", "Cloud Functions API has not been used in project proj before or it is disabled.",
			"the Cloud Functions API is not enabled (Cloud Functions API has not been used in project proj before or it is disabled.): run `gcloud services enable cloudfunctions.googleapis.com run.googleapis.com cloudbuild.googleapis.com artifactregistry.googleapis.com --project proj`"},
		{"no permission", 403, "PERMISSION_DENIED", "", "Permission 'cloudfunctions.functions.list' denied on 'projects/proj/locations/-/functions'",
			"permission denied (Permission 'cloudfunctions.functions.list' denied on 'projects/proj/locations/-/functions'): the account needs roles/cloudfunctions.developer"},
		{"no project", 404, "NOT_FOUND", "", "Project 'proj' not found.", "not found (Project 'proj' not found.): check gcp:project"},
		{"refused", 401, "UNAUTHENTICATED", "", "Request had invalid authentication credentials.", "the credentials were refused (Request had invalid authentication credentials.): run `gcloud auth application-default login` again"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := gcffake.New(t)
			s.FailList(c.code, c.status, c.reason, c.message)
			err := Preflight(context.Background(), "proj", s.Options()...)
			if err == nil || !strings.Contains(err.Error(), "google cloud project proj: "+c.want) {
				t.Errorf("err = %v\nwant it to say %q", err, c.want)
			}
		})
	}
	if err := Preflight(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "pulumi config set gcp:project") {
		t.Errorf("no project: err = %v", err)
	}
}

// With no Application Default Credentials anywhere (no variable, no gcloud file),
// the preflight says how to get them, before any request.
func TestCloudPreflightNoCredentials(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("CLOUDSDK_CONFIG", dir)
	t.Setenv("HOME", dir)
	s := gcffake.New(t)
	// The fake's endpoint but no WithoutAuthentication: credentials are looked for.
	err := Preflight(context.Background(), "proj", s.Options()[0])
	if err == nil || !strings.Contains(err.Error(), "run `gcloud auth application-default login`") || !strings.Contains(err.Error(), "could not find default credentials") {
		t.Errorf("err = %v", err)
	}
	if n := len(s.Calls()); n != 0 {
		t.Errorf("%d requests sent without credentials", n)
	}
}
