package awsfake

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// ApplicationAutoScaling models the scalable targets of Application Auto Scaling
// (awsJson1.1, target prefix AnyScaleFrontendService, signing name
// application-autoscaling) for DescribeScalableTargets and RegisterScalableTarget,
// keeping each target's suspended state so a test sees a suspend and its resume.
type ApplicationAutoScaling struct {
	mu      sync.Mutex
	targets []*ScalableTarget
}

// ScalableTarget is a scalable target as the fake holds it.
type ScalableTarget struct {
	Namespace, ResourceID, Dimension string // "ecs", "service/<cluster>/<service>", "ecs:service:DesiredCount"
	Min, Max                         int
	Suspended                        Suspended
	// History is every suspended state a RegisterScalableTarget set, in order.
	History []Suspended
}

// Suspended is a scalable target's SuspendedState.
type Suspended struct{ DynamicIn, DynamicOut, Scheduled bool }

// NewApplicationAutoScaling returns a model with no scalable targets.
func NewApplicationAutoScaling() *ApplicationAutoScaling { return &ApplicationAutoScaling{} }

// Install registers the model with s.
func (a *ApplicationAutoScaling) Install(s *Server) { s.Handle("application-autoscaling", a) }

// AddECSService registers the desired count of ECS service cluster/service as a
// scalable target from min to max with suspended state st, as the serverful
// stack's appautoscaling.Target does.
func (a *ApplicationAutoScaling) AddECSService(cluster, service string, min, max int, st Suspended) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.targets = append(a.targets, &ScalableTarget{Namespace: "ecs", ResourceID: "service/" + cluster + "/" + service,
		Dimension: "ecs:service:DesiredCount", Min: min, Max: max, Suspended: st})
}

// Target returns a copy of the scalable target with that resource id.
func (a *ApplicationAutoScaling) Target(resourceID string) (ScalableTarget, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range a.targets {
		if t.ResourceID == resourceID {
			c := *t
			c.History = slices.Clone(t.History)
			return c, true
		}
	}
	return ScalableTarget{}, false
}

type suspendedJSON struct {
	DynamicScalingInSuspended  *bool `json:",omitempty"`
	DynamicScalingOutSuspended *bool `json:",omitempty"`
	ScheduledScalingSuspended  *bool `json:",omitempty"`
}

// ServeHTTP answers the operations the fake models.
func (a *ApplicationAutoScaling) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallFrom(r)
	switch c.Operation {
	case "DescribeScalableTargets":
		var in struct {
			ServiceNamespace  string
			ResourceIds       []string
			ScalableDimension string
		}
		if decodeJSONCall(w, c, &in) {
			a.describe(w, in.ServiceNamespace, in.ResourceIds, in.ScalableDimension)
		}
	case "RegisterScalableTarget":
		var in struct {
			ServiceNamespace, ResourceId, ScalableDimension string
			MinCapacity, MaxCapacity                        *int
			SuspendedState                                  *suspendedJSON
		}
		if decodeJSONCall(w, c, &in) {
			a.register(w, in.ServiceNamespace, in.ResourceId, in.ScalableDimension, in.MinCapacity, in.MaxCapacity, in.SuspendedState)
		}
	default:
		JSONError(w, http.StatusBadRequest, "UnknownOperationException", "awsfake: Application Auto Scaling does not model "+c.Operation)
	}
}

func (a *ApplicationAutoScaling) describe(w http.ResponseWriter, namespace string, ids []string, dimension string) {
	if namespace == "" {
		JSONError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'serviceNamespace' failed to satisfy constraint: Member must not be null")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []any{}
	for _, t := range a.targets {
		if t.Namespace != namespace || (dimension != "" && t.Dimension != dimension) || (len(ids) > 0 && !slices.Contains(ids, t.ResourceID)) {
			continue
		}
		b := func(v bool) *bool { return &v }
		out = append(out, map[string]any{
			"ServiceNamespace": t.Namespace, "ResourceId": t.ResourceID, "ScalableDimension": t.Dimension,
			"MinCapacity": t.Min, "MaxCapacity": t.Max, "CreationTime": float64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()),
			"RoleARN":           fmt.Sprintf("arn:aws:iam::%s:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService", FakeAccount),
			"ScalableTargetARN": t.arn(),
			"SuspendedState":    suspendedJSON{b(t.Suspended.DynamicIn), b(t.Suspended.DynamicOut), b(t.Suspended.Scheduled)},
		})
	}
	WriteJSON(w, http.StatusOK, map[string]any{"ScalableTargets": out})
}

func (t *ScalableTarget) arn() string {
	return fmt.Sprintf("arn:aws:application-autoscaling:%s:%s:scalable-target/fake%s", Region, FakeAccount, t.ResourceID)
}

// register updates a scalable target (or creates one given both capacities). A
// SuspendedState sent replaces the target's whole state, each member left out
// being false, as in AWS; none sent leaves it as it was.
func (a *ApplicationAutoScaling) register(w http.ResponseWriter, namespace, id, dimension string, min, max *int, st *suspendedJSON) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var t *ScalableTarget
	for _, x := range a.targets {
		if x.Namespace == namespace && x.ResourceID == id && x.Dimension == dimension {
			t = x
		}
	}
	if t == nil {
		if min == nil || max == nil {
			JSONError(w, http.StatusBadRequest, "ValidationException", "MinCapacity and MaxCapacity are required for registering a new scalable target")
			return
		}
		t = &ScalableTarget{Namespace: namespace, ResourceID: id, Dimension: dimension}
		a.targets = append(a.targets, t)
	}
	if min != nil {
		t.Min = *min
	}
	if max != nil {
		t.Max = *max
	}
	if st != nil {
		is := func(b *bool) bool { return b != nil && *b }
		t.Suspended = Suspended{is(st.DynamicScalingInSuspended), is(st.DynamicScalingOutSuspended), is(st.ScheduledScalingSuspended)}
		t.History = append(t.History, t.Suspended)
	}
	WriteJSON(w, http.StatusOK, map[string]any{"ScalableTargetARN": t.arn()})
}
