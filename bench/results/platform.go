package results

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// PlatformHeader carries a PlatformReport on an answer, from a local front door
// (which reads the platform's log) to the load generator (which records it), in
// the form "duration_ms=12.34, billed_ms=13, init_ms=16.9, max_memory_mb=130".
const PlatformHeader = "Servebench-Platform"

// Header is p as PlatformHeader's value; zero optional figures are left out.
func (p PlatformReport) Header() string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	v := "duration_ms=" + f(p.DurationMS) + ", billed_ms=" + f(p.BilledMS)
	if p.InitMS > 0 {
		v += ", init_ms=" + f(p.InitMS)
	}
	if p.MaxMemoryMB > 0 {
		v += ", max_memory_mb=" + f(p.MaxMemoryMB)
	}
	return v
}

// ParsePlatformHeader reads PlatformHeader's value; nil, nil when it is empty. An
// unknown name is an error, so that a figure is never silently lost.
func ParsePlatformHeader(v string) (*PlatformReport, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var p PlatformReport
	seen := map[string]bool{}
	for _, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		x, err := strconv.ParseFloat(val, 64)
		// A time or a size is finite and not negative; NaN, Inf or a negative
		// figure would poison every statistic the report computes from it (and
		// a negative one would not survive Header, which drops figures ≤ 0).
		if !ok || err != nil || math.IsInf(x, 0) || math.IsNaN(x) || x < 0 {
			return nil, fmt.Errorf("%s %q: %q is not name=number (a finite figure ≥ 0)", PlatformHeader, v, part)
		}
		if seen[k] { // the second would silently replace the first
			return nil, fmt.Errorf("%s %q: %s given twice", PlatformHeader, v, k)
		}
		switch k {
		case "duration_ms":
			p.DurationMS = x
		case "billed_ms":
			p.BilledMS = x
		case "init_ms":
			p.InitMS = x
		case "max_memory_mb":
			p.MaxMemoryMB = x
		default:
			return nil, fmt.Errorf("%s %q: unknown figure %q", PlatformHeader, v, k)
		}
		seen[k] = true
	}
	if !seen["duration_ms"] || !seen["billed_ms"] {
		return nil, fmt.Errorf("%s %q: duration_ms and billed_ms are required", PlatformHeader, v)
	}
	return &p, nil
}
