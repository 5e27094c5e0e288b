package report

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/stats"
)

// Measures: client time is measured by the load generator around one request
// (from its intended start to the end of the body); server time is what the
// service reported in timings_ms.total; billed time is what the platform billed
// for it (platform_report.billed_ms: the Lambda path's REPORT line), where known.
const (
	Client = "client"
	Server = "server"
	Billed = "billed"
)

// temperature of a request as the service reported it.
func temperature(r results.Record) string {
	switch {
	case r.Cold == nil:
		return "unknown"
	case *r.Cold:
		return "cold"
	default:
		return "warm"
	}
}

// start is when a request was meant to go (open loop), else when it went.
func start(r results.Record) time.Time {
	if !r.Intended.IsZero() {
		return r.Intended
	}
	return r.Start
}

func end(r results.Record) time.Time {
	return start(r).Add(time.Duration(r.ClientMS * float64(time.Millisecond)))
}

// Group is one unit of a scenario on one target: a batch, a burst, a rate step.
type Group struct {
	Scenario, Target, Function, Group string
	Index                             int // the batch/burst/step number, for ordering
	Total, Failed                     int
	ErrorRate                         float64
	Throughput                        float64 // successful requests / wall span, req/s
	Client, Server, Billed            stats.Summary
	Cold, Warm                        int
	From, To                          time.Time
}

type groupKey struct{ scenario, target, function, group string }

// grouping holds the records of a run sorted into groups and their statistics.
type grouping struct {
	scenarios []string // in the header's order, then any others sorted
	groups    []*Group
	records   map[groupKey][]results.Record
	firstUse  map[instanceKey]results.Record // each instance's first request
}

func groupRecords(h results.Header, recs []results.Record) *grouping {
	g := &grouping{records: map[groupKey][]results.Record{}}
	g.noteFirstUse(recs)
	index := map[groupKey]int{}
	for _, r := range recs {
		k := groupKey{r.Scenario, r.Target, r.Function, r.Group}
		g.records[k] = append(g.records[k], r)
		if _, ok := index[k]; !ok || r.Batch < index[k] {
			index[k] = r.Batch
		}
	}
	seen := map[string]bool{}
	for _, s := range h.Scenarios {
		if !seen[s] {
			seen[s] = true
			g.scenarios = append(g.scenarios, s)
		}
	}
	var extra []string
	for k := range g.records {
		if !seen[k.scenario] {
			seen[k.scenario] = true
			extra = append(extra, k.scenario)
		}
	}
	slices.Sort(extra)
	g.scenarios = append(g.scenarios, extra...)
	// Scenarios named in the header but without records have nothing to show.
	g.scenarios = slices.DeleteFunc(g.scenarios, func(s string) bool {
		for k := range g.records {
			if k.scenario == s {
				return false
			}
		}
		return true
	})
	order := map[string]int{}
	for i, s := range g.scenarios {
		order[s] = i
	}
	keys := slices.Collect(maps.Keys(g.records))
	slices.SortFunc(keys, func(a, b groupKey) int {
		return cmp.Or(
			cmp.Compare(order[a.scenario], order[b.scenario]),
			cmp.Compare(a.target, b.target),
			cmp.Compare(a.function, b.function),
			cmp.Compare(index[a], index[b]),
			cmp.Compare(a.group, b.group),
		)
	})
	for _, k := range keys {
		g.groups = append(g.groups, summarizeGroup(k, index[k], g.records[k]))
	}
	return g
}

func summarizeGroup(k groupKey, idx int, recs []results.Record) *Group {
	gr := &Group{Scenario: k.scenario, Target: k.target, Function: k.function, Group: k.group, Index: idx, Total: len(recs)}
	client, server := measures(recs)
	for _, r := range recs {
		if !r.OK() {
			gr.Failed++
			continue
		}
		switch temperature(r) {
		case "cold":
			gr.Cold++
		case "warm":
			gr.Warm++
		}
	}
	gr.From, gr.To = span(recs)
	gr.Client, gr.Server, gr.Billed = stats.Summarize(client), stats.Summarize(server), stats.Summarize(billedTimes(recs))
	gr.ErrorRate = stats.ErrorRate(gr.Failed, gr.Total)
	gr.Throughput = stats.Throughput(gr.Total-gr.Failed, gr.To.Sub(gr.From))
	return gr
}

// measures returns the client and server times of the successful requests among
// recs. Failures count in the error rate only: a timeout's duration is the
// timeout, not the service's latency.
func measures(recs []results.Record) (client, server []float64) {
	for _, r := range recs {
		if !r.OK() {
			continue
		}
		client = append(client, r.ClientMS)
		if r.ServerMS > 0 {
			server = append(server, r.ServerMS)
		}
	}
	return client, server
}

// billedTimes returns the platform's billed milliseconds of the successful
// requests among recs that carry them.
func billedTimes(recs []results.Record) []float64 {
	var out []float64
	for _, r := range recs {
		if r.OK() && r.PlatformReport != nil {
			out = append(out, r.PlatformReport.BilledMS)
		}
	}
	return out
}

// span is the wall time from the first request's start to the last one's end,
// over all of recs (failures too: they occupied the run).
func span(recs []results.Record) (from, to time.Time) {
	for i, r := range recs {
		s, e := start(r), end(r)
		if i == 0 || s.Before(from) {
			from = s
		}
		if i == 0 || e.After(to) {
			to = e
		}
	}
	return from, to
}

// sel returns the records of the groups that match scenario, target and
// function ("" matches any).
func (g *grouping) sel(scenario, target, function string) []results.Record {
	var out []results.Record
	for _, gr := range g.groups {
		if (scenario == "" || gr.Scenario == scenario) && (target == "" || gr.Target == target) && (function == "" || gr.Function == function) {
			out = append(out, g.records[groupKey{gr.Scenario, gr.Target, gr.Function, gr.Group}]...)
		}
	}
	return out
}

// pairs lists the (target, function) pairs of a scenario in group order.
func (g *grouping) pairs(scenario string) (targets, functions []string) {
	for _, gr := range g.groups {
		if gr.Scenario != scenario {
			continue
		}
		if !slices.Contains(targets, gr.Target) {
			targets = append(targets, gr.Target)
		}
		if !slices.Contains(functions, gr.Function) {
			functions = append(functions, gr.Function)
		}
	}
	return targets, functions
}

// targets lists every target of the run, sorted.
func (g *grouping) targets() []string {
	var ts []string
	for _, gr := range g.groups {
		if !slices.Contains(ts, gr.Target) {
			ts = append(ts, gr.Target)
		}
	}
	slices.Sort(ts)
	return ts
}
