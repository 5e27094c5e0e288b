package stubprovider

import (
	"os"
	"strings"
)

// EnvEndpoints overrides the endpoints the stub makes up, so that a deployed
// stack's outputs point at services a test runs: a comma-separated list of
// key=value, with lb the load balancer's DNS name (the serverful url output is
// http://<lb>:<servebench:listenerPort>) and api the HTTP API's endpoint URL
// (the serverless url output), e.g. "lb=127.0.0.1,api=http://127.0.0.1:8081".
const EnvEndpoints = "SERVEBENCH_STUB_ENDPOINTS"

// Endpoint keys of EnvEndpoints.
const (
	EndpointLB  = "lb"
	EndpointAPI = "api"
)

// Endpoints is EnvEndpoints' value for the given overrides.
func Endpoints(m map[string]string) string {
	var parts []string
	for _, k := range []string{EndpointLB, EndpointAPI} {
		if v, ok := m[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, ",")
}

// endpointOr is the override of key from EnvEndpoints, else made.
func endpointOr(key, made string) string {
	for _, kv := range strings.Split(os.Getenv(EnvEndpoints), ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k == key && v != "" {
			return v
		}
	}
	return made
}
