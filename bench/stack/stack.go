// Package stack reads a deployed Pulumi stack's outputs and finds the endpoints in
// them, so `servebench run --stack NAME` can measure what `pulumi up` stood up.
package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"sort"
	"strings"
)

// Endpoint is one base URL found in a stack's outputs.
type Endpoint struct {
	Name string // the stack name, or stack-<output> when it exports several
	URL  string
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

// Endpoints picks the base URLs out of a stack's outputs. The output "url" (or
// "endpoint") is the stack's endpoint, named after the stack, and must be an
// http(s) URL; other string outputs ending in "Url", "URL", "_url" or "Endpoint"
// that hold an http(s) URL are further endpoints named stack-<key without the
// suffix> (outputs such as an ECR repositoryUrl, which is no http URL, are not).
// Map outputs (one URL per function, as Cloud Functions have) are not endpoints of
// the base-URL contract and are skipped.
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
		name := stack
		if !primary {
			name = stack + "-" + short
		}
		out = append(out, Endpoint{Name: name, URL: strings.TrimRight(s, "/")})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("stack %s: no endpoint URL among its outputs (%s); expected a string output named url, endpoint or *Url holding an http(s) URL", stack, strings.Join(keys, ", "))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
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
