package report

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/stats"
	"github.com/servebench/servebench/study"
)

// Side is one target's showing in one scenario and function.
type Side struct {
	Target     string
	Kind       cost.Kind // "" when the target's billing is unknown
	MemoryMB   float64   // serverless memory setting priced, MB; NaN for serverful
	Requests   int
	Errors     int
	ErrorRate  float64
	ClientMean float64 // ms
	ClientP95  float64 // ms
	ServerMean float64 // ms
	BilledMean float64 // ms, as the platform billed it; NaN where it reported none
	Throughput float64 // successful req/s over the scenario's span on this target
	// Sustained is the highest throughput of a group at least minSustainedSpan
	// long, req/s: what the fleet is priced on here. NaN when no group is.
	Sustained  float64
	Instances  int     // serverful instances the sustained rate ran on
	Per1000    float64 // USD per 1,000 requests at the measured load; NaN when not priced
	PerRequest float64 // serverless USD per request; NaN for serverful
	CostNote   string  // assumptions or why not priced
	PricedFrom string  // where the target's billing settings came from
}

// Comparison is one scenario and function at the load the scenario offered. The
// answer across loads is the function's Load (load.go).
type Comparison struct {
	Scenario, Function string
	Sides              []Side
	FasterMean         string // target with the lower mean client time, or Tie
	FasterP95          string
	Cheaper            string // target with the lower cost per 1,000 requests at the measured load, or Tie
}

// minSustainedSpan is the shortest group whose throughput can stand for what a
// side sustains: a burst of a few milliseconds says nothing of a steady rate,
// while a rate step (5 s by default) spans a little less than its length.
const minSustainedSpan = 4 * time.Second

// pricing holds what the cost model needs beyond the price list, per target.
type pricing struct {
	prices     cost.PriceList
	kinds      map[string]cost.Kind
	memory     map[string]int
	memoryNote map[string]string
	fleets     map[string]fleetSpec // serverful targets
	arch       map[string]string    // the deployment record's architecture, where known
	forced     map[string]int       // Options.MemoryMB: priced at this size whatever the answers said
	local      map[string]bool      // ran on this machine (deployment platform "local")
}

// fleetSpec is a serverful target's fleet as priced, and where it came from.
type fleetSpec struct {
	InstanceType string
	Min, Max     int // Max 0: not recorded
	Source       string
}

// Sources of a fleet's description, strongest first. The untyped run config is
// no source: `run` never filled it, so it priced what it guessed.
const (
	fromOptions    = "report options"
	fromDeployment = "deployment record (header.deployments)"
)

// studyDefaults names what a target without a deployment record is priced as.
var studyDefaults = fmt.Sprintf("assumed: study defaults (%s, %d..%d instances; Lambda %d MB, Cloud Functions %d MB): the results file records no deployment",
	study.InstanceType, study.MinInstances, study.MaxInstances, study.LambdaMemoryMB, study.GCFMemoryMB)

func newPricing(h results.Header, recs []results.Record, opt Options, prices cost.PriceList) pricing {
	p := pricing{
		prices: prices, kinds: map[string]cost.Kind{}, memory: map[string]int{}, memoryNote: map[string]string{},
		fleets: map[string]fleetSpec{}, arch: map[string]string{}, forced: opt.MemoryMB, local: map[string]bool{},
	}
	platforms := map[string]string{}
	reported := map[string]int{} // memory the service said it runs with
	for _, r := range recs {
		if r.Platform != "" && platforms[r.Target] == "" {
			platforms[r.Target] = r.Platform
		}
		if r.MemoryMB > 0 && reported[r.Target] == 0 {
			reported[r.Target] = r.MemoryMB
		}
	}
	for _, r := range recs {
		t := r.Target
		if _, done := p.kinds[t]; done {
			continue
		}
		dep, hasDep := h.Deployments[t]
		platform := platforms[t]
		if hasDep && dep.Platform != "" && dep.Platform != "local" {
			platform = dep.Platform // what was deployed, before what answered
		}
		p.local[t] = hasDep && dep.Platform == "local"
		p.kinds[t] = kindOf(t, platform, opt.Kinds)
		depMB := 0
		if hasDep {
			depMB = dep.MemoryMB
			p.arch[t] = dep.Architecture
		}
		p.memory[t], p.memoryNote[t] = memoryOf(t, p.kinds[t], reported[t], depMB, p.local[t], opt.MemoryMB)
		if p.kinds[t] == cost.Serverful {
			p.fleets[t] = fleetOf(dep, hasDep, opt)
		}
	}
	return p
}

// fleetOf describes a serverful target's fleet: the options, else its typed
// deployment record, else the study's fleet (said to be assumed). A local
// deployment records its instance counts but no instance type: it is priced as
// the study's.
func fleetOf(dep results.Deployment, hasDep bool, opt Options) fleetSpec {
	f := fleetSpec{InstanceType: study.InstanceType, Min: study.MinInstances, Max: study.MaxInstances, Source: studyDefaults}
	if hasDep {
		f.Source = fromDeployment
		if dep.MinInstances > 0 {
			f.Min, f.Max = dep.MinInstances, dep.MaxInstances
		}
		switch {
		case dep.InstanceType != "":
			f.InstanceType = dep.InstanceType
		case dep.Platform == "local":
			f.Source = fmt.Sprintf("%s; instance type assumed: the study's %s (a local run)", fromDeployment, study.InstanceType)
		default:
			f.Source = fmt.Sprintf("%s; instance type not recorded: assumed the study's %s", fromDeployment, study.InstanceType)
		}
	}
	if opt.InstanceType != "" {
		f.InstanceType, f.Source = opt.InstanceType, fromOptions
	}
	if opt.MinInstances > 0 {
		f.Min, f.Source = opt.MinInstances, fromOptions
	}
	return f
}

// String is the fleet as a note reads it: "1..5 × t3a.xlarge".
func (f fleetSpec) String() string {
	if f.Max > 0 {
		return fmt.Sprintf("%d..%d × %s", f.Min, f.Max, f.InstanceType)
	}
	return fmt.Sprintf("at least %d × %s", f.Min, f.InstanceType)
}

// kindOf decides how a target is billed: the option, else the platform the service
// reported, else the target's name.
func kindOf(target, platform string, override map[string]cost.Kind) cost.Kind {
	if k, ok := override[target]; ok {
		return k
	}
	switch platform {
	case "lambda":
		return cost.Lambda
	case "cloudfunctions":
		return cost.CloudFunctions
	case "ecs", "ec2":
		return cost.Serverful
	}
	n := strings.ToLower(target)
	switch {
	case strings.Contains(n, "lambda") || strings.Contains(n, "serverless"):
		return cost.Lambda
	case strings.Contains(n, "gcf") || strings.Contains(n, "cloudfunction") || strings.Contains(n, "gcp"):
		return cost.CloudFunctions
	case strings.Contains(n, "serverful") || strings.Contains(n, "ecs") || strings.Contains(n, "ec2"):
		return cost.Serverful
	}
	return ""
}

// memoryOf finds a serverless target's memory size: Options.MemoryMB, else its
// deployment record, else what the service reported in server.memory_mb, else the
// size the stacks deploy (noted as assumed).
func memoryOf(target string, kind cost.Kind, reported, deployed int, local bool, override map[string]int) (int, string) {
	if mb, ok := override[target]; ok && mb > 0 {
		return mb, "from options"
	}
	if deployed > 0 {
		if local {
			return deployed, "assumed by the local run"
		}
		return deployed, "from the deployment record"
	}
	if reported > 0 {
		return reported, "reported by the service"
	}
	if mb, ok := cost.StudyMemoryMB[kind]; ok {
		return mb, "assumed (the size the stacks deploy; no deployment record)"
	}
	return 0, ""
}

// billedMS is what a serverless platform bills for one answered request: its own
// billed duration where it reported one (the Lambda path's REPORT), else the
// handler's total plus, on a cold start, the init phase (Lambda bills INIT for
// every function since August 2025; Cloud Run bills instance start-up).
func billedMS(r results.Record) float64 {
	if r.PlatformReport != nil {
		return r.PlatformReport.BilledMS
	}
	return r.ServerMS + r.TimingsMS["init"]
}

// compare builds the comparison of one scenario and function.
func (g *grouping) compare(scenario, function string, pr pricing, samples []results.Sample) Comparison {
	c := Comparison{Scenario: scenario, Function: function}
	targets, _ := g.pairs(scenario)
	for _, t := range targets {
		recs := g.sel(scenario, t, function)
		if len(recs) == 0 {
			continue
		}
		s := Side{Target: t, Kind: pr.kinds[t], Requests: len(recs), Per1000: math.NaN(), PerRequest: math.NaN(), MemoryMB: math.NaN()}
		for _, r := range recs {
			if !r.OK() {
				s.Errors++
			}
		}
		client, server := measures(recs)
		sum := stats.Summarize(client)
		s.ClientMean, s.ClientP95 = sum.Mean, sum.P95
		s.ServerMean = stats.Summarize(server).Mean
		s.BilledMean = stats.Summarize(billedTimes(recs)).Mean
		s.ErrorRate = float64(s.Errors) / float64(s.Requests)
		from, to := span(recs)
		s.Throughput = stats.Throughput(s.Requests-s.Errors, to.Sub(from))
		s.Sustained = sustained(g.groups, scenario, t, function)
		pr.price(&s, function, recs, samples, from, to)
		c.Sides = append(c.Sides, s)
	}
	if len(c.Sides) < 2 {
		return c
	}
	c.FasterMean = best(c.Sides, func(s Side) float64 { return s.ClientMean })
	c.FasterP95 = best(c.Sides, func(s Side) float64 { return s.ClientP95 })
	c.Cheaper = best(c.Sides, func(s Side) float64 { return s.Per1000 })
	return c
}

// sustained is the highest throughput of the groups of scenario, target and
// function that ran at least minSustainedSpan; NaN if none did.
func sustained(groups []*Group, scenario, target, function string) float64 {
	if gr := sustainedGroup(groups, scenario, target, function); gr != nil {
		return gr.Throughput
	}
	return math.NaN()
}

// price fills in s's cost from recs, its requests of function over [from, to],
// bucket requests included on both sides.
func (pr pricing) price(s *Side, function string, recs []results.Record, samples []results.Sample, from, to time.Time) {
	t := s.Target
	obj, _ := pr.prices.ObjectPerRequest(function)
	defer func() {
		if !math.IsNaN(s.Per1000) {
			s.Per1000 += obj * 1000
			s.CostNote += fmt.Sprintf("; + bucket requests $%.3g each", obj)
		}
	}()
	switch s.Kind {
	case cost.Lambda, cost.CloudFunctions:
		s.PricedFrom = "memory " + pr.memoryNote[t]
		per, sizes, n, err := pr.serverlessPerRequest(t, s.Kind, recs)
		if err != nil {
			s.CostNote = err.Error()
			return
		}
		s.PerRequest, s.Per1000 = per, per*1000
		mem := fmt.Sprintf("%d MB %s", sizes[0], pr.memoryNote[t])
		if len(sizes) == 1 {
			s.MemoryMB = float64(sizes[0])
		} else {
			// A memory sweep: each request at its own size (see the sweep table).
			mem = fmt.Sprintf("%s MB, each request at the size its answer reported", joinInts(sizes))
			s.PricedFrom = "memory reported by the service"
		}
		s.CostNote = fmt.Sprintf("%s, %s, %d billed durations", s.Kind, mem, n)
		if s.Kind == cost.Lambda && pr.arch[t] == "arm64" {
			s.CostNote += "; priced at x86 rates (arm64 is billed about 20 % less)"
		}
	case cost.Serverful:
		fs := pr.fleets[t]
		s.PricedFrom = fs.Source
		s.Instances = maxInstances(samples, t, from, to, fs.Min)
		if math.IsNaN(s.Sustained) {
			s.CostNote = fmt.Sprintf("no group of this scenario ran %v or longer: no sustained rate to price the fleet on", minSustainedSpan)
			return
		}
		f := cost.Fleet{InstanceType: fs.InstanceType, MinInstances: fs.Min, PerInstance: s.Sustained / float64(s.Instances)}
		per, err := pr.prices.ServerfulPer1000(f, s.Sustained)
		if err != nil {
			s.CostNote = err.Error()
			return
		}
		s.Per1000 = per
		s.CostNote = fmt.Sprintf("%d × %s with addresses, root volumes, surplus CPU + ALB at the sustained %.3g req/s (fleet %s)", f.Size(s.Sustained), fs.InstanceType, s.Sustained, fs)
	default:
		s.CostNote = "billing unknown: set Options.Kinds for this target"
	}
}

// serverlessPerRequest is the mean cost of one of recs' answered requests on a
// serverless target, each priced at the memory size its answer reported (a
// memory sweep runs one target at several), else the target's size; sizes lists
// the sizes priced, n the durations.
func (pr pricing) serverlessPerRequest(t string, kind cost.Kind, recs []results.Record) (per float64, sizes []int, n int, err error) {
	by := map[int][]float64{}
	for _, r := range recs {
		if r.ServerMS <= 0 {
			continue
		}
		mb := pr.memoryOfRecord(r)
		by[mb] = append(by[mb], billedMS(r))
	}
	if len(by) == 0 {
		_, err := pr.prices.ServerlessPerRequest(kind, pr.memory[t], nil)
		return 0, nil, 0, err
	}
	sizes = slices.Sorted(maps.Keys(by))
	for _, mb := range sizes {
		c, err := pr.prices.ServerlessPerRequest(kind, mb, by[mb])
		if err != nil {
			return 0, nil, 0, err
		}
		per += c * float64(len(by[mb]))
		n += len(by[mb])
	}
	return per / float64(n), sizes, n, nil
}

// memoryOfRecord is the memory size r ran with on a serverless target: what its
// answer reported, unless the options force one, else the target's size; 0 on a
// serverful target.
func (pr pricing) memoryOfRecord(r results.Record) int {
	t := r.Target
	switch {
	case pr.kinds[t] != cost.Lambda && pr.kinds[t] != cost.CloudFunctions:
		return 0
	case pr.forced[t] > 0 || r.MemoryMB <= 0:
		return pr.memory[t]
	}
	return r.MemoryMB
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ", ")
}

// Tie is the verdict when the best two sides are within tieFraction of each other.
const (
	Tie         = "tie"
	tieFraction = 0.01
)

// best names the side with the lowest value, Tie when the runner-up is within 1 %,
// "" when fewer than two sides have a value.
func best(sides []Side, v func(Side) float64) string {
	name, low, second, n := "", math.Inf(1), math.Inf(1), 0
	for _, s := range sides {
		x := v(s)
		if math.IsNaN(x) {
			continue
		}
		n++
		if x < low {
			name, low, second = s.Target, x, low
		} else if x < second {
			second = x
		}
	}
	switch {
	case n < 2:
		return ""
	case second-low <= tieFraction*math.Abs(second):
		return Tie
	}
	return name
}

// maxInstances is the largest "instances" sample of target within [from, to], or
// min when there is none.
func maxInstances(samples []results.Sample, target string, from, to time.Time, min int) int {
	n := 0
	for _, s := range samples {
		if s.Target == target && s.Metric == results.MetricInstances && !s.Time.Before(from) && !s.Time.After(to) {
			n = max(n, int(math.Round(s.Value)))
		}
	}
	if n == 0 {
		return max(min, 1)
	}
	return n
}
