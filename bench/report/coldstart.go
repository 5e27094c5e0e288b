package report

import (
	"fmt"

	"github.com/servebench/servebench/bench/results"
)

// How a request started, as the cold-start table shows it. A burst labelled cold
// or warm (results.GroupCold, GroupDeployCold, GroupWarm) is checked against
// each answer's server.cold and instance id: a request that contradicts its
// label is mislabelled, counted and shown apart and never averaged into the
// cold or warm figures. Requests of unlabelled groups (batches, rate steps) go
// by server.cold alone.
const (
	startForced     = "forced-cold"      // labelled cold (after a forced cold start): a fresh instance's first request
	startDeploy     = "deploy-cold"      // the first burst after a deploy, started cold: image caches were cold too
	startCold       = "cold"             // unlabelled group, the answer said cold
	startWarm       = "warm"             // labelled warm (or unlabelled) and the answer said warm
	startUnknown    = "unknown"          // no server.cold in the answer
	mislabelledCold = "mislabelled-cold" // labelled cold, but ran warm or on an instance that had served before
	mislabelledWarm = "mislabelled-warm" // labelled warm, but started cold
)

// startOrder is the order of the start kinds in tables.
var startOrder = map[string]int{startForced: 0, startDeploy: 1, startCold: 2, startWarm: 3, mislabelledCold: 4, mislabelledWarm: 5, startUnknown: 6}

// startOf classifies r.
func (g *grouping) startOf(r results.Record) string {
	if r.Cold == nil {
		return startUnknown
	}
	switch r.Group {
	case results.GroupCold, results.GroupDeployCold:
		switch {
		case !*r.Cold || g.servedBefore(r):
			return mislabelledCold
		case r.Group == results.GroupDeployCold:
			return startDeploy
		}
		return startForced
	case results.GroupWarm:
		if *r.Cold {
			return mislabelledWarm
		}
		return startWarm
	}
	return temperature(r)
}

// heat is the figures a start kind counts in: "cold", "warm", or "" (none:
// mislabelled or unknown).
func heat(start string) string {
	switch start {
	case startForced, startDeploy, startCold:
		return "cold"
	case startWarm:
		return "warm"
	}
	return ""
}

type instanceKey struct{ target, instance string }

// before orders requests by when they were sent, then by sequence number.
func before(a, b results.Record) bool {
	return a.Start.Before(b.Start) || a.Start.Equal(b.Start) && a.Seq < b.Seq
}

// noteFirstUse remembers each instance's first request (by when it was sent).
func (g *grouping) noteFirstUse(recs []results.Record) {
	g.firstUse = map[instanceKey]results.Record{}
	for _, r := range recs {
		if r.Instance == "" {
			continue
		}
		k := instanceKey{r.Target, r.Instance}
		if first, ok := g.firstUse[k]; !ok || before(r, first) {
			g.firstUse[k] = r
		}
	}
}

// servedBefore reports whether r's instance answered a request sent before r.
func (g *grouping) servedBefore(r results.Record) bool {
	first, ok := g.firstUse[instanceKey{r.Target, r.Instance}]
	return r.Instance != "" && ok && before(first, r)
}

// Mislabel counts the requests of one scenario, target and function whose
// answers contradict their burst's label.
type Mislabel struct {
	Scenario, Target, Function string
	Start                      string // mislabelledCold or mislabelledWarm
	N                          int
}

func (m Mislabel) String() string {
	what := "did not start cold on a fresh instance"
	if m.Start == mislabelledWarm {
		what = "started cold"
	}
	label := "cold"
	if m.Start == mislabelledWarm {
		label = "warm"
	}
	return fmt.Sprintf("%s %s %s: %d request(s) of a %s burst %s (mislabelled: counted apart, not in the cold/warm figures)",
		m.Scenario, m.Target, m.Function, m.N, label, what)
}

// mislabels counts the mislabelled requests among the successful ones, in group
// order.
func (g *grouping) mislabels() []Mislabel {
	var out []Mislabel
	idx := map[Mislabel]int{}
	for _, gr := range g.groups {
		for _, r := range g.records[groupKey{gr.Scenario, gr.Target, gr.Function, gr.Group}] {
			st := g.startOf(r)
			if !r.OK() || (st != mislabelledCold && st != mislabelledWarm) {
				continue
			}
			k := Mislabel{Scenario: r.Scenario, Target: r.Target, Function: r.Function, Start: st}
			i, ok := idx[k]
			if !ok {
				i = len(out)
				idx[k] = i
				out = append(out, k)
			}
			out[i].N++
		}
	}
	return out
}
