package awsfake

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ECS models the parts of Amazon ECS the serverful fleet and the leftover check
// call (awsJson1.1, target prefix AmazonEC2ContainerServiceV20141113): services
// with their deployments and events, clusters and task definitions with a status.
//
// UpdateService with forceNewDeployment does what ECS's rolling update does in
// outline: a new PRIMARY deployment (rolloutState IN_PROGRESS, no task running
// yet) while the old one, now ACTIVE, keeps its tasks; after DeploymentPolls
// DescribeServices calls naming the service the new deployment runs every task,
// is COMPLETED, and the old one is gone.
// UpdateService with a desiredCount alone changes the count of the one
// deployment; its tasks reach it after ScalePolls DescribeServices calls.
type ECS struct {
	// DeploymentPolls is how many DescribeServices calls a forced deployment takes
	// to complete (0 or 1: the first call after UpdateService sees it done).
	DeploymentPolls int
	// ScalePolls is how many DescribeServices calls a new desired count (an
	// UpdateService with desiredCount) takes to be running: tasks started, or
	// drained and stopped (0 or 1: the first call after sees it reached).
	ScalePolls int
	// OnNewDeployment, when set, runs after UpdateService started a new deployment
	// (outside the fake's lock), so an end-to-end test can restart the local
	// instance that stands for the service's tasks.
	OnNewDeployment func(cluster, service string)
	// OnDescribe, when set, runs under the fake's lock each time DescribeServices
	// returns svc, after the deployment progressed, so a test can script states.
	OnDescribe func(svc *ECSService)

	mu              sync.Mutex
	services        []*ECSService
	clusters        map[string]string // name → status
	taskDefinitions map[string]string // family:revision → status
	nextID          int
}

// ECSService is a service as the fake holds it.
type ECSService struct {
	Cluster, Name string
	Status        string // ACTIVE, DRAINING, INACTIVE
	DesiredCount  int
	Deployments   []ECSDeployment // the PRIMARY first
	// StrayRunning counts RUNNING tasks no listed deployment owns any more (old
	// tasks still stopping), in the service's runningCount only.
	StrayRunning int
	Events       []ECSEvent // oldest first; answered newest first, as ECS does
}

// ECSDeployment is one deployment of a service.
type ECSDeployment struct {
	ID           string
	Status       string // PRIMARY, ACTIVE
	RolloutState string // IN_PROGRESS, COMPLETED, FAILED
	Reason       string // rolloutStateReason
	DesiredCount int
	RunningCount int
	PendingCount int

	pollsLeft int
	// scaling: a new desired count not yet reached, scalePollsLeft calls away.
	scaling        bool
	scalePollsLeft int
}

// ECSEvent is a service event.
type ECSEvent struct {
	Message string
	At      time.Time
}

// RunningCount is the service's tasks in RUNNING, across its deployments.
func (s *ECSService) RunningCount() int {
	n := s.StrayRunning
	for _, d := range s.Deployments {
		n += d.RunningCount
	}
	return n
}

// Event appends an event.
func (s *ECSService) Event(msg string) {
	s.Events = append(s.Events, ECSEvent{Message: msg, At: time.Now()})
}

// NewECS returns an empty ECS model.
func NewECS() *ECS {
	return &ECS{clusters: map[string]string{}, taskDefinitions: map[string]string{}}
}

// Install registers the model with s.
func (e *ECS) Install(s *Server) { s.Handle("ecs", e) }

// AddService adds an ACTIVE service (and its cluster, ACTIVE) with one completed
// deployment running desired tasks.
func (e *ECS) AddService(cluster, name string, desired int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.clusters[cluster]; !ok {
		e.clusters[cluster] = "ACTIVE"
	}
	svc := &ECSService{Cluster: cluster, Name: name, Status: "ACTIVE", DesiredCount: desired}
	svc.Deployments = []ECSDeployment{e.deployment(desired, desired, "COMPLETED")}
	svc.Event(fmt.Sprintf("(service %s) has reached a steady state.", name))
	e.services = append(e.services, svc)
}

// Update runs fn on a service under the fake's lock; it reports whether the
// service exists.
func (e *ECS) Update(cluster, name string, fn func(*ECSService)) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	svc := e.find(cluster, name)
	if svc != nil {
		fn(svc)
	}
	return svc != nil
}

// SetCluster sets a cluster's status (ACTIVE, INACTIVE as after DeleteCluster).
func (e *ECS) SetCluster(name, status string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clusters[name] = status
}

// SetTaskDefinition sets a task definition revision's status ("family:3";
// ACTIVE, INACTIVE as after DeregisterTaskDefinition, DELETE_IN_PROGRESS).
func (e *ECS) SetTaskDefinition(familyRevision, status string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.taskDefinitions[familyRevision] = status
}

func (e *ECS) deployment(desired, running int, rollout string) ECSDeployment {
	e.nextID++
	return ECSDeployment{ID: fmt.Sprintf("ecs-svc/%019d", e.nextID), Status: "PRIMARY", RolloutState: rollout,
		DesiredCount: desired, RunningCount: running}
}

// arnTail is the name in a name or an ARN (".../cluster/name" → "name").
func arnTail(nameOrARN string) string {
	return nameOrARN[strings.LastIndex(nameOrARN, "/")+1:]
}

func (e *ECS) find(cluster, name string) *ECSService {
	if cluster == "" {
		cluster = "default"
	}
	for _, s := range e.services {
		if s.Cluster == arnTail(cluster) && s.Name == arnTail(name) {
			return s
		}
	}
	return nil
}

func ecsARN(kind, path string) string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:%s/%s", Region, FakeAccount, kind, path)
}

// ServeHTTP answers the ECS operations the fake models.
func (e *ECS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallFrom(r)
	switch c.Operation {
	case "DescribeServices":
		var in struct {
			Cluster  string   `json:"cluster"`
			Services []string `json:"services"`
		}
		if !decodeJSONCall(w, c, &in) {
			return
		}
		e.describeServices(w, in.Cluster, in.Services)
	case "UpdateService":
		var in struct {
			Cluster            string `json:"cluster"`
			Service            string `json:"service"`
			DesiredCount       *int   `json:"desiredCount"`
			ForceNewDeployment bool   `json:"forceNewDeployment"`
		}
		if !decodeJSONCall(w, c, &in) {
			return
		}
		e.updateService(w, in.Cluster, in.Service, in.DesiredCount, in.ForceNewDeployment)
	case "DescribeClusters":
		var in struct {
			Clusters []string `json:"clusters"`
		}
		if !decodeJSONCall(w, c, &in) {
			return
		}
		e.describeClusters(w, in.Clusters)
	case "DescribeTaskDefinition":
		var in struct {
			TaskDefinition string `json:"taskDefinition"`
		}
		if !decodeJSONCall(w, c, &in) {
			return
		}
		e.describeTaskDefinition(w, in.TaskDefinition)
	default:
		JSONError(w, http.StatusBadRequest, "UnknownOperationException", "awsfake: ECS does not model "+c.Operation)
	}
}

// decodeJSONCall decodes a JSON call's body, answering a ValidationException when
// it is malformed.
func decodeJSONCall(w http.ResponseWriter, c Call, v any) bool {
	if err := c.JSON(v); err != nil {
		JSONError(w, http.StatusBadRequest, "ValidationException", "awsfake: malformed request: "+err.Error())
		return false
	}
	return true
}

func (e *ECS) describeServices(w http.ResponseWriter, cluster string, names []string) {
	e.mu.Lock()
	out := map[string]any{}
	services, failures := []any{}, []any{}
	for _, name := range names {
		svc := e.find(cluster, name)
		if svc == nil {
			failures = append(failures, map[string]string{"arn": ecsARN("service", arnTail(cluster)+"/"+arnTail(name)), "reason": "MISSING"})
			continue
		}
		e.progress(svc)
		if e.OnDescribe != nil {
			e.OnDescribe(svc)
		}
		services = append(services, serviceJSON(svc))
	}
	e.mu.Unlock()
	out["services"], out["failures"] = services, failures
	WriteJSON(w, http.StatusOK, out)
}

// progress moves a forced deployment, or a change of desired count, one poll further.
func (e *ECS) progress(svc *ECSService) {
	if p := &svc.Deployments[0]; len(svc.Deployments) == 1 && p.scaling {
		if p.scalePollsLeft--; p.scalePollsLeft > 0 {
			return
		}
		p.RunningCount, p.PendingCount, p.scaling = p.DesiredCount, 0, false
		svc.Event(fmt.Sprintf("(service %s) has reached a steady state.", svc.Name))
		return
	}
	if len(svc.Deployments) < 2 {
		return
	}
	p := &svc.Deployments[0]
	if p.RolloutState != "IN_PROGRESS" {
		return
	}
	p.pollsLeft--
	if p.pollsLeft > 0 {
		return
	}
	p.RunningCount, p.RolloutState = p.DesiredCount, "COMPLETED"
	svc.Deployments = svc.Deployments[:1]
	svc.Event(fmt.Sprintf("(service %s) has stopped %d running tasks.", svc.Name, svc.DesiredCount))
	svc.Event(fmt.Sprintf("(service %s) deployment %s deployment completed.", svc.Name, p.ID))
	svc.Event(fmt.Sprintf("(service %s) has reached a steady state.", svc.Name))
}

func serviceJSON(svc *ECSService) map[string]any {
	deps := []any{}
	pending := 0
	for _, d := range svc.Deployments {
		pending += d.PendingCount
		dep := map[string]any{"id": d.ID, "status": d.Status, "rolloutState": d.RolloutState,
			"desiredCount": d.DesiredCount, "runningCount": d.RunningCount, "pendingCount": d.PendingCount}
		if d.Reason != "" {
			dep["rolloutStateReason"] = d.Reason
		}
		deps = append(deps, dep)
	}
	events := []any{}
	for i := len(svc.Events) - 1; i >= 0; i-- {
		ev := svc.Events[i]
		events = append(events, map[string]any{"id": fmt.Sprintf("ev-%d", i), "message": ev.Message,
			"createdAt": float64(ev.At.UnixMilli()) / 1000})
	}
	return map[string]any{
		"serviceName": svc.Name, "serviceArn": ecsARN("service", svc.Cluster+"/"+svc.Name),
		"clusterArn": ecsARN("cluster", svc.Cluster), "status": svc.Status,
		"desiredCount": svc.DesiredCount, "runningCount": svc.RunningCount(), "pendingCount": pending,
		"deployments": deps, "events": events,
	}
}

func (e *ECS) updateService(w http.ResponseWriter, cluster, name string, desired *int, force bool) {
	e.mu.Lock()
	svc := e.find(cluster, name)
	if svc == nil || svc.Status != "ACTIVE" {
		e.mu.Unlock()
		JSONError(w, http.StatusBadRequest, "ServiceNotFoundException", "Service not found.")
		return
	}
	if desired != nil {
		svc.DesiredCount = *desired
		p := &svc.Deployments[0]
		p.DesiredCount = *desired
		if len(svc.Deployments) == 1 && p.RunningCount != *desired {
			p.scaling, p.scalePollsLeft = true, e.ScalePolls
			p.PendingCount = max(0, *desired-p.RunningCount)
			if *desired > p.RunningCount {
				svc.Event(fmt.Sprintf("(service %s) has started %d tasks.", svc.Name, *desired-p.RunningCount))
			} else {
				svc.Event(fmt.Sprintf("(service %s) has begun draining connections on %d tasks.", svc.Name, p.RunningCount-*desired))
			}
		}
	}
	if force {
		old := &svc.Deployments[0]
		old.Status = "ACTIVE"
		d := e.deployment(svc.DesiredCount, 0, "IN_PROGRESS")
		d.pollsLeft = e.DeploymentPolls
		svc.Deployments = append([]ECSDeployment{d}, svc.Deployments...)
		svc.Event(fmt.Sprintf("(service %s) has started %d tasks.", svc.Name, svc.DesiredCount))
	}
	out := serviceJSON(svc)
	hook := e.OnNewDeployment
	e.mu.Unlock()
	if force && hook != nil {
		hook(arnTail(cluster), svc.Name)
	}
	WriteJSON(w, http.StatusOK, map[string]any{"service": out})
}

func (e *ECS) describeClusters(w http.ResponseWriter, names []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	clusters, failures := []any{}, []any{}
	for _, n := range names {
		status, ok := e.clusters[arnTail(n)]
		if !ok {
			failures = append(failures, map[string]string{"arn": ecsARN("cluster", arnTail(n)), "reason": "MISSING"})
			continue
		}
		clusters = append(clusters, map[string]any{"clusterName": arnTail(n), "clusterArn": ecsARN("cluster", arnTail(n)), "status": status})
	}
	WriteJSON(w, http.StatusOK, map[string]any{"clusters": clusters, "failures": failures})
}

func (e *ECS) describeTaskDefinition(w http.ResponseWriter, name string) {
	e.mu.Lock()
	status, ok := e.taskDefinitions[arnTail(name)]
	e.mu.Unlock()
	if !ok {
		// What ECS answers for a revision it does not know.
		JSONError(w, http.StatusBadRequest, "ClientException", "Unable to describe task definition.")
		return
	}
	family, rev, _ := strings.Cut(arnTail(name), ":")
	var revision int
	fmt.Sscan(rev, &revision)
	WriteJSON(w, http.StatusOK, map[string]any{"taskDefinition": map[string]any{
		"taskDefinitionArn": ecsARN("task-definition", arnTail(name)), "family": family, "revision": revision, "status": status,
	}})
}
