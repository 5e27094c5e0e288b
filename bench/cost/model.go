package cost

import (
	"errors"
	"fmt"
	"math"
)

// StudyMemoryMB is the memory the studies ran with: Lambda 3000 MB (YOLO study),
// Cloud Functions 2048 MB (the Eigenfaces study's larger size). The report prices
// with it when nothing says otherwise; the local Lambda path runs with it.
var StudyMemoryMB = map[Kind]int{Lambda: 3000, CloudFunctions: 2048}

// Kind is how a target is billed.
type Kind string

const (
	Lambda         Kind = "lambda"         // AWS Lambda behind an API Gateway HTTP API
	CloudFunctions Kind = "cloudfunctions" // Cloud Run functions (Cloud Functions 2nd gen)
	Serverful      Kind = "serverful"      // EC2 instances behind an ALB
)

// HoursPerMonth is the month AWS prices use (365 × 24 / 12).
const HoursPerMonth = 730

// Billed rounds a measured duration up to the platform's billing increment.
func Billed(ms, incrementMS float64) float64 {
	if ms <= 0 {
		return 0
	}
	return math.Ceil(ms/incrementMS-1e-9) * incrementMS
}

// ServerlessPerRequest is the mean cost in USD of one request that ran for each of
// durationsMS (one entry per billed invocation) with memoryMB on kind. Lambda adds
// its API Gateway request charge.
func (p PriceList) ServerlessPerRequest(kind Kind, memoryMB int, durationsMS []float64) (float64, error) {
	if len(durationsMS) == 0 {
		return 0, errors.New("no server durations to price")
	}
	if memoryMB <= 0 {
		return 0, fmt.Errorf("memory size unknown for %s (set it in the run's config or the report options)", kind)
	}
	var compute float64
	switch kind {
	case Lambda:
		gb := float64(memoryMB) / 1024
		for _, ms := range durationsMS {
			compute += Billed(ms, p.Lambda.BillingIncrementMS) / 1000 * gb * p.Lambda.GBSecond
		}
		compute /= float64(len(durationsMS))
		return compute + (p.Lambda.PerMillionRequests+p.APIGateway.HTTPPerMillionRequests)/1e6, nil
	case CloudFunctions:
		c := p.CloudFunctions
		perSecond := c.vCPU(memoryMB)*c.VCPUSecond + float64(memoryMB)/1024*c.GiBSecond
		for _, ms := range durationsMS {
			compute += Billed(ms, c.BillingIncrementMS) / 1000 * perSecond
		}
		compute /= float64(len(durationsMS))
		return compute + c.PerMillionRequests/1e6, nil
	default:
		return 0, fmt.Errorf("%q is not a serverless kind (want %s or %s)", kind, Lambda, CloudFunctions)
	}
}

// Fleet is a serverful deployment: instances of one type behind an ALB, scaled
// between MinInstances and as many as the load needs.
type Fleet struct {
	InstanceType string
	MinInstances int
	// PerInstance is the request rate (req/s) one instance sustained in the run.
	PerInstance float64
}

// Size is the number of instances the fleet runs at rate req/s.
func (f Fleet) Size(rate float64) int {
	n := int(math.Ceil(rate/f.PerInstance - 1e-9))
	return max(n, f.MinInstances, 1)
}

// Hourly is the fleet's cost per hour at rate req/s: its instances, the ALB, and the
// LCUs the rate's new connections use.
func (p PriceList) Hourly(f Fleet, rate float64) (float64, error) {
	ec2, err := p.EC2(f.InstanceType)
	if err != nil {
		return 0, err
	}
	return float64(f.Size(rate))*ec2 + p.ALB.Hourly + p.lcuHourlyPerRate()*rate, nil
}

// lcuHourlyPerRate is the ALB's LCU charge per hour for each req/s of load.
func (p PriceList) lcuHourlyPerRate() float64 { return p.ALB.LCUHourly / p.ALB.NewConnectionsPerLCU }

// ServerfulPer1000 is the cost of 1,000 requests served at rate req/s: the fleet's
// hourly cost over the requests it serves in an hour.
func (p PriceList) ServerfulPer1000(f Fleet, rate float64) (float64, error) {
	if !(rate > 0) {
		return 0, fmt.Errorf("throughput %v req/s: nothing to divide the fleet's cost by", rate)
	}
	h, err := p.Hourly(f, rate)
	if err != nil {
		return 0, err
	}
	return h / (rate * 3600) * 1000, nil
}

// BreakEven is the lowest request rate at which a serverless side costs as much as
// the serverful fleet sized for that rate.
type BreakEven struct {
	Found   bool
	Rate    float64 // req/s
	Fleet   int     // serverful instances at that rate
	Monthly float64 // USD per month of either side at that rate
	Why     string  // when not found: why not
}

// maxFleet bounds the search; past it the answer is "not below this rate".
const maxFleet = 1_000_000

// FindBreakEven compares serverless at perRequest USD per request with fleet f.
// Serverless cost grows linearly with the rate; the fleet's is a staircase (one
// instance more every PerInstance req/s) plus the ALB. The first rate where the
// line meets the staircase is returned; just past each later step the fleet can
// be the dearer one again for a short range, which the caller's notes should say.
func (p PriceList) FindBreakEven(perRequest float64, f Fleet) (BreakEven, error) {
	ec2, err := p.EC2(f.InstanceType)
	if err != nil {
		return BreakEven{}, err
	}
	if !(f.PerInstance > 0) {
		return BreakEven{}, fmt.Errorf("serverful throughput per instance %v req/s: cannot size a fleet", f.PerInstance)
	}
	// Hourly serverless cost s·r against the fleet's n·E + A + l·r.
	s := perRequest * 3600
	d := s - p.lcuHourlyPerRate()
	if d <= 0 {
		return BreakEven{Why: "serverless costs less per request than the load balancer alone"}, nil
	}
	// Past the asymptote the fleet costs E/PerInstance per req/s more; if serverless
	// never outgrows that, there is no crossing.
	if d*f.PerInstance <= ec2 {
		return BreakEven{Why: "serverless stays cheaper at any rate: an instance costs more an hour than the serverless requests it can serve"}, nil
	}
	minN := max(f.MinInstances, 1)
	for n := minN; n <= maxFleet; n++ {
		lo := float64(n-1) * f.PerInstance
		if n == minN {
			lo = 0
		}
		hi := float64(n) * f.PerInstance
		// Earlier steps failed, so r > lo here: the crossing is in this step or later.
		r := (float64(n)*ec2 + p.ALB.Hourly) / d
		if r > lo && r <= hi {
			return BreakEven{Found: true, Rate: r, Fleet: n, Monthly: s * r * HoursPerMonth}, nil
		}
	}
	return BreakEven{Why: fmt.Sprintf("not below %.0f req/s", float64(maxFleet)*f.PerInstance)}, nil
}
