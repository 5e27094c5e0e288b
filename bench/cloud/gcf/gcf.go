// Package gcf forces Google Cloud Functions (2nd gen) cold and checks that a
// project can be used, through the Cloud Functions v2 API and, for the serving
// check, the Cloud Run Admin v2 API (a 2nd gen function runs as a Cloud Run
// service).
//
// A cold start is forced as SeBS does it: change an environment variable, which
// makes a new revision, and wait until that revision serves all traffic. The
// REST calls and fields relied on:
//   - functions.get / functions.patch with updateMask (the patch answers a
//     long-running Operation):
//     https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions/patch
//   - Function.state (ACTIVE = "successfully deployed and is serving") and
//     serviceConfig.revision, serviceConfig.service:
//     https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions#Function
//   - operations.get until done, then error or response:
//     https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.operations/get
//   - Cloud Run services.get: once reconciling is false and it succeeded,
//     latestReadyRevision equals latestCreatedRevision and trafficStatuses say
//     where traffic goes:
//     https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services#Service
//   - functions.list with location "-" for every location (the preflight):
//     https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions/list
package gcf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cloudfunctions "google.golang.org/api/cloudfunctions/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"
)

// ColdVar is the environment variable ForceCold changes; the service ignores it.
const ColdVar = "SERVEBENCH_COLD_EPOCH"

// Waits: a Cloud Functions update rebuilds and rolls out a revision, which takes
// a minute or a few.
const (
	DefaultPoll    = 5 * time.Second
	DefaultTimeout = 10 * time.Minute
)

// envMask is the only field ForceCold changes.
const envMask = "serviceConfig.environmentVariables"

// Name is the resource name of function fn: projects/P/locations/L/functions/F.
func Name(project, region, fn string) string {
	return fmt.Sprintf("projects/%s/locations/%s/functions/%s", project, region, fn)
}

// NewClients makes the Cloud Functions and Cloud Run clients with opts (a test
// passes its fake's endpoint; without options they use Application Default
// Credentials).
func NewClients(ctx context.Context, opts ...option.ClientOption) (*cloudfunctions.Service, *run.Service, error) {
	fns, err := cloudfunctions.NewService(ctx, opts...)
	if err != nil {
		return nil, nil, credentialsHint(err)
	}
	r, err := run.NewService(ctx, opts...)
	if err != nil {
		return nil, nil, credentialsHint(err)
	}
	return fns, r, nil
}

func credentialsHint(err error) error {
	return fmt.Errorf("google cloud: no usable credentials: %w; run `gcloud auth application-default login` "+
		"(or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file)", err)
}

// Function is one deployed Cloud Function.
type Function struct {
	Name string // projects/P/locations/L/functions/F
	Svc  *cloudfunctions.Service
	// Run, when set, also checks through Cloud Run that the new revision is the
	// latest ready one and has all the traffic; nil trusts the function's state.
	Run           *run.Service
	Poll, Timeout time.Duration // zero: DefaultPoll, DefaultTimeout (Timeout bounds the waits after the update)
	Log           *slog.Logger  // nil: slog.Default()
}

// ForceCold implements scenario.Coldable: it changes ColdVar (keeping every other
// variable), waits for the update's operation, then until the function is ACTIVE
// on a new revision (and, with Run, that revision serves all traffic). Requests
// sent after it returns start new instances.
func (f *Function) ForceCold(ctx context.Context) error {
	start := time.Now()
	fn, err := f.Svc.Projects.Locations.Functions.Get(f.Name).Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("force %s cold: get the function: %w", f.Name, err)
	}
	if fn.ServiceConfig == nil {
		return fmt.Errorf("force %s cold: the function has no serviceConfig (is it a 2nd gen function?)", f.Name)
	}
	old := fn.ServiceConfig.Revision
	env := maps.Clone(fn.ServiceConfig.EnvironmentVariables)
	if env == nil {
		env = map[string]string{}
	}
	env[ColdVar] = epoch(env[ColdVar])
	op, err := f.Svc.Projects.Locations.Functions.Patch(f.Name, &cloudfunctions.Function{
		ServiceConfig: &cloudfunctions.ServiceConfig{EnvironmentVariables: env},
	}).UpdateMask(envMask).Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("force %s cold: update %s: %w", f.Name, ColdVar, err)
	}
	// Timeout bounds the waits; the two calls above are the caller's to bound.
	ctx, cancel := context.WithTimeout(ctx, cmpOr(f.Timeout, DefaultTimeout))
	defer cancel()
	if err := f.waitOperation(ctx, op); err != nil {
		return fmt.Errorf("force %s cold: %w", f.Name, err)
	}
	fn, err = f.waitRevision(ctx, old)
	if err != nil {
		return fmt.Errorf("force %s cold: %w", f.Name, err)
	}
	if f.Run != nil {
		if err := f.waitServing(ctx, fn.ServiceConfig.Service, fn.ServiceConfig.Revision); err != nil {
			return fmt.Errorf("force %s cold: %w", f.Name, err)
		}
	}
	f.log().Info("gcf: forced cold", "function", f.Name, "revision", fn.ServiceConfig.Revision, "was", old,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// epoch is the next value of ColdVar: a count of forced cold starts, so each
// differs from the one before (and says how many there were).
func epoch(old string) string {
	n, err := strconv.Atoi(old)
	if err != nil {
		n = 0
	}
	return strconv.Itoa(n + 1)
}

// waitOperation polls the update's operation until it is done; its error is the
// update's.
func (f *Function) waitOperation(ctx context.Context, op *cloudfunctions.Operation) error {
	name := op.Name
	return f.poll(ctx, "the update operation "+name+" to finish", func() (bool, string, error) {
		if !op.Done {
			got, err := f.Svc.Projects.Locations.Operations.Get(name).Context(ctx).Do()
			if err != nil {
				return false, "", fmt.Errorf("get operation %s: %w", name, err)
			}
			op = got
		}
		if !op.Done {
			return false, "not done", nil
		}
		if op.Error != nil {
			return false, "", fmt.Errorf("the update failed: %s (code %d)", op.Error.Message, op.Error.Code)
		}
		return true, "", nil
	})
}

// waitRevision polls the function until it is ACTIVE on a revision other than old.
func (f *Function) waitRevision(ctx context.Context, old string) (*cloudfunctions.Function, error) {
	var fn *cloudfunctions.Function
	err := f.poll(ctx, "a new revision (was "+old+") to be ACTIVE", func() (bool, string, error) {
		var err error
		if fn, err = f.Svc.Projects.Locations.Functions.Get(f.Name).Context(ctx).Do(); err != nil {
			return false, "", fmt.Errorf("get the function: %w", err)
		}
		rev := ""
		if fn.ServiceConfig != nil {
			rev = fn.ServiceConfig.Revision
		}
		seen := fmt.Sprintf("state %s, revision %s", fn.State, rev)
		switch {
		case fn.State == "FAILED" || fn.State == "UNKNOWN":
			return false, "", fmt.Errorf("the function is %s after the update: %s", fn.State, stateMessages(fn))
		case fn.State == "ACTIVE" && rev != "" && rev != old:
			return true, seen, nil
		}
		return false, seen, nil
	})
	return fn, err
}

func stateMessages(fn *cloudfunctions.Function) string {
	var ms []string
	for _, m := range fn.StateMessages {
		ms = append(ms, fmt.Sprintf("%s %s: %s", m.Severity, m.Type, m.Message))
	}
	if len(ms) == 0 {
		return "no state message"
	}
	return strings.Join(ms, "; ")
}

// waitServing polls the function's Cloud Run service until reconciliation is over
// with revision as the latest ready and latest created one, taking all traffic.
func (f *Function) waitServing(ctx context.Context, service, revision string) error {
	if service == "" {
		return fmt.Errorf("the function names no Cloud Run service (serviceConfig.service)")
	}
	return f.poll(ctx, "Cloud Run service "+service+" to serve revision "+revision, func() (bool, string, error) {
		s, err := f.Run.Projects.Locations.Services.Get(service).Context(ctx).Do()
		if err != nil {
			return false, "", fmt.Errorf("get Cloud Run service %s: %w", service, err)
		}
		ready, created := path.Base(s.LatestReadyRevision), path.Base(s.LatestCreatedRevision)
		onIt := int64(0)
		for _, t := range s.TrafficStatuses {
			if t.Type == "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST" || path.Base(t.Revision) == revision {
				onIt += t.Percent
			}
		}
		seen := fmt.Sprintf("reconciling %t, latest ready %s, latest created %s, %d %% of traffic on the latest", s.Reconciling, ready, created, onIt)
		if !s.Reconciling && s.TerminalCondition != nil && s.TerminalCondition.State == "CONDITION_FAILED" {
			return false, "", fmt.Errorf("revision %s failed to serve on Cloud Run: %s", revision, s.TerminalCondition.Message)
		}
		return !s.Reconciling && ready == revision && created == revision && onIt == 100, seen, nil
	})
}

// poll calls check every Poll until it is done, fails, or ctx ends; a timeout
// (also one that cuts a request short) says what was awaited and last seen.
func (f *Function) poll(ctx context.Context, what string, check func() (done bool, seen string, err error)) error {
	t := time.NewTicker(cmpOr(f.Poll, DefaultPoll))
	defer t.Stop()
	last := "nothing yet"
	for {
		done, seen, err := check()
		if seen != "" {
			last = seen
		}
		if ctx.Err() != nil && !done {
			return fmt.Errorf("gave up waiting for %s (last seen: %s): %w", what, last, context.Cause(ctx))
		}
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

func (f *Function) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.Default()
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Functions are forced cold together: a Cloud Functions target is one function
// per route, and the whole target is to be cold.
type Functions []*Function

// ForNames are the functions named in names' values (as stack.Endpoint's
// FunctionNames has them, route → function name) in project and region, in route
// order, sharing the clients; Poll, Timeout and Log are left to the caller.
func ForNames(project, region string, names map[string]string, svc *cloudfunctions.Service, r *run.Service) Functions {
	var fs Functions
	for _, route := range slices.Sorted(maps.Keys(names)) {
		fs = append(fs, &Function{Name: Name(project, region, names[route]), Svc: svc, Run: r})
	}
	return fs
}

// ForceCold implements scenario.Coldable: every function at once (each update
// takes minutes), every failure reported.
func (fs Functions) ForceCold(ctx context.Context) error {
	errs := make([]error, len(fs))
	var wg sync.WaitGroup
	for i, f := range fs {
		wg.Go(func() { errs[i] = f.ForceCold(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Preflight checks, before anything is created, that Google credentials exist
// and that project is reachable with the Cloud Functions API enabled and
// readable by them (functions.list over every location). Each failure says what
// to do.
func Preflight(ctx context.Context, project string, opts ...option.ClientOption) error {
	if project == "" {
		return fmt.Errorf("google cloud: no project: set it with `pulumi config set gcp:project <id>` on the serverless stack")
	}
	svc, err := cloudfunctions.NewService(ctx, opts...)
	if err != nil {
		return credentialsHint(err)
	}
	_, err = svc.Projects.Locations.Functions.List("projects/" + project + "/locations/-").PageSize(1).Context(ctx).Do()
	if err == nil {
		return nil
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return fmt.Errorf("google cloud project %s: list functions: %w", project, err)
	}
	switch {
	case ge.Code == http.StatusUnauthorized:
		return fmt.Errorf("google cloud project %s: the credentials were refused (%s): run `gcloud auth application-default login` again", project, ge.Message)
	case hasReason(ge, "SERVICE_DISABLED", "accessNotConfigured"):
		return fmt.Errorf("google cloud project %s: the Cloud Functions API is not enabled (%s): run `gcloud services enable cloudfunctions.googleapis.com run.googleapis.com cloudbuild.googleapis.com artifactregistry.googleapis.com --project %s`",
			project, ge.Message, project)
	case ge.Code == http.StatusForbidden:
		return fmt.Errorf("google cloud project %s: permission denied (%s): the account needs roles/cloudfunctions.developer and roles/run.admin on the project "+
			"(`gcloud projects add-iam-policy-binding %s --member user:YOU --role roles/cloudfunctions.developer`)", project, ge.Message, project)
	case ge.Code == http.StatusNotFound:
		return fmt.Errorf("google cloud project %s: not found (%s): check gcp:project names a project id you can see (`gcloud projects list`)", project, ge.Message)
	}
	return fmt.Errorf("google cloud project %s: list functions: %w", project, err)
}

// hasReason reports whether the error carries one of reasons, in the legacy
// errors list or in a google.rpc.ErrorInfo detail.
func hasReason(ge *googleapi.Error, reasons ...string) bool {
	for _, e := range ge.Errors {
		for _, r := range reasons {
			if e.Reason == r {
				return true
			}
		}
	}
	for _, d := range ge.Details {
		b, _ := json.Marshal(d)
		var info struct {
			Reason string `json:"reason"`
		}
		if json.Unmarshal(b, &info) == nil {
			for _, r := range reasons {
				if info.Reason == r {
					return true
				}
			}
		}
	}
	return false
}
