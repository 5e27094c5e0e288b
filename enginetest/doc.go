// Package enginetest runs the servebench Pulumi program under the real Pulumi
// engine (the CLI and the Go language host, from scripts/setup-pulumi) with stub
// resource providers (stubprovider) on a file:// backend, typing what a user types:
// stack init, up, preview, stack output, destroy, stack rm. The tests are in
// engine_test.go; without pulumi and pulumi-language-go on PATH they skip, or fail
// when SERVEBENCH_REQUIRE_ENGINE=1.
package enginetest
