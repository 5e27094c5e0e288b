// Package cost prices a measured run: the cost per 1,000 requests of each side,
// serverless from the server durations it billed and serverful from the hourly cost
// of its fleet over the throughput it sustained; each side's monthly cost against
// a sustained request rate and the rate above which serverless is dearer
// (load.go); and a cloud run's worst case before it starts (estimate.go).
package cost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
)

// PriceList is the set of public on-demand prices the model uses. Default holds the
// published prices; LoadFile overlays a JSON file on them.
type PriceList struct {
	Date   string `json:"date"`   // when the prices were taken from the sources
	Source string `json:"source"` // where they were published
	Note   string `json:"note"`
	Region string `json:"region"`

	Lambda         LambdaPrices         `json:"lambda"`
	APIGateway     APIGatewayPrices     `json:"api_gateway"`
	EC2Hourly      map[string]float64   `json:"ec2_hourly"` // instance type → USD per instance-hour
	ALB            ALBPrices            `json:"alb"`
	CloudFunctions CloudFunctionsPrices `json:"cloud_functions"`

	// The charges around the compute that a cloud run's worst-case estimate adds
	// (estimate.go); the per-request model above leaves them out.
	PublicIPv4Hourly float64         `json:"public_ipv4_hourly"` // USD per public IPv4 address-hour (charged since 2024-02-01)
	Burstable        BurstablePrices `json:"ec2_burstable"`
	// EBSgp3GBMonth is a gp3 volume's storage price: each instance's root volume.
	EBSgp3GBMonth float64 `json:"ebs_gp3_gb_month"`
	// ObjectStorage is the price of the bucket requests each function makes (S3
	// on AWS, GCS on Google Cloud: the same list prices).
	ObjectStorage    ObjectStoragePrices `json:"object_storage"`
	ECR              RegistryPrices      `json:"ecr"`
	ArtifactRegistry RegistryPrices      `json:"artifact_registry"`
	CloudBuild       CloudBuildPrices    `json:"cloud_build"`
}

// BurstablePrices is what T instances in "unlimited" mode (the default for T3 and
// T3a) pay for CPU above their baseline once their earned credits are spent.
type BurstablePrices struct {
	SurplusVCPUHourly float64                  `json:"surplus_vcpu_hourly"` // USD per vCPU-hour above the baseline
	Types             map[string]BurstableType `json:"types"`               // instance type → its vCPUs and baseline
}

// BurstableType is one T instance type's vCPUs and baseline CPU (a fraction of each vCPU).
type BurstableType struct {
	VCPUs    int     `json:"vcpus"`
	Baseline float64 `json:"baseline"`
}

// ObjectStoragePrices are S3 Standard's request prices (GCS Standard's Class B
// and Class A operations cost the same).
type ObjectStoragePrices struct {
	GetPer1000 float64 `json:"get_per_1000"` // USD per 1,000 GET requests
	PutPer1000 float64 `json:"put_per_1000"` // USD per 1,000 PUT requests
}

// RegistryPrices is a container registry's storage price.
type RegistryPrices struct {
	GBMonth float64 `json:"gb_month"` // USD per GB-month, prorated by the hour
}

// CloudBuildPrices is Cloud Build's default-pool price (Cloud Functions builds).
type CloudBuildPrices struct {
	PerMinute float64 `json:"per_minute"` // USD per build-minute (e2-standard-2)
}

// LambdaPrices are AWS Lambda's on-demand prices (x86).
type LambdaPrices struct {
	GBSecond           float64 `json:"gb_second"`            // USD per GB-second (GB = 1024 MB)
	PerMillionRequests float64 `json:"per_million_requests"` // USD
	BillingIncrementMS float64 `json:"billing_increment_ms"` // duration is rounded up to this
}

// APIGatewayPrices is the HTTP API's request price (first 300 million a month).
type APIGatewayPrices struct {
	HTTPPerMillionRequests float64 `json:"http_per_million_requests"`
}

// ALBPrices is an Application Load Balancer's hourly charge and its capacity unit.
type ALBPrices struct {
	Hourly    float64 `json:"hourly"`     // USD per ALB-hour
	LCUHourly float64 `json:"lcu_hourly"` // USD per LCU-hour
	// NewConnectionsPerLCU is the new connections per second one LCU covers. The
	// studies' load runs with keep-alive off, so every request is a new connection
	// and this is the dimension that decides the LCU count.
	NewConnectionsPerLCU float64 `json:"new_connections_per_lcu"`
}

// CloudFunctionsPrices are Cloud Run functions' (Cloud Functions 2nd gen)
// request-based prices, Tier 1 regions.
type CloudFunctionsPrices struct {
	VCPUSecond         float64 `json:"vcpu_second"`
	GiBSecond          float64 `json:"gib_second"`
	PerMillionRequests float64 `json:"per_million_requests"`
	BillingIncrementMS float64 `json:"billing_increment_ms"`
	// VCPUByMemoryMB is the vCPU a function gets with a given memory setting
	// (memory MB → vCPU); a setting between two rows gets the larger row's vCPU.
	VCPUByMemoryMB map[int]float64 `json:"vcpu_by_memory_mb"`
}

// Default returns the built-in price list: AWS us-east-1 and Google Cloud Tier 1
// on-demand list prices, no free tiers, no savings plans. They are as published on
// the date given, not checked against the live pages here.
func Default() PriceList {
	return PriceList{
		Date: "2025-06",
		Source: "aws.amazon.com/lambda/pricing, aws.amazon.com/api-gateway/pricing, " +
			"aws.amazon.com/ec2/pricing/on-demand (with T3/T3a unlimited), aws.amazon.com/elasticloadbalancing/pricing, " +
			"aws.amazon.com/vpc/pricing (public IPv4, since 2024-02-01), aws.amazon.com/ecr/pricing, " +
			"aws.amazon.com/ebs/pricing (gp3), aws.amazon.com/s3/pricing and cloud.google.com/storage/pricing (requests), " +
			"cloud.google.com/run/pricing (Cloud Run functions / Cloud Functions 2nd gen), " +
			"cloud.google.com/build/pricing, cloud.google.com/artifact-registry/pricing",
		Note: "As published, not checked here. On-demand list prices, no free tier, no savings plans, " +
			"no data transfer, storage or logging charges.",
		Region: "AWS us-east-1; Google Cloud Tier 1 (e.g. us-central1)",
		Lambda: LambdaPrices{
			GBSecond:           0.0000166667,
			PerMillionRequests: 0.20,
			BillingIncrementMS: 1,
		},
		APIGateway: APIGatewayPrices{HTTPPerMillionRequests: 1.00},
		EC2Hourly: map[string]float64{
			"t3a.xlarge": 0.1504,
			"t3.xlarge":  0.1664,
			"m5.large":   0.096,
		},
		ALB: ALBPrices{Hourly: 0.0225, LCUHourly: 0.008, NewConnectionsPerLCU: 25},
		CloudFunctions: CloudFunctionsPrices{
			VCPUSecond:         0.000024,
			GiBSecond:          0.0000025,
			PerMillionRequests: 0.40,
			BillingIncrementMS: 100,
			VCPUByMemoryMB: map[int]float64{
				128: 0.083, 256: 0.167, 512: 0.333, 1024: 0.583, 2048: 1,
				4096: 2, 8192: 2, 16384: 4, 32768: 8,
			},
		},
		PublicIPv4Hourly: 0.005,
		EBSgp3GBMonth:    0.08,
		ObjectStorage:    ObjectStoragePrices{GetPer1000: 0.0004, PutPer1000: 0.005},
		Burstable: BurstablePrices{
			SurplusVCPUHourly: 0.05,
			Types: map[string]BurstableType{
				"t3a.xlarge": {VCPUs: 4, Baseline: 0.4},
				"t3.xlarge":  {VCPUs: 4, Baseline: 0.4},
			},
		},
		ECR:              RegistryPrices{GBMonth: 0.10},
		ArtifactRegistry: RegistryPrices{GBMonth: 0.10},
		CloudBuild:       CloudBuildPrices{PerMinute: 0.006},
	}
}

// LoadFile reads a JSON price list from path and overlays it on Default: fields the
// file names replace the defaults (maps are merged key by key), the rest stay.
// Unknown fields and negative prices are errors, so a typo does not silently price
// a run with the default.
func LoadFile(path string) (PriceList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return PriceList{}, fmt.Errorf("price list: %w", err)
	}
	p := Default()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return PriceList{}, fmt.Errorf("price list %s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return PriceList{}, fmt.Errorf("price list %s: %w", path, err)
	}
	return p, nil
}

// Validate reports a negative price or a zero capacity or increment.
func (p PriceList) Validate() error {
	var errs []error
	neg := func(name string, v float64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s is negative (%v)", name, v))
		}
	}
	pos := func(name string, v float64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive (%v)", name, v))
		}
	}
	neg("lambda.gb_second", p.Lambda.GBSecond)
	neg("lambda.per_million_requests", p.Lambda.PerMillionRequests)
	pos("lambda.billing_increment_ms", p.Lambda.BillingIncrementMS)
	neg("api_gateway.http_per_million_requests", p.APIGateway.HTTPPerMillionRequests)
	neg("alb.hourly", p.ALB.Hourly)
	neg("alb.lcu_hourly", p.ALB.LCUHourly)
	pos("alb.new_connections_per_lcu", p.ALB.NewConnectionsPerLCU)
	neg("cloud_functions.vcpu_second", p.CloudFunctions.VCPUSecond)
	neg("cloud_functions.gib_second", p.CloudFunctions.GiBSecond)
	neg("cloud_functions.per_million_requests", p.CloudFunctions.PerMillionRequests)
	pos("cloud_functions.billing_increment_ms", p.CloudFunctions.BillingIncrementMS)
	for _, k := range sortedKeys(p.EC2Hourly) {
		neg("ec2_hourly."+k, p.EC2Hourly[k])
	}
	neg("public_ipv4_hourly", p.PublicIPv4Hourly)
	neg("ec2_burstable.surplus_vcpu_hourly", p.Burstable.SurplusVCPUHourly)
	for _, k := range sortedKeys(p.Burstable.Types) {
		if b := p.Burstable.Types[k]; b.VCPUs <= 0 || b.Baseline < 0 || b.Baseline > 1 {
			errs = append(errs, fmt.Errorf("ec2_burstable.types.%s: %d vCPUs, baseline %v: want vCPUs ≥ 1 and a baseline from 0 to 1", k, b.VCPUs, b.Baseline))
		}
	}
	neg("ebs_gp3_gb_month", p.EBSgp3GBMonth)
	neg("object_storage.get_per_1000", p.ObjectStorage.GetPer1000)
	neg("object_storage.put_per_1000", p.ObjectStorage.PutPer1000)
	neg("ecr.gb_month", p.ECR.GBMonth)
	neg("artifact_registry.gb_month", p.ArtifactRegistry.GBMonth)
	neg("cloud_build.per_minute", p.CloudBuild.PerMinute)
	if len(p.CloudFunctions.VCPUByMemoryMB) == 0 {
		errs = append(errs, errors.New("cloud_functions.vcpu_by_memory_mb is empty"))
	}
	for mb, v := range p.CloudFunctions.VCPUByMemoryMB {
		if mb <= 0 || v <= 0 {
			errs = append(errs, fmt.Errorf("cloud_functions.vcpu_by_memory_mb: %d MB → %v vCPU is not positive", mb, v))
		}
	}
	return errors.Join(errs...)
}

// EC2 returns the hourly price of an instance type, or an error listing the known
// types.
func (p PriceList) EC2(instanceType string) (float64, error) {
	v, ok := p.EC2Hourly[instanceType]
	if !ok {
		return 0, fmt.Errorf("no EC2 price for %q (the price list has %v; add it with a price file)", instanceType, sortedKeys(p.EC2Hourly))
	}
	return v, nil
}

// vCPU returns the vCPU Cloud Run functions allots to memoryMB.
func (p CloudFunctionsPrices) vCPU(memoryMB int) float64 {
	tiers := make([]int, 0, len(p.VCPUByMemoryMB))
	for mb := range p.VCPUByMemoryMB {
		tiers = append(tiers, mb)
	}
	sort.Ints(tiers)
	for _, mb := range tiers {
		if memoryMB <= mb {
			return p.VCPUByMemoryMB[mb]
		}
	}
	return p.VCPUByMemoryMB[tiers[len(tiers)-1]]
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
