// Package instance describes the process serving a request: which platform and
// runtime it runs on, whether the request is its first (cold), and how long the
// process took from start to ready.
package instance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Info is the "server" object of every answer.
type Info struct {
	Cold     bool   `json:"cold"`
	Instance string `json:"instance"`
	Platform string `json:"platform"`
	Runtime  string `json:"runtime"`
	MemoryMB int    `json:"memory_mb"`
	// Backend and Threads are the detector's: the backend it runs on and its
	// intra-op threads (before the model is loaded, the configured backend and
	// the threads it will get). Codec is the process's JPEG codec (imagein.Codec).
	// The instance knows neither; the API fills them in.
	Backend string `json:"backend"`
	Threads int    `json:"threads"`
	Codec   string `json:"codec"`
	// RequestID is the Lambda request id of the invocation, on Lambda only: the
	// id its REPORT log line carries, which API Gateway does not pass to the
	// client (its apigw-requestid is its own), so a client can join the two.
	RequestID string `json:"request_id,omitempty"`
}

// Instance is one process. Its first served request is cold; every later one is warm.
type Instance struct {
	id       string
	platform string
	memoryMB int
	started  time.Time
	ready    atomic.Int64 // nanoseconds from start to ready; 0 until MarkReady
	served   atomic.Bool
}

// processStart approximates the moment the process started: package initialisation
// runs before main, so this is within microseconds of exec.
var processStart = time.Now()

// New describes the current process. Platform and memory come from the environment
// the platforms set (Lambda, Cloud Run functions, ECS), overridable with
// SERVEBENCH_PLATFORM and SERVEBENCH_MEMORY_MB.
func New() *Instance {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	id := hex.EncodeToString(b)
	if host != "" {
		id = host + "-" + id
	}
	return &Instance{id: id, platform: detectPlatform(), memoryMB: detectMemoryMB(), started: processStart}
}

func detectPlatform() string {
	switch {
	case os.Getenv("SERVEBENCH_PLATFORM") != "":
		return os.Getenv("SERVEBENCH_PLATFORM")
	case os.Getenv("AWS_LAMBDA_FUNCTION_NAME") != "":
		return "lambda"
	case os.Getenv("ECS_CONTAINER_METADATA_URI_V4") != "":
		return "ecs"
	case os.Getenv("K_SERVICE") != "" || os.Getenv("FUNCTION_TARGET") != "":
		return "cloudfunctions"
	default:
		return "local"
	}
}

func detectMemoryMB() int {
	for _, k := range []string{"SERVEBENCH_MEMORY_MB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"} {
		if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// MarkReady records the time from process start to now as the init time. Later
// calls keep the first value.
func (in *Instance) MarkReady() {
	in.ready.CompareAndSwap(0, int64(time.Since(in.started)))
}

// Init is the time from process start to ready, zero before MarkReady.
func (in *Instance) Init() time.Duration { return time.Duration(in.ready.Load()) }

// Serve marks one request served and reports the server info for it: cold is true
// for exactly one request per instance, the first. ctx is the request's: on Lambda
// it carries the invocation's context (the runtime client puts it there and
// aws-lambda-go-api-proxy hands it on to the http.Request), whose request id the
// answer then names.
func (in *Instance) Serve(ctx context.Context) Info {
	info := Info{
		Cold:     !in.served.Swap(true),
		Instance: in.id,
		Platform: in.platform,
		Runtime:  runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		MemoryMB: in.memoryMB,
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc != nil {
		info.RequestID = lc.AwsRequestID
	}
	return info
}

// ID is the instance's identifier.
func (in *Instance) ID() string { return in.id }
