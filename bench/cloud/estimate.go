package cloud

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/servebench/servebench/bench/cloud/fleet"
	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// DefaultDeployAllowance is the time the plan adds for deploy, ready and
// teardown: an ECS fleet, its load balancer and a new VPC take minutes each way.
const DefaultDeployAllowance = 30 * time.Minute

// forceColdAllowance bounds one forced cold start (an ECS deployment replacing
// its tasks takes minutes; a Lambda update seconds) for the planned time.
const forceColdAllowance = 5 * time.Minute

// newVPCZones is the load balancer's nodes in the serverful stack's new VPC (one
// per public subnet: infra/network makes two).
const newVPCZones = 2

// requestsPerTarget is how many requests the scenarios send to t at most.
func requestsPerTarget(ss []scenario.Scenario, t scenario.Target) int {
	return scenario.Plan{Scenarios: ss, Targets: []scenario.Target{t}}.Planned()
}

// stackTarget is a stack's own target as far as the plan needs it: the
// serverful fleet's scaling can be held, so rate searches it twice (held, on).
func stackTarget(stack string) scenario.Target {
	if stack == "serverful" {
		return scenario.Target{Name: stack, Scaling: fleet.Service{}}
	}
	return scenario.Target{Name: stack, Serverless: true}
}

// scenarioTime bounds how long the scenarios take against t.
func scenarioTime(ss []scenario.Scenario, t scenario.Target, timeout time.Duration) time.Duration {
	var d time.Duration
	for _, s := range ss {
		switch v := s.(type) {
		case scenario.Batches:
			d += time.Duration(v.Batches) * timeout
		case scenario.ColdWarm:
			for _, f := range v.Functions {
				d += forceColdAllowance + 2*functionTimeout(v, f, timeout)
			}
		case scenario.Rate:
			d += v.Duration(t, timeout)
		}
	}
	return d
}

func functionTimeout(c scenario.ColdWarm, fn string, timeout time.Duration) time.Duration {
	if strings.HasPrefix(fn, "faces/") && c.FacesTimeout > 0 {
		return c.FacesTimeout
	}
	return timeout
}

// perFunction is how many requests the scenarios send to each function of a
// target, and how many of them follow a forced cold start.
func perFunction(ss []scenario.Scenario) (requests, cold map[string]int) {
	requests, cold = map[string]int{}, map[string]int{}
	for _, s := range ss {
		switch v := s.(type) {
		case scenario.ColdWarm:
			for _, f := range v.Functions {
				n := scenario.ColdWarm{Burst: v.Burst, FacesBurst: v.FacesBurst, Functions: []string{f}}.Planned(scenario.Target{})
				requests[f] += n
				cold[f] += n / 2
			}
		default:
			requests["predict"] += s.Planned(scenario.Target{})
		}
	}
	return requests, cold
}

// sweepScenario is the memory sweep's load at each size: the cold and warm
// predict bursts of coldwarm; ok is false when the plan has no coldwarm.
func sweepScenario(ss []scenario.Scenario) (scenario.ColdWarm, bool) {
	for _, s := range ss {
		if c, ok := s.(scenario.ColdWarm); ok {
			c.Functions = []string{"predict"}
			return c, true
		}
	}
	return scenario.ColdWarm{}, false
}

// peakRate is the most new connections per second the plan opens (keep-alive
// off): the rate scenario's top rate (its cap), or a burst if larger.
func peakRate(ss []scenario.Scenario) float64 {
	peak := float64(largestBurst(ss))
	for _, s := range ss {
		if r, ok := s.(scenario.Rate); ok {
			peak = max(peak, r.MaxRate)
		}
	}
	return peak
}

// plannedTime is how long the stacks exist: deploy and teardown, the scenarios
// against every target, the memory sweep.
func plannedTime(o Options, plans []stackPlan) time.Duration {
	d := o.DeployAllowance
	for _, p := range plans {
		d += scenarioTime(o.Scenarios, stackTarget(p.name), o.Timeout)
	}
	if sweep, ok := sweepScenario(o.Scenarios); ok && hasStack(plans, "serverless") {
		d += time.Duration(len(o.LambdaMemoryMB)) * scenarioTime([]scenario.Scenario{sweep}, stackTarget("serverless"), o.Timeout)
	}
	return d
}

// cloudPlan is what the run will create and send, as bench/cost's worst case
// prices it, from the stack files (with the program's defaults) and the scenarios.
func cloudPlan(o Options, plans []stackPlan) (cost.CloudPlan, error) {
	var p cost.CloudPlan
	wall := plannedTime(o, plans)
	perTarget := requestsPerTarget(o.Scenarios, stackTarget("serverless"))
	for _, sp := range plans {
		switch sp.name {
		case "serverful":
			maxSize, err := sp.int(stackconfig.KeyMaxSize)
			if err != nil {
				return p, err
			}
			zones := newVPCZones
			if v := sp.config[stackconfig.KeySubnetIDs]; v != "" {
				var ids []string
				if err := json.Unmarshal([]byte(v), &ids); err != nil {
					return p, fmt.Errorf("Pulumi.%s.yaml: %s = %s: %w", sp.name, stackconfig.KeySubnetIDs, v, err)
				}
				if len(ids) > 0 { // none given: the program makes a new VPC
					zones = len(ids)
				}
			}
			// Trimmed as the program reads it.
			instanceType := strings.TrimSpace(sp.get(stackconfig.KeyInstanceType))
			if instanceType == "" {
				return p, fmt.Errorf("Pulumi.%s.yaml: %s is empty: want an EC2 instance type (e.g. t3a.xlarge)", sp.name, stackconfig.KeyInstanceType)
			}
			p.Serverful = &cost.ServerfulPlan{InstanceType: instanceType, MaxInstances: maxSize,
				ALBNodes: zones, WallTime: wall, PeakRate: peakRate(o.Scenarios)}
		case "serverless":
			l, err := lambdaPlan(o, sp, perTarget)
			if err != nil {
				return p, err
			}
			p.Lambda = l
			if p.CloudFunctions, err = functionsPlan(o, sp); err != nil {
				return p, err
			}
		}
	}
	return p, nil
}

// lambdaPlan: the scenarios at the stack's memory size, the sweep's bursts at
// each of its sizes, every request running to the function's timeout.
func lambdaPlan(o Options, sp stackPlan, perTarget int) (*cost.LambdaPlan, error) {
	mem, err := sp.int(stackconfig.KeyLambdaMemoryMB)
	if err != nil {
		return nil, err
	}
	timeout, err := sp.int(stackconfig.KeyLambdaTimeout)
	if err != nil {
		return nil, err
	}
	_, cold := perFunction(o.Scenarios)
	coldStarts := 0
	for _, n := range cold {
		coldStarts += n
	}
	sizes := []cost.LambdaSize{{MemoryMB: mem, Requests: perTarget, ColdStarts: coldStarts}}
	if sweep, ok := sweepScenario(o.Scenarios); ok {
		for _, mb := range o.LambdaMemoryMB {
			z := cost.LambdaSize{MemoryMB: mb, Requests: sweep.Planned(scenario.Target{}), ColdStarts: sweep.Planned(scenario.Target{}) / 2}
			merged := false
			for i := range sizes { // a size given once, its loads added
				if sizes[i].MemoryMB == mb {
					sizes[i].Requests += z.Requests
					sizes[i].ColdStarts += z.ColdStarts
					merged = true
				}
			}
			if !merged {
				sizes = append(sizes, z)
			}
		}
	}
	return &cost.LambdaPlan{Timeout: time.Duration(timeout) * time.Second, Sizes: sizes}, nil
}

// functionsPlan: when the serverless stack sets gcp:project, each function at
// each memory size gets the scenarios' requests to its route.
func functionsPlan(o Options, sp stackPlan) (*cost.CloudFunctionsPlan, error) {
	if strings.TrimSpace(sp.get(stackconfig.KeyGCPProject)) == "" {
		return nil, nil
	}
	timeout, err := sp.int(stackconfig.KeyGCPTimeout)
	if err != nil {
		return nil, err
	}
	var mems []int
	if err := json.Unmarshal([]byte(sp.get(stackconfig.KeyGCPMemoriesMB)), &mems); err != nil {
		return nil, fmt.Errorf("Pulumi.%s.yaml: %s = %q: %w", sp.name, stackconfig.KeyGCPMemoriesMB, sp.get(stackconfig.KeyGCPMemoriesMB), err)
	}
	if len(mems) == 0 || slices.ContainsFunc(mems, func(mb int) bool { return mb < 1 }) {
		return nil, fmt.Errorf("Pulumi.%s.yaml: %s = %q: want a list of memory sizes above 0", sp.name, stackconfig.KeyGCPMemoriesMB, sp.get(stackconfig.KeyGCPMemoriesMB))
	}
	requests, _ := perFunction(o.Scenarios)
	c := &cost.CloudFunctionsPlan{}
	for _, mb := range mems {
		for _, fn := range scenario.Functions {
			if requests[fn] == 0 {
				continue
			}
			c.Functions = append(c.Functions, cost.CloudFunction{
				Name: strings.ReplaceAll(strings.ReplaceAll(fn, "/", "-"), "_", "-") + "-" + strconv.Itoa(mb), MemoryMB: mb,
				Requests: requests[fn], Timeout: time.Duration(timeout) * time.Second,
			})
		}
	}
	return c, nil
}

// estimate prices the plan at its worst case from the price list.
func estimate(o Options, plans []stackPlan) (cost.Estimate, error) {
	p, err := cloudPlan(o, plans)
	if err != nil {
		return cost.Estimate{}, err
	}
	e, err := o.Prices.WorstCase(p)
	if err != nil {
		return e, fmt.Errorf("estimate: %w (a price list with -prices can add an instance type)", err)
	}
	return e, nil
}

// int reads a size or a limit, trimmed as the program reads it: every one the
// estimate reads is above 0 (the program refuses the rest), and the price list
// would otherwise refuse the plan without naming the key.
func (p stackPlan) int(key string) (int, error) {
	v := p.get(key)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("Pulumi.%s.yaml: %s = %q: not a whole number above 0", p.name, key, v)
	}
	return n, nil
}

func hasStack(plans []stackPlan, name string) bool {
	for _, p := range plans {
		if p.name == name {
			return true
		}
	}
	return false
}
