package results

import (
	"strings"
	"testing"
)

func TestPlatformHeader(t *testing.T) {
	for _, p := range []PlatformReport{
		{DurationMS: 292.98, BilledMS: 293, InitMS: 11.93, MaxMemoryMB: 117.25},
		{DurationMS: 51.53, BilledMS: 52}, // warm, memory not measured
	} {
		got, err := ParsePlatformHeader(p.Header())
		if err != nil || got == nil || *got != p {
			t.Errorf("%+v → %q → %+v, %v", p, p.Header(), got, err)
		}
	}
	if p, err := ParsePlatformHeader(" "); p != nil || err != nil {
		t.Errorf("empty header: %+v, %v; want nothing", p, err)
	}
	for _, bad := range []string{"duration_ms=1", "duration_ms=1, billed_ms=x", "duration_ms=1, billed_ms=2, cpu_ms=3", "duration_ms"} {
		if _, err := ParsePlatformHeader(bad); err == nil || !strings.Contains(err.Error(), PlatformHeader) {
			t.Errorf("%q: err %v, want one naming the header", bad, err)
		}
	}
}
