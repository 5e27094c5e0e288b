package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"

	"github.com/servebench/servebench/bench/cloud/awsfake"
	"github.com/servebench/servebench/bench/cloud/fleet"
	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
)

var _ scenario.ScalingHold = fleet.Service{}

const resource = "service/study/web"

// newHeld is newFleet with the service at 3 tasks, its desired count a scalable
// target from 2 to 5 whose state is before, and the Service holding it.
func newHeld(t *testing.T, before awsfake.Suspended) (*fakes, *awsfake.ApplicationAutoScaling, fleet.Service) {
	f, svc := newFleet(t)
	f.ecs.Update("study", "web", func(s *awsfake.ECSService) {
		s.DesiredCount, s.Deployments[0].DesiredCount, s.Deployments[0].RunningCount = 3, 3, 3
	})
	aas := awsfake.NewApplicationAutoScaling()
	aas.Install(f.srv)
	aas.AddECSService("study", "web", 2, 5, before)
	svc.Scaling = applicationautoscaling.NewFromConfig(f.srv.Config())
	return f, aas, svc
}

func suspended(t *testing.T, aas *awsfake.ApplicationAutoScaling) awsfake.ScalableTarget {
	t.Helper()
	st, ok := aas.Target(resource)
	if !ok {
		t.Fatalf("no scalable target %s", resource)
	}
	return st
}

// HoldScaling suspends both dynamic directions (scheduled scaling left as it
// was), scales the service to the target's minimum, returns only once that many
// tasks run, and resume restores the earlier state exactly.
func TestCloudFleetHoldScaling(t *testing.T) {
	before := awsfake.Suspended{Scheduled: true}
	f, aas, svc := newHeld(t, before)
	f.ecs.ScalePolls = 3
	var running []int
	f.ecs.OnDescribe = func(s *awsfake.ECSService) { running = append(running, s.RunningCount()) }

	n, resume, err := svc.HoldScaling(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("held with %d tasks, want the minimum 2", n)
	}
	held := awsfake.Suspended{DynamicIn: true, DynamicOut: true, Scheduled: true}
	if st := suspended(t, aas); st.Suspended != held || st.Min != 2 || st.Max != 5 {
		t.Errorf("while held: %+v, want %+v with capacities 2..5 unchanged", st, held)
	}
	// The wait saw the drain: 3 running until the third poll, then 2.
	if !slices.Equal(running, []int{3, 3, 2}) {
		t.Errorf("running at each poll %v, want [3 3 2]", running)
	}
	var in struct {
		Cluster, Service string
		DesiredCount     *int
	}
	calls := f.srv.Calls("ecs")
	if len(calls) == 0 || calls[0].Operation != "UpdateService" || calls[0].JSON(&in) != nil || in.DesiredCount == nil || *in.DesiredCount != 2 || in.Cluster != "study" || in.Service != "web" {
		t.Errorf("first ECS call %s %s, want UpdateService of study/web to desiredCount 2", calls[0].Operation, calls[0].Body)
	}
	if got, want := f.srv.Operations("application-autoscaling"), []string{"DescribeScalableTargets", "RegisterScalableTarget"}; !slices.Equal(got, want) {
		t.Errorf("Application Auto Scaling calls %v, want %v", got, want)
	}

	if err := resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := suspended(t, aas); st.Suspended != before || !slices.Equal(st.History, []awsfake.Suspended{held, before}) {
		t.Errorf("after resume: %+v (history %v), want %+v", st.Suspended, st.History, before)
	}
	f.ecs.Update("study", "web", func(s *awsfake.ECSService) {
		if s.DesiredCount != 2 || s.RunningCount() != 2 {
			t.Errorf("service desired %d running %d after resume, want 2 and 2 (scaling on takes it from there)", s.DesiredCount, s.RunningCount())
		}
	})
}

// A hold whose wait fails or is cancelled resumes by itself, on a context of
// its own, so nothing stays suspended; the error says what failed.
func TestCloudFleetHoldResumesWhenTheWaitFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(f *fakes, svc *fleet.Service, cancel context.CancelFunc)
		want string
	}{
		{"timeout", func(f *fakes, svc *fleet.Service, _ context.CancelFunc) {
			svc.Timeout = time.Nanosecond
			f.ecs.ScalePolls = 1000
		}, "not done after 1ns: desired 2, running 3"},
		{"cancelled", func(f *fakes, _ *fleet.Service, cancel context.CancelFunc) {
			f.ecs.ScalePolls = 1000
			f.ecs.OnDescribe = func(*awsfake.ECSService) { cancel() }
		}, context.Canceled.Error()},
		{"deployment never steady", func(f *fakes, svc *fleet.Service, _ context.CancelFunc) {
			svc.Timeout = 20 * time.Millisecond
			f.ecs.OnDescribe = func(s *awsfake.ECSService) { s.Deployments[0].RolloutState = "IN_PROGRESS" }
		}, "IN_PROGRESS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := awsfake.Suspended{DynamicIn: false, DynamicOut: false, Scheduled: true}
			f, aas, svc := newHeld(t, before)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tc.fail(f, &svc, cancel)
			_, resume, err := svc.HoldScaling(ctx)
			if err == nil || resume != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (resume %v), want one saying %q and no resume", err, resume != nil, tc.want)
			}
			if st := suspended(t, aas); st.Suspended != before || len(st.History) != 2 {
				t.Errorf("after the failed hold: %+v (history %v), want %+v restored", st.Suspended, st.History, before)
			}
		})
	}
}

// AWS refusing any call of the hold names the permission the deployer needs;
// one refused after the suspend still leaves the scaling as it was.
func TestCloudFleetHoldAccessDenied(t *testing.T) {
	for _, tc := range []struct{ service, op, perm string }{
		{"application-autoscaling", "DescribeScalableTargets", fleet.PermDescribeScalableTargets},
		{"application-autoscaling", "RegisterScalableTarget", fleet.PermRegisterScalableTarget},
		{"ecs", "UpdateService", fleet.PermUpdateService},
		{"ecs", "DescribeServices", fleet.PermDescribeServices},
	} {
		t.Run(tc.op, func(t *testing.T) {
			f, aas, svc := newHeld(t, awsfake.Suspended{})
			f.srv.Deny(tc.service, tc.op)
			_, _, err := svc.HoldScaling(context.Background())
			if err == nil || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "IAM permission "+tc.perm) {
				t.Fatalf("err = %v, want AccessDenied naming %s", err, tc.perm)
			}
			if st := suspended(t, aas); st.Suspended != (awsfake.Suspended{}) {
				t.Errorf("after a refused %s the scaling stays suspended: %+v", tc.op, st.Suspended)
			}
		})
	}
}

func TestCloudFleetHoldNoScalableTarget(t *testing.T) {
	f, svc := newFleet(t)
	awsfake.NewApplicationAutoScaling().Install(f.srv)
	svc.Scaling = applicationautoscaling.NewFromConfig(f.srv.Config())
	if _, _, err := svc.HoldScaling(context.Background()); err == nil || !strings.Contains(err.Error(), "no scalable target service/study/web") {
		t.Errorf("err = %v, want one naming the missing scalable target", err)
	}
	if ops := f.srv.Operations("ecs"); len(ops) != 0 {
		t.Errorf("ECS called without a scalable target: %v", ops)
	}
}

// failingRecorder fails every record: the rate scenario fails at its first step.
type failingRecorder struct{}

func (failingRecorder) Record(results.Record) error     { return errors.New("disk full") }
func (failingRecorder) Capacity(results.Capacity) error { return nil }

type discard struct{}

func (discard) Record(results.Record) error     { return nil }
func (discard) Capacity(results.Capacity) error { return nil }

// The rate scenario resumes the held scaling when its held search fails or the
// run is cancelled.
func TestCloudFleetRateResumesHeldScaling(t *testing.T) {
	for _, tc := range []struct {
		name   string
		out    scenario.Recorder
		cancel bool
		want   string
	}{
		{"search fails", failingRecorder{}, false, "disk full"},
		{"run cancelled", discard{}, true, context.Canceled.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := awsfake.Suspended{DynamicOut: true}
			f, aas, svc := newHeld(t, before)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.cancel {
					cancel()
				}
				fmt.Fprint(w, `{"server":{}}`)
			}))
			defer srv.Close()
			rate := scenario.Rate{Rates: []float64{20}, MaxRate: 20, Precision: 0.1, MaxSteps: 2, Step: time.Second,
				Percentile: 99, Objective: time.Second, Images: []string{"images/dog.jpg"}}
			r := &scenario.Runner{Attacker: loadgen.NewAttacker(), Out: tc.out, Log: svc.Log}
			_, err := rate.Run(ctx, r, scenario.Target{Name: "serverful", URL: srv.URL, Scaling: svc})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			st := suspended(t, aas)
			if held := (awsfake.Suspended{DynamicIn: true, DynamicOut: true}); !slices.Equal(st.History, []awsfake.Suspended{held, before}) {
				t.Errorf("suspended states set %v, want held then the earlier %+v", st.History, before)
			}
			if n := count(f.srv.Operations("ecs"), "UpdateService"); n != 1 {
				t.Errorf("%d UpdateService calls, want 1 (the hold's)", n)
			}
		})
	}
}
