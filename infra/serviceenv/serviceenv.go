// Package serviceenv writes the environment the service reads on every cloud
// platform (SERVEBENCH_* variables and PORT), so the ECS task, the Lambda function
// and the Cloud Functions agree on one contract.
package serviceenv

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/study"
)

// Keys inside an input bucket (the service's bucket layout).
const (
	ModelKey = study.ModelPath
	FacesKey = "faces/orl.zip"
)

// EnvRequestTimeout is the service's request deadline (a Go duration). A platform
// whose front end cuts requests sooner than the service's default sets it lower, so
// a slow request ends in the service's own 504 rather than the front end's error.
const EnvRequestTimeout = "SERVEBENCH_REQUEST_TIMEOUT"

// NativeLib is a shared library the service loads at run time (through purego, no
// cgo) from the path an environment variable names. The container images carry
// both at fixed paths; a source deploy (Cloud Functions) carries the deployer's
// copies, which the setup scripts fetch into the servebench cache.
type NativeLib struct {
	Name  string // the file the service looks for
	Env   string // the variable naming its path, for the service and the deployer alike
	Cache string // the setup script's directory under the servebench cache
	Setup string // the script that fetches a linux/x64 copy and prints its path
}

// The service's native libraries.
var (
	ONNXRuntimeLib = NativeLib{Name: "libonnxruntime.so.1", Env: "SERVEBENCH_ONNXRUNTIME_LIB", Cache: "onnxruntime-1.30.0", Setup: "scripts/setup-onnxruntime"}
	TurboJPEGLib   = NativeLib{Name: "libturbojpeg.so.0", Env: "SERVEBENCH_TURBOJPEG_LIB", Cache: "turbojpeg-2.1.5", Setup: "scripts/setup-turbojpeg"}
)

// CachePath is where the setup script leaves the library: under $SERVEBENCH_CACHE,
// else ${XDG_CACHE_HOME:-$HOME/.cache}/servebench, as the scripts themselves choose.
func (l NativeLib) CachePath() string {
	cache := os.Getenv("SERVEBENCH_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir() // "" leaves a relative path that will not exist, named in the error
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "servebench")
	}
	return filepath.Join(cache, l.Cache, l.Name)
}

// Env describes one deployment of the service.
type Env struct {
	// Scheme is the gocloud blob scheme: "s3" or "gs".
	Scheme string
	// Region is appended to s3 URLs (?region=...).
	Region   string
	Backend  string // onnxruntime | gomlx | auto
	Platform string // ecs | lambda | cloudfunctions (as the service reports it)
	MemoryMB int
	Port     int  // 0 = do not set PORT
	Preload  bool // load the model at start rather than on the first request
	// FacesSource is a face-set URL the faces functions fetch themselves (such as
	// the ORL archive's public home) instead of the uploaded copy at FacesKey;
	// "" = the upload.
	FacesSource string
}

// Vars is the environment for an input and an output bucket name.
func (e Env) Vars(input, output pulumi.StringInput) pulumi.StringMap {
	url := func(bucket pulumi.StringInput, key string) pulumi.StringOutput {
		return pulumi.All(bucket).ApplyT(func(v []any) string { return e.URL(v[0].(string), key) }).(pulumi.StringOutput)
	}
	m := pulumi.StringMap{
		"SERVEBENCH_INPUT_BUCKET":  url(input, ""),
		"SERVEBENCH_OUTPUT_BUCKET": url(output, ""),
		"SERVEBENCH_MODEL":         url(input, ModelKey),
		"SERVEBENCH_FACES_SOURCE":  url(input, FacesKey),
		// The endpoints are public: a caller must not choose what the function fetches.
		"SERVEBENCH_FACES_ALLOW_SOURCE": pulumi.String("false"),
		"SERVEBENCH_BACKEND":            pulumi.String(e.Backend),
		"SERVEBENCH_PLATFORM":           pulumi.String(e.Platform),
		"SERVEBENCH_MEMORY_MB":          pulumi.String(fmt.Sprint(e.MemoryMB)),
	}
	if e.FacesSource != "" {
		m["SERVEBENCH_FACES_SOURCE"] = pulumi.String(e.FacesSource)
	}
	if e.Port != 0 {
		m["PORT"] = pulumi.String(fmt.Sprint(e.Port))
	}
	if e.Preload {
		m["SERVEBENCH_PRELOAD"] = pulumi.String("true")
	}
	return m
}

// URL is the blob URL of a bucket, or of one key in it when key is not empty:
// s3://bucket/key?region=r, gs://bucket/key.
func (e Env) URL(bucket, key string) string {
	u := e.Scheme + "://" + bucket
	if key != "" {
		u += "/" + key
	}
	if e.Scheme == "s3" && e.Region != "" {
		u += "?region=" + e.Region
	}
	return u
}
