// Package stack reads a deployed Pulumi stack's outputs and finds the endpoints in
// them, so `servebench run --stack NAME` can measure what `pulumi up` stood up.
package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
)

// Endpoint is one target found in a stack's outputs.
type Endpoint struct {
	Name string // the stack name, stack-<output> when it exports several, stack-gcf-<memory>
	URL  string // base URL; "" for Cloud Functions, whose routes each have their own
	// Routes maps a route to the URL serving it (Cloud Functions: one function per route).
	Routes map[string]string
	// FunctionNames maps a route to its Cloud Function's name (gcpFunctionNames), so
	// the caller can force that function cold.
	FunctionNames map[string]string
	// Deployment is what the endpoint runs on, as far as the outputs say; nil when
	// they do not say which platform it is.
	Deployment *results.Deployment
}

// Target is the endpoint as a scenario target (without a way to force it cold:
// that needs cloud clients the caller has), serverless when its platform is.
func (e Endpoint) Target() scenario.Target {
	serverless := e.Deployment != nil && (e.Deployment.Platform == "lambda" || e.Deployment.Platform == "cloudfunctions")
	return scenario.Target{Name: e.Name, URL: e.URL, Routes: e.Routes, Serverless: serverless}
}

// Outputs runs `pulumi stack output --json --stack name` and returns its JSON.
func Outputs(ctx context.Context, name string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "pulumi", "stack", "output", "--json", "--stack", name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var nf *exec.Error
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("stack %s: the pulumi CLI is needed to read a stack's outputs: %w", name, err)
		}
		return nil, fmt.Errorf("stack %s: pulumi stack output: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Endpoints picks the endpoints out of a stack's outputs. The output "url" (or
// "endpoint") is the stack's endpoint, named after the stack, and must be an
// http(s) URL; other string outputs ending in "Url", "URL", "_url" or "Endpoint"
// that hold an http(s) URL are further endpoints named stack-<key without the
// suffix> (outputs such as an ECR repositoryUrl, which is no http URL, are not).
// The Cloud Functions map gcpUrls (key <entry>-<memory>, as infra/gcpfunctions.Key
// builds it) gives one endpoint per memory size, stack-gcf-<memory>, whose routes
// are its functions' URLs. Other map outputs are skipped.
func Endpoints(stack string, outputs []byte) ([]Endpoint, error) {
	var m map[string]any
	if err := json.Unmarshal(outputs, &m); err != nil {
		return nil, fmt.Errorf("stack %s: outputs are not a JSON object: %w", stack, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Endpoint
	for _, k := range keys {
		s, ok := m[k].(string)
		if !ok {
			continue
		}
		short, primary, ok := endpointKey(k)
		if !ok {
			continue
		}
		if !isHTTP(s) {
			if primary {
				return nil, fmt.Errorf("stack %s: output %s=%q is not an http(s) URL", stack, k, s)
			}
			continue
		}
		ep := Endpoint{Name: stack, URL: strings.TrimRight(s, "/")}
		if primary {
			d, err := deployment(stack, m, ep.URL)
			if err != nil {
				return nil, err
			}
			ep.Deployment = d
		} else {
			ep.Name = stack + "-" + short
		}
		out = append(out, ep)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	// Cloud Functions after, in memory order.
	gcf, err := cloudFunctions(stack, m)
	if err != nil {
		return nil, err
	}
	out = append(out, gcf...)
	if len(out) == 0 {
		return nil, fmt.Errorf("stack %s: no endpoint URL among its outputs (%s); expected a string output named url, endpoint or *Url holding an http(s) URL, or gcpUrls", stack, strings.Join(keys, ", "))
	}
	return out, nil
}

// platforms maps the stack's "mode" output to the platform its url runs on.
var platforms = map[string]string{"serverful": "ecs", "serverless": "lambda"}

// deployment is the record of the stack's primary endpoint, from the outputs the
// program exports (stacks/program.go: mode, region; and, where exported, the
// fleet's and the function's sizes); nil when mode names no known platform.
func deployment(stack string, m map[string]any, endpoint string) (*results.Deployment, error) {
	mode, _ := m["mode"].(string)
	platform, ok := platforms[mode]
	if !ok {
		return nil, nil
	}
	d := &results.Deployment{Platform: platform, Stack: stack, Endpoint: endpoint}
	d.Region, _ = m["region"].(string)
	var errs []error
	str := func(key string, dst *string) {
		if v, ok := m[key]; ok {
			if *dst, ok = v.(string); !ok {
				errs = append(errs, fmt.Errorf("stack %s: output %s=%v is not a string", stack, key, v))
			}
		}
	}
	num := func(key string, dst *int) {
		v, ok := m[key]
		if !ok {
			return
		}
		f, ok := v.(float64)
		if !ok || f != float64(int(f)) {
			errs = append(errs, fmt.Errorf("stack %s: output %s=%v is not a whole number", stack, key, v))
			return
		}
		*dst = int(f)
	}
	switch platform {
	case "ecs":
		str("instanceType", &d.InstanceType)
		num("minSize", &d.MinInstances)
		num("maxSize", &d.MaxInstances)
		num("taskCpu", &d.TaskCPU)
		num("taskMemoryMb", &d.TaskMemoryMB)
	case "lambda":
		num("lambdaMemoryMb", &d.MemoryMB)
		str("lambdaArchitecture", &d.Architecture)
	}
	return d, errors.Join(errs...)
}

// entryRoutes maps a Cloud Functions key's entry part (infra/gcpfunctions.Key:
// the entry point with "_" as "-") to the route its function serves, as the
// service registers them (service/functions.go, Functions).
var entryRoutes = map[string]string{
	"predict":             "/predict",
	"faces-download-data": "/faces/download_data",
	"faces-train":         "/faces/train",
	"faces-upload":        "/faces/upload",
	"faces-predict":       "/faces/predict",
}

// cloudFunctions groups the gcpUrls output by memory size: one endpoint per size.
func cloudFunctions(stack string, m map[string]any) ([]Endpoint, error) {
	raw, ok := m["gcpUrls"]
	if !ok {
		return nil, nil
	}
	urls, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("stack %s: output gcpUrls is not a map of <entry>-<memory> to URL", stack)
	}
	names, _ := m["gcpFunctionNames"].(map[string]any)
	region, _ := m["gcpRegion"].(string)
	byMem := map[int]*Endpoint{}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(urls)) {
		u, _ := urls[key].(string)
		entry, memStr, _ := cut(key)
		mem, err := strconv.Atoi(memStr)
		route, known := entryRoutes[entry]
		switch {
		case err != nil || mem <= 0:
			errs = append(errs, fmt.Errorf("stack %s: gcpUrls key %q: want <entry>-<memory MiB>, e.g. predict-1024", stack, key))
			continue
		case !known:
			errs = append(errs, fmt.Errorf("stack %s: gcpUrls key %q: entry %q is none of %s", stack, key, entry, strings.Join(slices.Sorted(maps.Keys(entryRoutes)), ", ")))
			continue
		case !isHTTP(u):
			errs = append(errs, fmt.Errorf("stack %s: gcpUrls[%s]=%v is not an http(s) URL", stack, key, urls[key]))
			continue
		}
		ep := byMem[mem]
		if ep == nil {
			ep = &Endpoint{
				Name: fmt.Sprintf("%s-gcf-%d", stack, mem), Routes: map[string]string{}, FunctionNames: map[string]string{},
				Deployment: &results.Deployment{Platform: "cloudfunctions", Stack: stack, Region: region, MemoryMB: mem, Functions: map[string]string{}},
			}
			byMem[mem] = ep
		}
		u = strings.TrimRight(u, "/")
		ep.Routes[route] = u
		ep.Deployment.Functions[route] = u
		if n, ok := names[key].(string); ok {
			ep.FunctionNames[route] = n
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []Endpoint
	for _, mem := range slices.Sorted(maps.Keys(byMem)) {
		out = append(out, *byMem[mem])
	}
	return out, nil
}

// cut splits "faces-train-2048" at its last "-".
func cut(key string) (entry, mem string, ok bool) {
	i := strings.LastIndex(key, "-")
	if i < 0 {
		return key, "", false
	}
	return key[:i], key[i+1:], true
}

func isHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func endpointKey(k string) (short string, primary, ok bool) {
	switch strings.ToLower(k) {
	case "url", "endpoint":
		return k, true, true
	}
	for _, suf := range []string{"Url", "URL", "_url", "Endpoint", "_endpoint"} {
		if s, found := strings.CutSuffix(k, suf); found && s != "" {
			return s, false, true
		}
	}
	return "", false, false
}
