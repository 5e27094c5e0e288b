package cost

import (
	"errors"
	"fmt"
	"math"

	"github.com/servebench/servebench/study"
)

// StudyMemoryMB is the memory the stacks deploy by default: Lambda 3000 MB (the
// YOLO study's), Cloud Functions 1024 MB. The report prices a target whose
// deployment record says nothing at it; the local Lambda path runs with it.
var StudyMemoryMB = map[Kind]int{Lambda: study.LambdaMemoryMB, CloudFunctions: study.GCFMemoryMB}

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
