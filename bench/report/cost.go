package report

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/stats"
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
	Sustained  float64 // the highest group throughput, req/s: what the fleet is priced on
	Instances  int     // serverful instances the sustained rate ran on
	Per1000    float64 // USD per 1,000 requests; NaN when not priced
	PerRequest float64 // serverless USD per request; NaN for serverful
	CostNote   string  // assumptions or why not priced
}

// BreakEvenRow compares one serverless side with one serverful side.
type BreakEvenRow struct {
	Serverless, Serverful string
	cost.BreakEven
}

// Comparison is the answer at a glance for one scenario and function.
type Comparison struct {
	Scenario, Function string
	Sides              []Side
	FasterMean         string // target with the lower mean client time, or Tie
	FasterP95          string
	Cheaper            string // target with the lower cost per 1,000 requests, or Tie
	BreakEvens         []BreakEvenRow
}

// pricing holds what the cost model needs beyond the price list.
type pricing struct {
	prices       cost.PriceList
	kinds        map[string]cost.Kind
	memory       map[string]int
	memoryNote   map[string]string
	instanceType string
	minInstances int
}

func newPricing(h results.Header, recs []results.Record, opt Options, prices cost.PriceList) pricing {
	p := pricing{
		prices: prices, kinds: map[string]cost.Kind{}, memory: map[string]int{}, memoryNote: map[string]string{},
		instanceType: opt.InstanceType, minInstances: opt.MinInstances,
	}
	if p.instanceType == "" {
		p.instanceType, _ = h.Config["instance_type"].(string)
	}
	if p.instanceType == "" {
		p.instanceType = "t3a.xlarge"
	}
	if p.minInstances <= 0 {
		if v, ok := h.Config["min_instances"].(float64); ok && v >= 1 {
			p.minInstances = int(v)
		} else {
			p.minInstances = 1
		}
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
		p.kinds[t] = kindOf(t, platforms[t], opt.Kinds)
		p.memory[t], p.memoryNote[t] = memoryOf(t, p.kinds[t], reported[t], h.Config, opt.MemoryMB)
	}
	return p
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

// memoryOf finds a serverless target's memory size: Options.MemoryMB, else what the
// service reported in server.memory_mb, else the header config's "memory_mb" (a
// number, or an object by target name), else the study's setting (noted as assumed).
func memoryOf(target string, kind cost.Kind, reported int, cfg map[string]any, override map[string]int) (int, string) {
	if mb, ok := override[target]; ok && mb > 0 {
		return mb, "from options"
	}
	if reported > 0 {
		return reported, "reported by the service"
	}
	switch v := cfg["memory_mb"].(type) {
	case float64:
		if v > 0 {
			return int(v), "from run config"
		}
	case map[string]any:
		if mb, ok := v[target].(float64); ok && mb > 0 {
			return int(mb), "from run config"
		}
	}
	if mb, ok := cost.StudyMemoryMB[kind]; ok {
		return mb, "assumed (the study's setting; not in the run's config)"
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
		var billed []float64
		for _, r := range recs {
			if !r.OK() {
				s.Errors++
			}
			if r.ServerMS > 0 {
				billed = append(billed, billedMS(r))
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
		s.Sustained = math.NaN()
		for _, gr := range g.groups {
			if gr.Scenario == scenario && gr.Target == t && gr.Function == function && !math.IsNaN(gr.Throughput) {
				if math.IsNaN(s.Sustained) || gr.Throughput > s.Sustained {
					s.Sustained = gr.Throughput
				}
			}
		}
		switch s.Kind {
		case cost.Lambda, cost.CloudFunctions:
			s.MemoryMB = float64(pr.memory[t])
			per, err := pr.prices.ServerlessPerRequest(s.Kind, pr.memory[t], billed)
			if err != nil {
				s.CostNote = err.Error()
				break
			}
			s.PerRequest, s.Per1000 = per, per*1000
			s.CostNote = fmt.Sprintf("%s, %d MB %s, %d billed durations", s.Kind, pr.memory[t], pr.memoryNote[t], len(billed))
		case cost.Serverful:
			s.Instances = maxInstances(samples, t, from, to, pr.minInstances)
			f := cost.Fleet{InstanceType: pr.instanceType, MinInstances: pr.minInstances, PerInstance: s.Sustained / float64(s.Instances)}
			per, err := pr.prices.ServerfulPer1000(f, s.Sustained)
			if err != nil {
				s.CostNote = err.Error()
				break
			}
			s.Per1000 = per
			s.CostNote = fmt.Sprintf("%d × %s + ALB at the sustained %.3g req/s", s.Instances, pr.instanceType, s.Sustained)
		default:
			s.CostNote = "billing unknown: set Options.Kinds for this target"
		}
		c.Sides = append(c.Sides, s)
	}
	if len(c.Sides) < 2 {
		return c
	}
	c.FasterMean = best(c.Sides, func(s Side) float64 { return s.ClientMean })
	c.FasterP95 = best(c.Sides, func(s Side) float64 { return s.ClientP95 })
	c.Cheaper = best(c.Sides, func(s Side) float64 { return s.Per1000 })
	for _, sl := range c.Sides {
		if sl.Kind != cost.Lambda && sl.Kind != cost.CloudFunctions || math.IsNaN(sl.PerRequest) {
			continue
		}
		for _, sf := range c.Sides {
			if sf.Kind != cost.Serverful || math.IsNaN(sf.Per1000) {
				continue
			}
			f := cost.Fleet{InstanceType: pr.instanceType, MinInstances: pr.minInstances, PerInstance: sf.Sustained / float64(sf.Instances)}
			be, err := pr.prices.FindBreakEven(sl.PerRequest, f)
			if err != nil {
				be.Why = err.Error()
			}
			c.BreakEvens = append(c.BreakEvens, BreakEvenRow{Serverless: sl.Target, Serverful: sf.Target, BreakEven: be})
		}
	}
	return c
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
		if s.Target == target && s.Metric == "instances" && !s.Time.Before(from) && !s.Time.After(to) {
			n = max(n, int(math.Round(s.Value)))
		}
	}
	if n == 0 {
		return max(min, 1)
	}
	return n
}
