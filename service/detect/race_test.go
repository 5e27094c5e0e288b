//go:build race

package detect

import "testing"

// skipGoMLXRunUnderRace skips a test that runs the gomlx network: its Go backend
// (github.com/gomlx/compute v0.1.6) keeps slice addresses in uintptr variables in its
// matmul, which the checkptr instrumentation of -race rejects with a fatal error that
// would end the whole test binary (and its no_unsafe tag, meant to avoid that, does not
// build). scripts/test therefore also runs these tests without -race.
func skipGoMLXRunUnderRace(t testing.TB) {
	t.Helper()
	t.Skip("gomlx's Go backend cannot run under -race (checkptr rejects its matmul); " +
		"run `go test ./detect/` without -race, as scripts/test does")
}
