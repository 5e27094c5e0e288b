// Package results is the record of a run: a JSON Lines file whose first line is the
// run's Header and every later line one Record, written the moment its request
// completes, so a crash or Ctrl-C loses nothing already measured.
package results

import (
	"time"
)

// Header opens a results file: what was run, with what, on what.
type Header struct {
	Kind      string            `json:"kind"` // always "header"
	Started   time.Time         `json:"started"`
	Command   []string          `json:"command"`
	Config    map[string]any    `json:"config"`
	Versions  map[string]string `json:"versions"` // servebench, go, service build, backend
	Machine   Machine           `json:"machine"`
	Targets   map[string]string `json:"targets"` // name -> base URL
	Scenarios []string          `json:"scenarios"`
	// Deployments says what each target (by name) ran on, where it is known.
	Deployments map[string]Deployment `json:"deployments,omitempty"`
}

// Machine describes the host that generated the load.
type Machine struct {
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model,omitempty"`
	MemoryMB int    `json:"memory_mb,omitempty"`
}

// Record is one request, successful or not.
type Record struct {
	Kind     string `json:"kind"`     // always "request"
	Scenario string `json:"scenario"` // "batches", "coldwarm", "rate"
	Target   string `json:"target"`   // "serverful", "serverless", or a --target name
	Function string `json:"function"` // "predict", "faces/download_data", "faces/train", ...
	// Group is the scenario's unit: the batch number (batches), the burst
	// ("cold", "warm") for coldwarm, or the rate step ("50/s") for rate.
	Group string `json:"group"`
	Batch int    `json:"batch"` // 1-based batch or burst or step index
	Seq   int    `json:"seq"`   // index of the request within the run
	Image string `json:"image,omitempty"`

	Intended time.Time `json:"intended"`  // when the request was meant to be sent (open loop)
	Start    time.Time `json:"start"`     // when it was actually sent
	ClientMS float64   `json:"client_ms"` // from Intended to the end of the body

	Status int    `json:"status"`          // HTTP status; 0 when no answer
	Error  string `json:"error,omitempty"` // transport error, timeout or the service's error code

	// From the service's answer (zero when it did not answer with JSON).
	Cold      *bool              `json:"cold,omitempty"`
	Instance  string             `json:"instance,omitempty"`
	Platform  string             `json:"platform,omitempty"`
	MemoryMB  int                `json:"memory_mb,omitempty"` // server.memory_mb: what the instance runs with
	ServerMS  float64            `json:"server_ms,omitempty"` // timings_ms.total
	TimingsMS map[string]float64 `json:"timings_ms,omitempty"`

	// RequestID is server.request_id, the Lambda request id of the invocation
	// (on Lambda only): the key that joins the request to its REPORT line in
	// CloudWatch Logs, which API Gateway's own request id does not.
	RequestID string `json:"request_id,omitempty"`

	// What ran the request (server.backend, server.threads, server.codec): the
	// detector's backend and its threads, and the JPEG codec, so that a comparison
	// of two platforms can be seen to run the same code.
	Backend string `json:"backend,omitempty"`
	Threads int    `json:"threads,omitempty"`
	Codec   string `json:"codec,omitempty"`

	// The platform's own account of the request, where it gives one (the
	// Lambda path's REPORT line). Not "platform": that key is server.platform.
	PlatformReport *PlatformReport `json:"platform_report,omitempty"`
}

// PlatformReport is what the platform reports of one request beside the
// service's own timings: Lambda's REPORT line.
type PlatformReport struct {
	DurationMS float64 `json:"duration_ms"`       // the invocation as the platform timed it
	BilledMS   float64 `json:"billed_ms"`         // what it bills for
	InitMS     float64 `json:"init_ms,omitempty"` // the init before a cold invocation
	// MaxMemoryMB is the function's peak resident memory, Lambda's "Max Memory Used".
	MaxMemoryMB float64 `json:"max_memory_mb,omitempty"`
}

// Group labels of the bursts meant to start cold or warm. The answer's
// server.cold says what each request really was; the report keeps a request
// whose answer contradicts its label apart ("mislabelled").
const (
	GroupCold       = "cold"        // the burst right after a forced cold start
	GroupWarm       = "warm"        // the burst right after a cold one
	GroupDeployCold = "deploy-cold" // the first burst after a deploy: image caches are cold too
)

// OK reports whether the request succeeded.
func (r Record) OK() bool { return r.Status >= 200 && r.Status < 300 && r.Error == "" }

// Sample is a point of a time series recorded during a run, such as the number of
// instances a target runs.
type Sample struct {
	Kind   string    `json:"kind"` // always "sample"
	Target string    `json:"target"`
	Metric string    `json:"metric"` // MetricInstances, MetricTasks, "cpu_percent", "memory_mb"
	Time   time.Time `json:"time"`
	Value  float64   `json:"value"`
}

// Sample metrics the report draws over time.
const (
	// MetricInstances is the number of instances a target runs: local
	// processes, or the EC2 instances of an ECS cluster's Auto Scaling group.
	MetricInstances = "instances"
	// MetricTasks is the number of running ECS tasks of a service.
	MetricTasks = "tasks"
)
