//go:build !race

package detect

import "testing"

// skipGoMLXRunUnderRace: see race_test.go; without -race the gomlx network runs.
func skipGoMLXRunUnderRace(testing.TB) {}
