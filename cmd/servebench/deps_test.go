package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The command reads stack files (cloud's preflight and estimate) through
// stacks/stackconfig, never the Pulumi program: linking the provider SDKs would make
// the first `go run ./cmd/servebench` of the local experiment compile them for minutes.
func TestCommandDoesNotLinkTheProviderSDKs(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/servebench/servebench/stacks" || strings.HasPrefix(p, "github.com/pulumi/pulumi-") {
			t.Errorf("cmd/servebench depends on %s", p)
		}
	}
}
