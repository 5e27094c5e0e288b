// Package instance describes the process serving a request: which platform and
// runtime it runs on, whether the request is its first (cold), and how long the
// process took from start to ready.
package instance

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// Info is the "server" object of every answer.
type Info struct {
	Cold     bool   `json:"cold"`
	Instance string `json:"instance"`
	Platform string `json:"platform"`
	Runtime  string `json:"runtime"`
	MemoryMB int    `json:"memory_mb"`
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
// for exactly one request per instance, the first.
func (in *Instance) Serve() Info {
	return Info{
		Cold:     !in.served.Swap(true),
		Instance: in.id,
		Platform: in.platform,
		Runtime:  runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		MemoryMB: in.memoryMB,
	}
}

// ID is the instance's identifier.
func (in *Instance) ID() string { return in.id }
