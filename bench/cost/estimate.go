package cost

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/servebench/servebench/study"
)

// Stacks a cloud run's estimate groups its lines by (the Pulumi stacks' names).
const (
	StackServerful  = "serverful"
	StackServerless = "serverless"
)

// LambdaInitLimit is the longest a Lambda function's init phase may run; a container
// image function is billed for it, so a forced cold start costs at most this much on
// top of its invocation (docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html).
const LambdaInitLimit = 10 * time.Second

// CloudPlan is what a cloud run will create and send, as the worst-case estimate
// needs it. A nil stack is not deployed.
type CloudPlan struct {
	Serverful      *ServerfulPlan
	Lambda         *LambdaPlan
	CloudFunctions *CloudFunctionsPlan
}

// ServerfulPlan is the ECS fleet behind its ALB.
type ServerfulPlan struct {
	InstanceType string
	MaxInstances int // the fleet is priced at this size for the whole WallTime
	// ALBNodes is the load balancer's public IPv4 addresses: one per zone (the
	// stack's new VPC has 2).
	ALBNodes int
	// WallTime is how long the stack exists: deploy + ready + scenarios + teardown.
	WallTime time.Duration
	// PeakRate is the most new connections per second the run opens (keep-alive off:
	// one per request): the rate scenario's top step, or a burst if larger. The ALB's
	// LCUs are priced at it for every hour.
	PeakRate float64
	Registry Registry // the image in ECR
}

// LambdaPlan is the Lambda function behind its API Gateway HTTP API.
type LambdaPlan struct {
	Timeout  time.Duration // the function's timeout: every request is priced as running to it
	Sizes    []LambdaSize  // every memory size the run sets, with what it sends at it
	Registry Registry      // the image in ECR
}

// LambdaSize is one memory size and the load sent while the function has it.
type LambdaSize struct {
	MemoryMB int
	Requests int
	// ColdStarts is how many of Requests may start an execution environment (a
	// forced cold burst starts one per request); each adds LambdaInitLimit. Optional.
	ColdStarts int
}

// CloudFunctionsPlan is the Cloud Functions (2nd gen) set.
type CloudFunctionsPlan struct {
	Functions    []CloudFunction
	BuildMinutes float64  // Cloud Build minutes of the deploy (the source is built there)
	Registry     Registry // the built images in Artifact Registry
}

// CloudFunction is one deployed function and the requests it will get.
type CloudFunction struct {
	Name     string // e.g. predict-1024
	MemoryMB int
	Requests int
	Timeout  time.Duration // every request is priced as running to it
}

// Registry is container images kept for a while: billed per GB-month, prorated.
// Zero GB leaves the line out.
type Registry struct {
	ImageGB float64
	Kept    time.Duration
}

// Estimate is a cloud run's worst-case cost, itemized.
type Estimate struct {
	Lines     []Line
	Subtotals []Subtotal // per stack, in the order of Lines
	TotalUSD  float64
	// The price list's date, source, region and note, so a reader knows what the
	// figures rest on.
	PriceDate, PriceSource, Region, Note string
}

// Line is one item: Quantity of Unit at UnitUSD each.
type Line struct {
	Stack    string
	What     string
	Quantity float64
	Unit     string
	UnitUSD  float64
	USD      float64
	Assumes  string // what makes it the worst case
}

// Subtotal is one stack's share of the estimate.
type Subtotal struct {
	Stack string
	USD   float64
}

// WorstCase prices plan at its worst: the fleet at its maximum for the whole time,
// every serverless request running to its timeout. It reports every missing or
// impossible input at once, by field.
func (p PriceList) WorstCase(plan CloudPlan) (Estimate, error) {
	if err := plan.validate(); err != nil {
		return Estimate{}, err
	}
	e := Estimate{PriceDate: p.Date, PriceSource: p.Source, Region: p.Region,
		Note: "List prices as published on the date given, not checked against the live pages; " +
			"not priced: free tiers, data transfer, CloudWatch Logs, S3 and GCS storage and requests."}
	if plan.Serverful != nil {
		if err := p.serverful(&e, *plan.Serverful); err != nil {
			return Estimate{}, err
		}
	}
	if plan.Lambda != nil {
		p.lambda(&e, *plan.Lambda)
	}
	if plan.CloudFunctions != nil {
		p.cloudFunctions(&e, *plan.CloudFunctions)
	}
	for _, l := range e.Lines {
		i := slices.IndexFunc(e.Subtotals, func(s Subtotal) bool { return s.Stack == l.Stack })
		if i < 0 {
			e.Subtotals = append(e.Subtotals, Subtotal{Stack: l.Stack})
			i = len(e.Subtotals) - 1
		}
		e.Subtotals[i].USD += l.USD
		e.TotalUSD += l.USD
	}
	return e, nil
}

func (e *Estimate) add(stack, what string, qty float64, unit string, unitUSD float64, assumes string) {
	e.Lines = append(e.Lines, Line{Stack: stack, What: what, Quantity: qty, Unit: unit, UnitUSD: unitUSD, USD: qty * unitUSD, Assumes: assumes})
}

func (p PriceList) serverful(e *Estimate, s ServerfulPlan) error {
	ec2, err := p.EC2(s.InstanceType)
	if err != nil {
		return fmt.Errorf("serverful: %w", err)
	}
	h := s.WallTime.Hours()
	n := float64(s.MaxInstances)
	const st = StackServerful
	e.add(st, s.InstanceType+" instances", n*h, "instance-hour", ec2,
		fmt.Sprintf("%d instances (the fleet's maximum) for the whole %v", s.MaxInstances, s.WallTime))
	if b, ok := p.Burstable.Types[s.InstanceType]; ok {
		e.add(st, s.InstanceType+" CPU above baseline", n*h*float64(b.VCPUs)*(1-b.Baseline), "vCPU-hour", p.Burstable.SurplusVCPUHourly,
			fmt.Sprintf("unlimited mode, %d vCPUs busy past the %.0f %% baseline all the time, no credits earned", b.VCPUs, b.Baseline*100))
	}
	// An ALB is billed for each hour or partial hour, its LCUs likewise.
	albH := math.Ceil(h)
	e.add(st, "load balancer", albH, "ALB-hour", p.ALB.Hourly, "each partial hour billed as a whole")
	e.add(st, "load balancer capacity", albH*s.PeakRate/p.ALB.NewConnectionsPerLCU, "LCU-hour", p.ALB.LCUHourly,
		fmt.Sprintf("%g new connections/s (the peak rate, keep-alive off) every hour; %g per LCU", s.PeakRate, p.ALB.NewConnectionsPerLCU))
	e.add(st, "public IPv4 addresses", float64(s.MaxInstances+s.ALBNodes)*h, "address-hour", p.PublicIPv4Hourly,
		fmt.Sprintf("%d instances + %d load balancer nodes", s.MaxInstances, s.ALBNodes))
	e.add(st, "root volumes (gp3)", n*h*study.RootVolumeGiB/HoursPerMonth, "GB-month", p.EBSgp3GBMonth,
		fmt.Sprintf("%d GiB each, %d instances for the whole %v", study.RootVolumeGiB, s.MaxInstances, s.WallTime))
	p.registry(e, st, "ECR image storage", s.Registry, p.ECR)
	return nil
}

func (p PriceList) lambda(e *Estimate, l LambdaPlan) {
	const st = StackServerless
	timeoutS := Billed(float64(l.Timeout.Milliseconds()), p.Lambda.BillingIncrementMS) / 1000
	initS := Billed(float64(LambdaInitLimit.Milliseconds()), p.Lambda.BillingIncrementMS) / 1000
	requests := 0
	for _, z := range l.Sizes {
		gb := float64(z.MemoryMB) / 1024
		e.add(st, fmt.Sprintf("Lambda %d MB compute", z.MemoryMB), float64(z.Requests)*timeoutS*gb, "GB-second", p.Lambda.GBSecond,
			fmt.Sprintf("%d requests, each running the %v timeout", z.Requests, l.Timeout))
		if z.ColdStarts > 0 {
			e.add(st, fmt.Sprintf("Lambda %d MB init", z.MemoryMB), float64(z.ColdStarts)*initS*gb, "GB-second", p.Lambda.GBSecond,
				fmt.Sprintf("%d cold starts, each running the %v init limit", z.ColdStarts, LambdaInitLimit))
		}
		requests += z.Requests
	}
	e.add(st, "Lambda requests", float64(requests)/1e6, "million requests", p.Lambda.PerMillionRequests,
		fmt.Sprintf("%d requests at every memory size together", requests))
	e.add(st, "API Gateway HTTP API requests", float64(requests)/1e6, "million requests", p.APIGateway.HTTPPerMillionRequests,
		"every Lambda request passes the gateway")
	p.registry(e, st, "ECR image storage (Lambda)", l.Registry, p.ECR)
}

func (p PriceList) cloudFunctions(e *Estimate, c CloudFunctionsPlan) {
	const st = StackServerless
	// Grouped by memory size: the size decides the price per second.
	type size struct {
		seconds  float64 // billed request-seconds
		requests int
		names    []string
	}
	bySize := map[int]*size{}
	var mbs []int
	requests := 0
	for _, f := range c.Functions {
		z := bySize[f.MemoryMB]
		if z == nil {
			z = &size{}
			bySize[f.MemoryMB] = z
			mbs = append(mbs, f.MemoryMB)
		}
		z.seconds += float64(f.Requests) * Billed(float64(f.Timeout.Milliseconds()), p.CloudFunctions.BillingIncrementMS) / 1000
		z.requests += f.Requests
		z.names = append(z.names, f.Name)
		requests += f.Requests
	}
	slices.Sort(mbs)
	for _, mb := range mbs {
		z := bySize[mb]
		vcpu := p.CloudFunctions.vCPU(mb)
		why := fmt.Sprintf("%d requests to %s, each running its timeout", z.requests, strings.Join(z.names, ", "))
		e.add(st, fmt.Sprintf("Cloud Functions %d MB CPU", mb), z.seconds*vcpu, "vCPU-second", p.CloudFunctions.VCPUSecond,
			fmt.Sprintf("%g vCPU; %s", vcpu, why))
		e.add(st, fmt.Sprintf("Cloud Functions %d MB memory", mb), z.seconds*float64(mb)/1024, "GiB-second", p.CloudFunctions.GiBSecond, why)
	}
	e.add(st, "Cloud Functions invocations", float64(requests)/1e6, "million requests", p.CloudFunctions.PerMillionRequests,
		fmt.Sprintf("%d requests to every function together", requests))
	if c.BuildMinutes > 0 {
		e.add(st, "Cloud Build", c.BuildMinutes, "build-minute", p.CloudBuild.PerMinute, "the functions' source builds (default pool, e2-standard-2)")
	}
	p.registry(e, st, "Artifact Registry storage", c.Registry, p.ArtifactRegistry)
}

func (p PriceList) registry(e *Estimate, stack, what string, r Registry, price RegistryPrices) {
	if r.ImageGB == 0 {
		return
	}
	e.add(stack, what, r.ImageGB*r.Kept.Hours()/HoursPerMonth, "GB-month", price.GBMonth,
		fmt.Sprintf("%g GB kept %v (a month is %d h)", r.ImageGB, r.Kept, HoursPerMonth))
}

// validate reports every field the estimate cannot use, by name.
func (c CloudPlan) validate() error {
	var errs []error
	bad := func(field string, v any, want string) {
		errs = append(errs, fmt.Errorf("%s is %v: want %s", field, v, want))
	}
	positive := func(field string, v float64) {
		if !(v > 0) {
			bad(field, v, "a number above 0")
		}
	}
	duration := func(field string, d time.Duration) {
		if d <= 0 {
			bad(field, d, "a duration above 0")
		}
	}
	registry := func(field string, r Registry) {
		if r.ImageGB < 0 || math.IsNaN(r.ImageGB) {
			bad(field+".ImageGB", r.ImageGB, "0 (not priced) or more")
		}
		if r.ImageGB > 0 {
			duration(field+".Kept", r.Kept)
		}
	}
	if c.Serverful == nil && c.Lambda == nil && c.CloudFunctions == nil {
		errs = append(errs, errors.New("the plan has no stack to price: set Serverful, Lambda or CloudFunctions"))
	}
	if s := c.Serverful; s != nil {
		if s.InstanceType == "" {
			bad("Serverful.InstanceType", `""`, "an EC2 instance type, e.g. t3a.xlarge")
		}
		positive("Serverful.MaxInstances", float64(s.MaxInstances))
		positive("Serverful.ALBNodes", float64(s.ALBNodes))
		duration("Serverful.WallTime", s.WallTime)
		positive("Serverful.PeakRate", s.PeakRate)
		registry("Serverful.Registry", s.Registry)
	}
	if l := c.Lambda; l != nil {
		duration("Lambda.Timeout", l.Timeout)
		if len(l.Sizes) == 0 {
			errs = append(errs, errors.New("Lambda.Sizes is empty: want every memory size the run sets"))
		}
		seen := map[int]bool{}
		for i, z := range l.Sizes {
			f := fmt.Sprintf("Lambda.Sizes[%d]", i)
			positive(f+".MemoryMB", float64(z.MemoryMB))
			positive(f+".Requests", float64(z.Requests))
			if z.ColdStarts < 0 || z.ColdStarts > z.Requests {
				bad(f+".ColdStarts", z.ColdStarts, fmt.Sprintf("0 to its %d requests", z.Requests))
			}
			if seen[z.MemoryMB] {
				bad(f+".MemoryMB", z.MemoryMB, "a size given once (add its requests together)")
			}
			seen[z.MemoryMB] = true
		}
		registry("Lambda.Registry", l.Registry)
	}
	if g := c.CloudFunctions; g != nil {
		if len(g.Functions) == 0 {
			errs = append(errs, errors.New("CloudFunctions.Functions is empty: want every deployed function"))
		}
		for i, f := range g.Functions {
			field := fmt.Sprintf("CloudFunctions.Functions[%d]", i)
			if f.Name == "" {
				bad(field+".Name", `""`, "the function's name, e.g. predict-1024")
			}
			positive(field+".MemoryMB", float64(f.MemoryMB))
			positive(field+".Requests", float64(f.Requests))
			duration(field+".Timeout", f.Timeout)
		}
		if g.BuildMinutes < 0 || math.IsNaN(g.BuildMinutes) {
			bad("CloudFunctions.BuildMinutes", g.BuildMinutes, "0 (not priced) or more")
		}
		registry("CloudFunctions.Registry", g.Registry)
	}
	if len(errs) > 0 {
		return fmt.Errorf("cost plan: %w", errors.Join(errs...))
	}
	return nil
}

// Biggest returns the n dearest lines, dearest first.
func (e Estimate) Biggest(n int) []Line {
	ls := slices.Clone(e.Lines)
	slices.SortStableFunc(ls, func(a, b Line) int {
		switch {
		case a.USD > b.USD:
			return -1
		case a.USD < b.USD:
			return 1
		}
		return 0
	})
	return ls[:min(n, len(ls))]
}

// Within returns nil when the estimate is at most maxUSD, else an error naming the
// total, the three dearest lines and the flag that sets the budget.
func (e Estimate) Within(maxUSD float64, flag string) error {
	if e.TotalUSD <= maxUSD {
		return nil
	}
	var big []string
	for _, l := range e.Biggest(3) {
		big = append(big, fmt.Sprintf("%s %s $%.2f", l.Stack, l.What, l.USD))
	}
	return fmt.Errorf("worst-case cost $%.2f is above %s %.2f (biggest: %s); plan less load or a smaller fleet, or raise %s",
		e.TotalUSD, flag, maxUSD, strings.Join(big, "; "), flag)
}

// Print writes the estimate as a table: each line with its quantity, unit price and
// what it assumes, a subtotal per stack, the total, and what the prices rest on.
func (e Estimate) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Worst-case cost, price list of %s (%s)\n", e.PriceDate, e.Region)
	fmt.Fprintln(tw, "item\tquantity\tunit\tunit USD\tUSD\tassumes")
	for i, l := range e.Lines {
		if i == 0 || e.Lines[i-1].Stack != l.Stack {
			fmt.Fprintf(tw, "%s\t\t\t\t\t\n", l.Stack)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%.4f\t%s\n", l.What, num(l.Quantity), l.Unit, num(l.UnitUSD), l.USD, l.Assumes)
		if i == len(e.Lines)-1 || e.Lines[i+1].Stack != l.Stack {
			for _, s := range e.Subtotals {
				if s.Stack == l.Stack {
					fmt.Fprintf(tw, "  %s subtotal\t\t\t\t%.4f\t\n", s.Stack, s.USD)
				}
			}
		}
	}
	fmt.Fprintf(tw, "total\t\t\t\t%.4f\t\n", e.TotalUSD)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s\nSource: %s.\n", e.Note, e.PriceSource)
	return err
}

// num prints a quantity or unit price in full, so a line can be checked by hand;
// only a long fraction (a prorated month) is cut to 6 significant digits.
func num(v float64) string {
	if s := strconv.FormatFloat(v, 'f', -1, 64); len(s) <= 14 {
		return s
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}
