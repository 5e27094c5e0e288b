package gcffake

import (
	"context"
	"errors"
	"net/http"
	"testing"

	cloudfunctions "google.golang.org/api/cloudfunctions/v2"
	"google.golang.org/api/googleapi"
)

const fn = "projects/p/locations/us-central1/functions/f"

// The fake answers the real client as the API would: an update is an operation,
// a second update while one runs is refused, a wrong mask is refused, and an
// unknown name is NOT_FOUND — each in Google's error format.
func TestCloudFakeSpeaksTheAPI(t *testing.T) {
	s := New(t)
	s.AddFunction(fn, "https://f.a.run.app", map[string]string{"A": "1"})
	svc, err := cloudfunctions.NewService(context.Background(), s.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	fns := svc.Projects.Locations.Functions
	code := func(err error) int {
		var ge *googleapi.Error
		if !errors.As(err, &ge) {
			return 0
		}
		return ge.Code
	}
	env := &cloudfunctions.Function{ServiceConfig: &cloudfunctions.ServiceConfig{EnvironmentVariables: map[string]string{"A": "2"}}}
	if _, err := fns.Patch(fn, env).UpdateMask("serviceConfig").Do(); code(err) != http.StatusBadRequest {
		t.Errorf("patch with another mask: %v", err)
	}
	op, err := fns.Patch(fn, env).UpdateMask("serviceConfig.environmentVariables").Do()
	if err != nil || op.Done || op.Name != "projects/p/locations/us-central1/operations/operation-1" {
		t.Fatalf("patch: %+v, %v", op, err)
	}
	if _, err := fns.Patch(fn, env).UpdateMask("serviceConfig.environmentVariables").Do(); code(err) != http.StatusConflict {
		t.Errorf("second patch while the first runs: %v", err)
	}
	got, err := svc.Projects.Locations.Operations.Get(op.Name).Do()
	if err != nil || !got.Done || got.Error != nil || len(got.Response) == 0 {
		t.Fatalf("operation: %+v, %v", got, err)
	}
	f, err := fns.Get(fn).Do()
	if err != nil || f.State != "ACTIVE" || f.ServiceConfig.EnvironmentVariables["A"] != "2" || f.ServiceConfig.Revision != "f-00002-cms" {
		t.Errorf("function after the update: %+v %+v, %v", f, f.ServiceConfig, err)
	}
	if _, err := fns.Get(fn + "x").Do(); code(err) != http.StatusNotFound {
		t.Errorf("unknown function: %v", err)
	}
	list, err := fns.List("projects/p/locations/-").Do()
	if err != nil || len(list.Functions) != 1 || list.Functions[0].Name != fn {
		t.Errorf("list: %+v, %v", list, err)
	}
}
