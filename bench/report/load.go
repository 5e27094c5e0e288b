package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/stats"
	"github.com/servebench/servebench/study"
)

// Load is the answer for one function across request rates: one serverless and
// one serverful target, each priced from what was measured of it — serverless
// from its warm requests with cold starts amortised at a stated rate, serverful
// from the capacity of one instance — and the rate where the cheaper side changes.
type Load struct {
	Function              string
	Serverless, Serverful string
	// Local: a side ran on this machine, so its durations are this machine's.
	Local bool

	// Serverless: the warm requests' billed time (the platform's billed ms where
	// it gave them, else the server's total, rounded up to the billing
	// increment) and cost; the cold starts' extra cost over a warm request; the
	// share of requests that start cold at a sustained rate (cost.ColdShare).
	Kind                cost.Kind
	MemoryMB            int
	MemoryFrom          string
	WarmN, ColdN        int
	WarmBilledMS        float64 // mean
	WarmUSD             float64 // per warm request, request charges included
	ColdExtraUSD        float64 // per cold start; 0 when none was measured
	ColdShare           float64
	PerRequest          float64 // WarmUSD + ColdShare × ColdExtraUSD
	ObjectUSD           float64 // bucket requests of one call, both sides
	ServerlessCapacity  float64 // req/s the rate scenario held; NaN: not measured
	ServerlessLimitedBy string

	// Serverful: the fleet as priced and one instance's capacity.
	Fleet         fleetSpec
	PerInstance   float64 // req/s; NaN when nothing says
	CapacityBasis string
	Measured      bool    // PerInstance is a measured capacity (rate scenario, scaling held)
	OnCapacity    float64 // req/s held with scaling on; NaN: not measured
	InstanceUSDH  float64 // one instance with its address and root volume, per hour
	SurplusUSDH   float64 // one instance's CPU above its baseline at saturation, per hour (T3/T3a unlimited)
	FixedUSDH     float64 // the ALB and its addresses, per hour

	// Latency: warm p95 client time of each side, and what a cold start adds to a
	// serverless request's mean client time.
	ServerlessWarmP95, ServerfulWarmP95 float64
	ColdAddMS                           float64

	cost.BreakEven
	Curve cost.Load
	// RangeLo, RangeHi are the rates the run measured this function at (group
	// throughputs and capacities), req/s.
	RangeLo, RangeHi float64
	Err              string // why the curves could not be priced
}

// loads builds one Load per function and (serverless, serverful) pair.
func loads(g *grouping, pr pricing, caps []results.Capacity, samples []results.Sample) []Load {
	var fns []string
	for _, gr := range g.groups {
		if !slices.Contains(fns, gr.Function) {
			fns = append(fns, gr.Function)
		}
	}
	var out []Load
	for _, fn := range fns {
		for _, sl := range g.targets() {
			if k := pr.kinds[sl]; k != cost.Lambda && k != cost.CloudFunctions || len(g.sel("", sl, fn)) == 0 {
				continue
			}
			for _, sf := range g.targets() {
				if pr.kinds[sf] != cost.Serverful || len(g.sel("", sf, fn)) == 0 {
					continue
				}
				out = append(out, pr.load(g, caps, samples, fn, sl, sf))
			}
		}
	}
	return out
}

// byHeat splits the successful requests of target and function into warm and
// cold as the cold-start table counts them (mislabelled ones in neither),
// leaving out the rate scenario's steps above the rate the target held in every
// search (caps; serverful: its minimum size with scaling held): an overloaded
// step's queueing is no steady state.
func byHeat(g *grouping, caps []results.Capacity, target, fn string) (warm, cold []results.Record) {
	held := math.NaN()
	for _, c := range caps {
		if c.Target == target && c.Function == fn && !(c.RatePerS >= held) {
			held = c.RatePerS
		}
	}
	for _, r := range g.sel("", target, fn) {
		if !r.OK() || r.Scenario == rateScenario && stepRate(r.Group) > held {
			continue
		}
		switch heat(g.startOf(r)) {
		case "warm":
			warm = append(warm, r)
		case "cold":
			cold = append(cold, r)
		}
	}
	return warm, cold
}

// rateScenario is the scenario whose groups are arrival rates, "<rate>/s".
const rateScenario = "rate"

// stepRate is the arrival rate of a rate step's group label ("16/s", "24.8/s
// on"); NaN for another label, which no comparison drops.
func stepRate(group string) float64 {
	num, _, ok := strings.Cut(group, "/s")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !ok {
		return math.NaN()
	}
	return v
}

func (pr pricing) load(g *grouping, caps []results.Capacity, samples []results.Sample, fn, sl, sf string) Load {
	l := Load{
		Function: fn, Serverless: sl, Serverful: sf, Local: pr.local[sl] || pr.local[sf],
		Kind: pr.kinds[sl], MemoryMB: pr.memory[sl], MemoryFrom: pr.memoryNote[sl], Fleet: pr.fleets[sf],
		WarmBilledMS: nan, WarmUSD: nan, PerRequest: nan, ColdShare: nan, PerInstance: nan, ServerlessCapacity: nan, OnCapacity: nan,
		ServerlessWarmP95: nan, ServerfulWarmP95: nan, ColdAddMS: nan, InstanceUSDH: nan, SurplusUSDH: nan, FixedUSDH: nan,
	}
	l.ObjectUSD, _ = pr.prices.ObjectPerRequest(fn)
	warm, cold := byHeat(g, caps, sl, fn)
	sfWarm, _ := byHeat(g, caps, sf, fn)
	l.WarmN, l.ColdN = len(warm), len(cold)
	wc, _ := measures(warm)
	cc, _ := measures(cold)
	sc, _ := measures(sfWarm)
	l.ServerlessWarmP95 = stats.Summarize(wc).P95
	l.ServerfulWarmP95 = stats.Summarize(sc).P95
	l.ColdAddMS = stats.Mean(cc) - stats.Mean(wc)
	l.RangeLo, l.RangeHi = measuredRange(g, caps, fn)

	for _, c := range caps {
		if c.Function != fn || !(c.RatePerS > 0) {
			continue
		}
		switch {
		case c.Target == sl && c.Scaling == results.ScalingServerless:
			l.ServerlessCapacity, l.ServerlessLimitedBy = c.RatePerS, c.LimitedBy
		case c.Target == sf && c.Scaling == results.ScalingOn:
			l.OnCapacity = c.RatePerS
		case c.Target == sf && c.Scaling == results.ScalingHeld:
			n := max(c.Instances, 1)
			l.PerInstance, l.Measured = c.RatePerS/float64(n), true
			l.CapacityBasis = fmt.Sprintf("measured: the rate scenario held %s req/s on %d instance(s) with scaling held off, p%g ≤ %s ms, limited by %s",
				rps(c.RatePerS), n, c.Percentile, ms1(c.ObjectiveMS), c.LimitedBy)
		}
	}
	if !l.Measured {
		if gr := sustainedGroup(g.groups, "", sf, fn); gr != nil {
			n := maxInstances(samples, sf, gr.From, gr.To, l.Fleet.Min)
			l.PerInstance = gr.Throughput / float64(n)
			l.CapacityBasis = fmt.Sprintf("no measured capacity: the highest throughput of a group at least %v long (%s %s), over %d instance(s)",
				minSustainedSpan, gr.Scenario, gr.Group, n)
		} else {
			l.CapacityBasis = fmt.Sprintf("no measured capacity, and no group ran %v or longer", minSustainedSpan)
		}
	}

	p := pr.prices
	if ec2, err := p.EC2(l.Fleet.InstanceType); err == nil {
		l.InstanceUSDH = ec2 + p.PublicIPv4Hourly + p.VolumeHourly()
		l.SurplusUSDH, _ = p.SurplusAtSaturation(l.Fleet.InstanceType)
		l.FixedUSDH = p.ALB.Hourly + float64(albAddresses)*p.PublicIPv4Hourly
	}

	if math.IsNaN(l.PerInstance) {
		l.Err = "no serverful capacity to size the fleet by"
		return l
	}
	if err := pr.priceServerless(&l, warm, cold); err != nil {
		l.Err = err.Error()
		return l
	}
	l.Curve = cost.Load{Serverless: l.PerRequest, Object: l.ObjectUSD,
		Fleet: cost.Fleet{InstanceType: l.Fleet.InstanceType, MinInstances: l.Fleet.Min, PerInstance: l.PerInstance}}
	be, err := p.FindBreakEven(l.Curve)
	if err != nil {
		l.Err = err.Error()
		return l
	}
	l.BreakEven = be
	return l
}

// priceServerless fills the serverless side's per-request cost from warm and
// cold, its warm and cold requests.
func (pr pricing) priceServerless(l *Load, warm, cold []results.Record) error {
	if len(warm) == 0 {
		return fmt.Errorf("%s answered no warm %s request: no steady-state duration to price", l.Serverless, l.Function)
	}
	inc := pr.prices.Lambda.BillingIncrementMS
	if l.Kind == cost.CloudFunctions {
		inc = pr.prices.CloudFunctions.BillingIncrementMS
	}
	var billed []float64
	for _, r := range warm {
		if r.ServerMS > 0 || r.PlatformReport != nil {
			billed = append(billed, cost.Billed(billedMS(r), inc))
		}
	}
	l.WarmBilledMS = stats.Mean(billed)
	var err error
	if l.WarmUSD, _, _, err = pr.serverlessPerRequest(l.Serverless, l.Kind, warm); err != nil {
		return err
	}
	if len(cold) > 0 {
		coldUSD, _, _, err := pr.serverlessPerRequest(l.Serverless, l.Kind, cold)
		if err != nil {
			return err
		}
		l.ColdExtraUSD = max(0, coldUSD-l.WarmUSD)
	}
	l.ColdShare = cost.ColdShare(l.WarmBilledMS)
	l.PerRequest = l.WarmUSD + l.ColdShare*l.ColdExtraUSD
	return nil
}

// albAddresses is the load balancer's public IPv4 addresses: one per zone.
const albAddresses = study.ALBZones

// sustainedGroup is the group of scenario ("" any), target and function with the
// highest throughput among those at least minSustainedSpan long; nil if none.
func sustainedGroup(groups []*Group, scenario, target, function string) *Group {
	var best *Group
	for _, gr := range groups {
		if (scenario == "" || gr.Scenario == scenario) && gr.Target == target && gr.Function == function &&
			gr.To.Sub(gr.From) >= minSustainedSpan && !math.IsNaN(gr.Throughput) && (best == nil || gr.Throughput > best.Throughput) {
			best = gr
		}
	}
	return best
}

// measuredRange is the lowest and highest rate the run measured function at: its
// groups' throughputs (those long enough to stand for a rate) and the
// capacities found.
func measuredRange(g *grouping, caps []results.Capacity, fn string) (lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, gr := range g.groups {
		if gr.Function == fn && gr.To.Sub(gr.From) >= minSustainedSpan && gr.Throughput > 0 {
			lo, hi = math.Min(lo, gr.Throughput), math.Max(hi, gr.Throughput)
		}
	}
	for _, c := range caps {
		if c.Function == fn && c.RatePerS > 0 {
			lo, hi = math.Min(lo, c.RatePerS), math.Max(hi, c.RatePerS)
		}
	}
	if math.IsInf(lo, 1) {
		return nan, nan
	}
	return lo, hi
}

// Wording of the answer, shared by the headline and the table notes.
const (
	sustainedWording = "if this rate were sustained"
	coldWording      = "one serverless instance replaced per hour of busy time (assumed: neither platform publishes a lifetime), so cold starts per request = warm billed time / 1 h"
)

// Sentences are the headline for this function: which side is cheaper below and
// above the break-even rate, the warm p95 of each, what cold starts add; the
// capacity of each side; for a local run, what the figures rest on. index.html,
// report.md and the terminal summary print these, and only these, sentences.
func (l Load) Sentences() []string {
	head := fmt.Sprintf("%s (%s vs %s)", l.Function, l.Serverless, l.Serverful)
	latency := fmt.Sprintf("warm p95 %s ms vs %s ms; cold starts add %s ms each and %s of requests start cold (%s)",
		ms1(l.ServerlessWarmP95), ms1(l.ServerfulWarmP95), ms1(l.ColdAddMS), sharePct(l.ColdShare), "one instance replacement per hour assumed")
	var verdict string
	switch {
	case l.Err != "":
		verdict = fmt.Sprintf("%s: not priced: %s; %s.", head, l.Err, latency)
	case l.Found:
		verdict = fmt.Sprintf("%s: below %s req/s serverless is cheaper, above it serverful, %s ($%s a month either way at that rate); %s.",
			head, rps(l.Rate), sustainedWording, fixed(2)(l.Monthly), latency)
		if l.Crossings > 1 {
			verdict += fmt.Sprintf(" That is the first rate above which serverless stays dearer; the curves first cross at %s req/s and %d times in all (the fleet's steps).",
				rps(l.First), l.Crossings)
		}
	default:
		verdict = fmt.Sprintf("%s: no break-even: %s; %s.", head, l.Why, latency)
	}
	capacity := fmt.Sprintf("%s capacity: serverful %s req/s per instance (%s)", l.Function, rps(l.PerInstance), l.CapacityBasis)
	if !math.IsNaN(l.OnCapacity) {
		capacity += fmt.Sprintf(", %s req/s with scaling on", rps(l.OnCapacity))
	}
	if math.IsNaN(l.ServerlessCapacity) {
		capacity += "; serverless: not measured."
	} else {
		capacity += fmt.Sprintf("; serverless %s req/s (limited by %s).", rps(l.ServerlessCapacity), l.ServerlessLimitedBy)
	}
	out := []string{verdict, capacity}
	priced := fmt.Sprintf("serverless priced as %s at %d MB (%s), serverful as %s (%s)", l.Kind, l.MemoryMB, l.MemoryFrom, l.Fleet, l.Fleet.Source)
	switch {
	case l.Local:
		out = append(out, fmt.Sprintf("%s: a local run: durations come from this machine; %s.", l.Function, priced))
	case l.Fleet.Source != fromDeployment || !strings.HasPrefix(l.MemoryFrom, "from the"):
		out = append(out, fmt.Sprintf("%s: %s.", l.Function, priced))
	}
	return out
}

// sharePct formats a small share as a percentage with 3 significant digits.
func sharePct(v float64) string {
	if math.IsNaN(v) {
		return dash
	}
	return fmt.Sprintf("%.3g %%", 100*v)
}

func loadTable(ls []Load, prices cost.PriceList) table {
	t := table{
		Name:  "cost_load",
		Title: "Cost against load: break-even per function",
		Note: fmt.Sprintf("Monthly cost (%d h) of each side %s. Serverless per request = warm_usd (mean over the warm requests' billed time: the platform's billed ms where given, else server total, rounded up to the billing increment; × memory; + request charges) "+
			"+ cold_share × cold_extra_usd (a cold request's mean cost over a warm one's), cold_share = warm_billed_ms / 3,600,000: %s. "+
			"Serverful: instances of the deployment's type, one more per capacity_rps_per_instance (the rate scenario's measured capacity with scaling held; without one, the highest throughput of a group ≥ %v, said so), "+
			"each instance_usd_h (instance + public IPv4 + %d GiB gp3 root volume) + surplus CPU (T3/T3a unlimited: vCPUs × (utilisation − baseline) × $%g per vCPU-h; surplus_usd_h is its value at saturation, 0 for other types) "+
			"+ fixed_usd_h (ALB + its %d public IPv4) + LCUs at $%g per req/s-hour. Bucket requests (object_usd) on both sides. "+
			"break_even_rps is the first rate above which serverless is dearer at every rate; on a step function the curves may cross more often (crossings, first_cross_rps). "+
			"Warm figures: every warm request of the function in any scenario but the rate steps above the lowest capacity found for the side (overload); cold_add_ms: the mean cold request's client time over the mean warm one's (serverless). Prices: %s.",
			cost.HoursPerMonth, sustainedWording, coldWording, minSustainedSpan, study.RootVolumeGiB, prices.Burstable.SurplusVCPUHourly, albAddresses,
			prices.ALB.LCUHourly/prices.ALB.NewConnectionsPerLCU, prices.Date),
		Cols: []column{
			{"function", nil}, {"serverless", nil}, {"serverful", nil},
			{"billing", nil}, {"memory_mb", nil}, {"warm_n", nil}, {"warm_billed_ms", ms1}, {"warm_usd", dollars},
			{"cold_n", nil}, {"cold_extra_usd", dollars}, {"cold_share", sharePctCol}, {"serverless_usd_per_request", dollars}, {"object_usd", dollars},
			{"instance_type", nil}, {"min_instances", nil}, {"capacity_rps_per_instance", rps}, {"capacity_basis", nil},
			{"instance_usd_h", dollars}, {"surplus_usd_h", dollars}, {"fixed_usd_h", dollars},
			{"break_even_rps", rps}, {"fleet_at_break_even", nil}, {"monthly_usd_at_break_even", fixed(2)}, {"first_cross_rps", rps}, {"crossings", nil},
			{"serverless_warm_p95_ms", ms1}, {"serverful_warm_p95_ms", ms1}, {"cold_add_ms", ms1}, {"note", nil},
		},
	}
	for _, l := range ls {
		rate, first, monthly, fleet, crossings := nan, nan, nan, any(dash), any(dash)
		note := l.Err
		if l.Found {
			rate, first, monthly, fleet, crossings = l.Rate, l.First, l.Monthly, l.BreakEven.Fleet, l.Crossings
		} else if note == "" {
			note = l.Why
		}
		if l.Local {
			note = strings.TrimPrefix(note+"; a local run: durations from this machine, memory "+l.MemoryFrom, "; ")
		}
		t.Rows = append(t.Rows, []any{l.Function, l.Serverless, l.Serverful,
			string(l.Kind), l.MemoryMB, l.WarmN, l.WarmBilledMS, l.WarmUSD,
			l.ColdN, l.ColdExtraUSD, l.ColdShare, l.PerRequest, l.ObjectUSD,
			l.Fleet.InstanceType, l.Fleet.Min, l.PerInstance, l.CapacityBasis,
			l.InstanceUSDH, l.SurplusUSDH, l.FixedUSDH,
			rate, fleet, monthly, first, crossings,
			l.ServerlessWarmP95, l.ServerfulWarmP95, l.ColdAddMS, note})
	}
	return t
}

func sharePctCol(v any) string {
	f, _ := v.(float64)
	return sharePct(f)
}

func capacityTable(caps []results.Capacity) table {
	t := table{
		Name:  "capacity",
		Title: "Capacity found by the rate scenario",
		Note:  "The highest arrival rate held within the objective (p-percentile of client time, error budget) per target, function and scaling mode: held = serverful at its minimum size with scaling held off (the per-instance capacity the cost model uses), on = with scaling on, serverless = until the platform's cap or throttling.",
		Cols: []column{
			{"target", nil}, {"function", nil}, {"scaling", nil}, {"instances", nil}, {"rate_rps", rps}, {"missed_rps", rps},
			{"limited_by", nil}, {"percentile", nil}, {"objective_ms", ms1}, {"max_errors", percent}, {"step_s", fixed(1)},
		},
	}
	for _, c := range caps {
		missed := c.MissedPerS
		if missed == 0 {
			missed = nan
		}
		inst := any(c.Instances)
		if c.Instances == 0 {
			inst = dash
		}
		t.Rows = append(t.Rows, []any{c.Target, c.Function, c.Scaling, inst, c.RatePerS, missed, c.LimitedBy, c.Percentile, c.ObjectiveMS, c.MaxErrors, c.StepS})
	}
	return t
}
