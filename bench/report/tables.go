package report

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/stats"
)

var (
	nan  = math.NaN()
	ms1  = fixed(1)
	rps  = fixed(3)
	mbFn = fixed(0)
)

// statCols are the columns of a stats.Summary, in ms.
var statCols = []column{
	{"n", nil}, {"mean_ms", ms1}, {"min_ms", ms1}, {"max_ms", ms1}, {"std_ms", ms1},
	{"p50_ms", ms1}, {"p90_ms", ms1}, {"p95_ms", ms1}, {"p99_ms", ms1},
}

func statValues(s stats.Summary) []any {
	return []any{s.N, s.Mean, s.Min, s.Max, s.Std, s.P50, s.P90, s.P95, s.P99}
}

func overviewTable(cs []Comparison) table {
	t := table{
		Name:  "summary",
		Title: "Summary per scenario",
		Note:  "Client time of successful requests; server time as the service measured it; billed time as the platform reported it (Lambda path only); throughput = successful requests over the wall span; cost per 1,000 requests at the measured load.",
		Cols: []column{
			{"scenario", nil}, {"target", nil}, {"function", nil}, {"requests", nil}, {"error_rate", percent},
			{"client_mean_ms", ms1}, {"client_p95_ms", ms1}, {"server_mean_ms", ms1}, {"billed_mean_ms", ms1}, {"throughput_rps", rps}, {"usd_per_1000", dollars},
		},
	}
	for _, c := range cs {
		for _, s := range c.Sides {
			t.Rows = append(t.Rows, []any{c.Scenario, s.Target, c.Function, s.Requests, s.ErrorRate, s.ClientMean, s.ClientP95, s.ServerMean, s.BilledMean, s.Throughput, s.Per1000})
		}
	}
	return t
}

func latencyTable(groups []*Group) table {
	t := table{
		Name:  "latency",
		Title: "Latency per target, scenario, function, group and measure",
		Note:  "Exact percentiles (linear interpolation between closest ranks); std with ddof 1; failed requests count in the error rate only.",
		Cols: append([]column{
			{"scenario", nil}, {"target", nil}, {"function", nil}, {"group", nil}, {"measure", nil},
			{"requests", nil}, {"errors", nil}, {"error_rate", percent}, {"throughput_rps", rps}, {"cold", nil}, {"warm", nil},
		}, statCols...),
	}
	for _, g := range groups {
		for _, m := range []struct {
			name string
			s    stats.Summary
		}{{Client, g.Client}, {Server, g.Server}, {Billed, g.Billed}} {
			if m.name != Client && m.s.N == 0 {
				continue
			}
			row := []any{g.Scenario, g.Target, g.Function, g.Group, m.name, g.Total, g.Failed, g.ErrorRate, g.Throughput, g.Cold, g.Warm}
			t.Rows = append(t.Rows, append(row, statValues(m.s)...))
		}
	}
	return t
}

// coldWarmTable is the Eigenfaces study's Table 1: mean, min, max, std per memory
// size, client/server, cold/warm and function (and, here, scenario and target),
// with forced cold starts, first requests after a deploy and mislabelled requests
// apart.
func coldWarmTable(g *grouping, pr pricing) table {
	t := table{
		Name:  "table1_coldwarm",
		Title: "Cold and warm requests (the Eigenfaces study's Table 1)",
		Note: "Cold/warm as the service reported it for each request (server.cold), checked against the burst's label: " +
			"forced-cold = the burst after a forced cold start, each request a fresh instance's first; deploy-cold = the first burst after a deploy (image caches cold too); " +
			"cold/warm = the answer's flag in unlabelled groups (batches, rate steps) and warm bursts; " +
			"mislabelled-cold = in a cold burst but ran warm or on an instance that had served before; mislabelled-warm = in a warm burst but started cold. " +
			"Mislabelled requests are counted here and in no other cold or warm figure. Memory as each answer reported it, else as priced. " +
			"std is the sample standard deviation (ddof 1), sem the standard error of the mean (std / √n), side by side: the Eigenfaces study's Table 1 column labelled \"std\" matches the standard error " +
			"(n = 30 with min 2.14 and max 9.12: no sample standard deviation can be 0.26, it is at least about 0.9), so compare its figures with sem.",
		Cols: []column{
			{"scenario", nil}, {"target", nil}, {"memory_mb", mbFn}, {"function", nil}, {"measure", nil}, {"start", nil},
			{"n", nil}, {"mean_ms", ms1}, {"min_ms", ms1}, {"max_ms", ms1}, {"std_ms", ms1}, {"sem_ms", ms1}, {"p50_ms", ms1},
		},
	}
	type key struct {
		scenario, target, function string
		memory                     int
		start                      string
	}
	var keys []key
	by := map[key][]results.Record{}
	for _, gr := range g.groups {
		for _, r := range g.records[groupKey{gr.Scenario, gr.Target, gr.Function, gr.Group}] {
			k := key{gr.Scenario, gr.Target, gr.Function, pr.memoryOfRecord(r), g.startOf(r)}
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], r)
		}
	}
	// Keep the groups' order of (scenario, target, function), then memory, then
	// the start kinds' order.
	first := map[[3]string]int{}
	for i, k := range keys {
		if _, ok := first[[3]string{k.scenario, k.target, k.function}]; !ok {
			first[[3]string{k.scenario, k.target, k.function}] = i
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(
			cmp.Compare(first[[3]string{a.scenario, a.target, a.function}], first[[3]string{b.scenario, b.target, b.function}]),
			cmp.Compare(a.memory, b.memory),
			cmp.Compare(startOrder[a.start], startOrder[b.start]))
	})
	for _, measure := range []string{Client, Server, Billed} {
		for _, k := range keys {
			client, server := measures(by[k])
			xs := client
			switch measure {
			case Server:
				xs = server
			case Billed:
				xs = billedTimes(by[k])
			}
			if len(xs) == 0 {
				continue
			}
			s := stats.Summarize(xs)
			mem := nan // serverful, or unknown
			if k.memory > 0 {
				mem = float64(k.memory)
			}
			t.Rows = append(t.Rows, []any{k.scenario, k.target, mem, k.function, measure, k.start, s.N, s.Mean, s.Min, s.Max, s.Std, stats.StdErr(xs), s.P50})
		}
	}
	return t
}

// knownStages are the service's timings_ms stages in the order they happen.
var knownStages = []string{"init", "download", "decode", "inference", "draw", "encode", "upload"}

// stageMeans returns, per (target, function, cold/warm), the mean milliseconds of
// each stage over the successful requests that reported timings; a stage a request
// did not report counts as 0 for it. "other" is total minus the listed stages
// (init excluded: it precedes the request's clock).
type stageRow struct {
	target, function, temp string
	n                      int
	means                  map[string]float64
}

func stageMeans(g *grouping) (rows []stageRow, stages []string) {
	extra := map[string]bool{}
	idx := map[[3]string]int{}
	for _, gr := range g.groups {
		for _, r := range g.records[groupKey{gr.Scenario, gr.Target, gr.Function, gr.Group}] {
			if !r.OK() || len(r.TimingsMS) == 0 {
				continue
			}
			k := [3]string{r.Target, r.Function, temperature(r)}
			i, ok := idx[k]
			if !ok {
				i = len(rows)
				idx[k] = i
				rows = append(rows, stageRow{target: k[0], function: k[1], temp: k[2], means: map[string]float64{}})
			}
			row := &rows[i]
			row.n++
			listed := 0.0
			for name, v := range r.TimingsMS {
				if name == "total" {
					continue
				}
				row.means[name] += v
				if name != "init" {
					listed += v
				}
				if !slices.Contains(knownStages, name) {
					extra[name] = true
				}
			}
			row.means["other"] += max(0, r.TimingsMS["total"]-listed)
		}
	}
	for i := range rows {
		for k := range rows[i].means {
			rows[i].means[k] /= float64(rows[i].n)
		}
	}
	slices.SortStableFunc(rows, func(a, b stageRow) int {
		return cmp.Or(cmp.Compare(a.target, b.target), cmp.Compare(a.function, b.function), cmp.Compare(a.temp, b.temp))
	})
	stages = append(slices.Clone(knownStages), slices.Sorted(maps.Keys(extra))...)
	stages = append(stages, "other")
	// Keep only stages some row has.
	stages = slices.DeleteFunc(stages, func(s string) bool {
		for _, r := range rows {
			if _, ok := r.means[s]; ok {
				return false
			}
		}
		return true
	})
	return rows, stages
}

func stagesTable(g *grouping) table {
	rows, stages := stageMeans(g)
	t := table{
		Name:  "stages",
		Title: "Server stage breakdown (mean ms per request)",
		Note:  "From timings_ms of successful requests. init is the instance start-up, reported on cold requests only; other = total minus the listed stages.",
		Cols:  []column{{"target", nil}, {"function", nil}, {"start", nil}, {"n", nil}},
	}
	for _, s := range stages {
		t.Cols = append(t.Cols, column{s + "_ms", ms1})
	}
	for _, r := range rows {
		row := []any{r.target, r.function, r.temp, r.n}
		for _, s := range stages {
			row = append(row, r.means[s])
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func costTable(cs []Comparison, pr pricing) table {
	t := table{
		Name:  "cost",
		Title: "Cost per 1,000 requests",
		Note: fmt.Sprintf("At the load each scenario offered, cold starts and all (the cost against load table answers for a sustained rate). Prices: %s (%s). Serverless from each answered request's billed time (the platform's billed duration where it reported one, else total + init, rounded up to the billing increment); serverful from the hourly cost of its instances with their public addresses, root volumes and surplus CPU + ALB over the highest throughput of a group at least %v long; bucket requests on both sides. priced_from says where each target's instance type, fleet size or memory came from: only the results header's deployment records, else the study's defaults (said so).",
			pr.prices.Date, pr.prices.Note, minSustainedSpan),
		Cols: []column{
			{"scenario", nil}, {"function", nil}, {"target", nil}, {"billing", nil}, {"memory_mb", mbFn},
			{"requests", nil}, {"server_mean_ms", ms1}, {"sustained_rps", rps}, {"instances", nil}, {"usd_per_1000", dollars}, {"basis", nil}, {"priced_from", nil},
		},
	}
	for _, c := range cs {
		for _, s := range c.Sides {
			t.Rows = append(t.Rows, []any{c.Scenario, c.Function, s.Target, string(s.Kind), s.MemoryMB, s.Requests, s.ServerMean, s.Sustained, s.Instances, s.Per1000, s.CostNote, s.PricedFrom})
		}
	}
	return t
}

// serversTable says what answered each target: the platform, the detector's backend
// and threads, the JPEG codec and the memory size, with how many answers said so. A
// comparison of two platforms is only one if both ran the same code.
func serversTable(recs []results.Record) table {
	t := table{
		Name:  "servers",
		Title: "What answered",
		Note:  "From each answer's server object: a target whose answers differ (a fallback backend, another thread count) has a row per kind.",
		Cols: []column{
			{"target", nil}, {"platform", nil}, {"backend", nil}, {"threads", nil}, {"codec", nil}, {"memory_mb", nil}, {"answers", nil},
		},
	}
	type kind struct {
		target, platform, backend, codec string
		threads, memoryMB                int
	}
	counts := map[kind]int{}
	for _, r := range recs {
		if r.Instance == "" { // no server object: a failure before the service answered
			continue
		}
		counts[kind{r.Target, r.Platform, r.Backend, r.Codec, r.Threads, r.MemoryMB}]++
	}
	kinds := slices.SortedFunc(maps.Keys(counts), func(a, b kind) int {
		return cmp.Or(cmp.Compare(a.target, b.target), cmp.Compare(counts[b], counts[a]),
			cmp.Compare(a.backend, b.backend), cmp.Compare(a.threads, b.threads), cmp.Compare(a.codec, b.codec),
			cmp.Compare(a.platform, b.platform), cmp.Compare(a.memoryMB, b.memoryMB))
	})
	orDash := func(s string) any {
		if s == "" {
			return dash
		}
		return s
	}
	for _, k := range kinds {
		threads, mem := any(k.threads), any(k.memoryMB)
		if k.threads == 0 {
			threads = dash
		}
		if k.memoryMB == 0 {
			mem = dash
		}
		t.Rows = append(t.Rows, []any{k.target, orDash(k.platform), orDash(k.backend), threads, orDash(k.codec), mem, counts[k]})
	}
	return t
}
