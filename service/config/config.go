// Package config reads the service's settings from the environment once, at start.
// Every variable is parsed and checked here; a missing or malformed value is an
// error naming the variable, the value and what is allowed, so a misconfigured
// process stops before it serves anything.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Environment variables read by Load.
const (
	EnvInputBucket    = "SERVEBENCH_INPUT_BUCKET"
	EnvOutputBucket   = "SERVEBENCH_OUTPUT_BUCKET"
	EnvModel          = "SERVEBENCH_MODEL"
	EnvBackend        = "SERVEBENCH_BACKEND"
	EnvPort           = "PORT"
	EnvONNXRuntimeLib = "SERVEBENCH_ONNXRUNTIME_LIB"
	EnvFacesSource    = "SERVEBENCH_FACES_SOURCE"
	EnvFacesAllowSrc  = "SERVEBENCH_FACES_ALLOW_SOURCE"
	EnvPlatform       = "SERVEBENCH_PLATFORM"
	EnvMemoryMB       = "SERVEBENCH_MEMORY_MB"
	EnvThreads        = "SERVEBENCH_THREADS"
	EnvMaxImageBytes  = "SERVEBENCH_MAX_IMAGE_BYTES"
	EnvMaxImagePixels = "SERVEBENCH_MAX_IMAGE_PIXELS"
	EnvRequestTimeout = "SERVEBENCH_REQUEST_TIMEOUT"
	EnvURLTTL         = "SERVEBENCH_URL_TTL"
	EnvPreload        = "SERVEBENCH_PRELOAD"
	EnvPublicURL      = "SERVEBENCH_PUBLIC_URL"
	EnvLogLevel       = "SERVEBENCH_LOG_LEVEL"
	EnvDebugAddr      = "SERVEBENCH_DEBUG_ADDR"
)

// ModelKey is where the model lives in the input bucket when SERVEBENCH_MODEL is unset.
const ModelKey = "models/yolox_nano.onnx"

// MaxThreads bounds SERVEBENCH_THREADS: far above any instance of the study (a
// Lambda function has at most 6 vCPUs), low enough to catch a typo.
const MaxThreads = 256

// Backends are the detector backends SERVEBENCH_BACKEND accepts.
var Backends = []string{"auto", "onnxruntime", "gomlx"}

// Defaults, in one place. Model and PublicURL default to values derived from other
// settings (see Load).
var Defaults = Config{
	Backend:        "auto",
	Port:           8080,
	MaxImageBytes:  20 << 20,
	MaxImagePixels: 40_000_000,
	RequestTimeout: 30 * time.Second,
	URLTTL:         15 * time.Minute,
	LogLevel:       "info",
	FacesAllowSrc:  true,
}

// Config is every setting of the service.
type Config struct {
	InputBucket  string // gocloud blob URL, e.g. file:///srv/in, s3://name?region=us-east-1
	OutputBucket string
	// Model is the blob URL of the .onnx object: the bucket URL with the key as path.
	Model          string
	Backend        string
	Port           int
	ONNXRuntimeLib string // path of libonnxruntime.so.1; empty lets the detector decide
	FacesSource    string // default data-set source for faces/download_data; may be empty
	// FacesAllowSrc lets a faces/download_data call name its own source (?source=).
	// A public deployment turns it off: the caller could otherwise make the
	// function fetch any URL or path it can reach.
	FacesAllowSrc  bool
	Platform       string // overrides the detected platform; may be empty
	MemoryMB       int    // overrides the detected memory size; 0 means detect
	Threads        int    // overrides the detector's threads; 0 means the platform's rule (instance.ThreadsFor)
	MaxImageBytes  int64
	MaxImagePixels int64
	RequestTimeout time.Duration
	URLTTL         time.Duration // lifetime of the signed URL in a /predict answer
	Preload        bool          // load the model at start instead of on first use
	// PublicURL is where clients reach this server; signed URLs for file:// output
	// buckets point at PublicURL + "/files".
	PublicURL string
	LogLevel  string // debug, info, warn, error
	// DebugAddr, when set, is a loopback host:port on which the HTTP server
	// (cmd/server only) serves net/http/pprof, for a soak to read goroutines and
	// heap from outside. Empty, the default, serves nothing beyond the service.
	DebugAddr string
}

// FromEnv loads the configuration from the process environment.
func FromEnv() (Config, error) { return Load(os.Getenv) }

// Load reads every variable through getenv (os.Getenv in production, a map in
// tests) and returns all problems found at once.
func Load(getenv func(string) string) (Config, error) {
	c := Defaults
	p := parser{getenv: getenv}

	c.InputBucket = p.bucketURL(EnvInputBucket)
	c.OutputBucket = p.bucketURL(EnvOutputBucket)
	c.Model = p.modelURL(EnvModel, c.InputBucket)
	c.Backend = p.oneOf(EnvBackend, c.Backend, Backends)
	c.Port = int(p.intIn(EnvPort, int64(c.Port), 1, 65535))
	c.ONNXRuntimeLib = getenv(EnvONNXRuntimeLib)
	c.FacesSource = getenv(EnvFacesSource)
	c.FacesAllowSrc = p.boolean(EnvFacesAllowSrc, c.FacesAllowSrc)
	c.Platform = getenv(EnvPlatform)
	c.MemoryMB = int(p.intIn(EnvMemoryMB, 0, 0, 1<<20))
	c.Threads = int(p.intIn(EnvThreads, 0, 1, MaxThreads))
	c.MaxImageBytes = p.intIn(EnvMaxImageBytes, c.MaxImageBytes, 1, 1<<32)
	c.MaxImagePixels = p.intIn(EnvMaxImagePixels, c.MaxImagePixels, 1, 1<<32)
	c.RequestTimeout = p.duration(EnvRequestTimeout, c.RequestTimeout, time.Second, time.Hour)
	// Seven days is the longest an S3 presigned URL (SigV4) and a GCS V4 URL may live.
	c.URLTTL = p.duration(EnvURLTTL, c.URLTTL, time.Second, 7*24*time.Hour)
	c.Preload = p.boolean(EnvPreload, false)
	c.PublicURL = p.httpURL(EnvPublicURL, fmt.Sprintf("http://localhost:%d", c.Port))
	c.LogLevel = p.oneOf(EnvLogLevel, c.LogLevel, []string{"debug", "info", "warn", "error"})
	c.DebugAddr = p.loopbackAddr(EnvDebugAddr)
	return c, errors.Join(p.errs...)
}

type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(name, value, want string) {
	p.errs = append(p.errs, fmt.Errorf("config: %s=%q: %s", name, value, want))
}

var bucketSchemes = []string{"file", "mem", "s3", "gs"}

// bucketURL checks a required gocloud bucket URL: a known scheme, and no key.
func (p *parser) bucketURL(name string) string {
	v := p.getenv(name)
	if v == "" {
		p.fail(name, v, "required: a bucket URL such as file:///abs/dir, mem://, s3://name?region=us-east-1 or gs://name")
		return v
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		p.fail(name, v, "not a URL: "+err.Error())
	case !slices.Contains(bucketSchemes, u.Scheme):
		p.fail(name, v, "the scheme must be one of "+strings.Join(bucketSchemes, ", "))
	case (u.Scheme == "s3" || u.Scheme == "gs") && (u.Host == "" || strings.Trim(u.Path, "/") != ""):
		p.fail(name, v, "want "+u.Scheme+"://<bucket name> with no path")
	case u.Scheme == "file" && (u.Path == "" || u.Path == "/"):
		p.fail(name, v, "want file:///absolute/directory")
	}
	return v
}

// modelURL checks the model object URL, defaulting to ModelKey in the input bucket.
func (p *parser) modelURL(name, input string) string {
	v := p.getenv(name)
	if v == "" {
		if input == "" {
			return ""
		}
		u, err := url.Parse(input)
		if err != nil {
			return "" // reported for the input bucket already
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + ModelKey
		return u.String()
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		p.fail(name, v, "not a URL: "+err.Error())
	case !slices.Contains(bucketSchemes, u.Scheme):
		p.fail(name, v, "the scheme must be one of "+strings.Join(bucketSchemes, ", "))
	case strings.Trim(u.Path, "/") == "":
		p.fail(name, v, "want the URL of the .onnx object: the bucket URL with the key as path, e.g. s3://bucket/models/yolox_nano.onnx?region=us-east-1")
	}
	return v
}

func (p *parser) oneOf(name, def string, allowed []string) string {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	if !slices.Contains(allowed, v) {
		p.fail(name, v, "want one of "+strings.Join(allowed, ", "))
	}
	return v
}

func (p *parser) intIn(name string, def, lo, hi int64) int64 {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		p.fail(name, v, fmt.Sprintf("want a whole number from %d to %d", lo, hi))
		return def
	}
	return n
}

func (p *parser) duration(name string, def, lo, hi time.Duration) time.Duration {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		p.fail(name, v, fmt.Sprintf("want a duration such as 30s or 5m, from %v to %v", lo, hi))
		return def
	}
	return d
}

func (p *parser) boolean(name string, def bool) bool {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, v, "want true or false")
		return def
	}
	return b
}

func (p *parser) httpURL(name, def string) string {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(name, v, "want an absolute http:// or https:// URL such as http://localhost:8080")
		return def
	}
	return strings.TrimSuffix(v, "/")
}

// loopbackAddr checks an optional listen address that must stay on this machine:
// host:port with the host a loopback IP or localhost, and port 0 (any free one)
// up to 65535. Profiles name functions and show memory, so they are never served
// on an interface others can reach (":6060" would bind every interface).
func (p *parser) loopbackAddr(name string) string {
	v := p.getenv(name)
	if v == "" {
		return ""
	}
	const want = "want a loopback host:port such as 127.0.0.1:6060, [::1]:6060 or localhost:0 (0: any free port)"
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		p.fail(name, v, want)
		return ""
	}
	ip := net.ParseIP(host)
	n, perr := strconv.ParseUint(port, 10, 16)
	if perr != nil || strconv.FormatUint(n, 10) != port || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		p.fail(name, v, want)
		return ""
	}
	return v
}
