package cost

import (
	"fmt"
	"math"
	"time"

	"github.com/servebench/servebench/study"
)

// Fleet is a serverful deployment: instances of one type behind an ALB, scaled
// between MinInstances and as many as the load needs.
type Fleet struct {
	InstanceType string
	MinInstances int
	// PerInstance is the request rate (req/s) one instance holds: the measured
	// capacity of the rate scenario where there is one.
	PerInstance float64
}

// Size is the number of instances the fleet runs at rate req/s: one more per
// PerInstance.
func (f Fleet) Size(rate float64) int {
	n := int(math.Ceil(rate/f.PerInstance - 1e-9))
	return max(n, f.MinInstances, 1)
}

// FleetHour is what a serverful fleet costs an hour at one rate, item by item.
type FleetHour struct {
	Instances int
	Compute   float64 // the instances' on-demand price
	Addresses float64 // a public IPv4 per instance and one per load balancer node
	Volumes   float64 // each instance's gp3 root volume
	// Surplus is T3/T3a "unlimited" CPU above the baseline: each instance's
	// vCPUs × (utilisation − baseline) × the surplus price, utilisation being
	// rate / (instances × PerInstance). 0 for other instance types.
	Surplus      float64
	LoadBalancer float64 // the ALB's hourly charge
	LCU          float64 // its capacity units: one per NewConnectionsPerLCU new connections/s
}

// Total is the fleet's cost per hour.
func (h FleetHour) Total() float64 {
	return h.Compute + h.Addresses + h.Volumes + h.Surplus + h.LoadBalancer + h.LCU
}

// perInstanceHourly is what each instance costs an hour before its surplus CPU:
// the instance, its public address and its root volume.
func (p PriceList) perInstanceHourly(instanceType string) (float64, error) {
	ec2, err := p.EC2(instanceType)
	if err != nil {
		return 0, err
	}
	return ec2 + p.PublicIPv4Hourly + p.VolumeHourly(), nil
}

// VolumeHourly is one instance's root volume an hour (a month is HoursPerMonth).
func (p PriceList) VolumeHourly() float64 {
	return study.RootVolumeGiB * p.EBSgp3GBMonth / HoursPerMonth
}

// FleetHourly prices fleet f at rate req/s.
func (p PriceList) FleetHourly(f Fleet, rate float64) (FleetHour, error) {
	ec2, err := p.EC2(f.InstanceType)
	if err != nil {
		return FleetHour{}, err
	}
	if !(f.PerInstance > 0) {
		return FleetHour{}, fmt.Errorf("serverful capacity per instance %v req/s: cannot size a fleet", f.PerInstance)
	}
	n := f.Size(rate)
	h := FleetHour{
		Instances:    n,
		Compute:      float64(n) * ec2,
		Addresses:    float64(n+study.ALBZones) * p.PublicIPv4Hourly,
		Volumes:      float64(n) * p.VolumeHourly(),
		LoadBalancer: p.ALB.Hourly,
		LCU:          p.lcuHourlyPerRate() * rate,
	}
	if b, ok := p.Burstable.Types[f.InstanceType]; ok {
		u := math.Min(1, rate/(float64(n)*f.PerInstance))
		h.Surplus = float64(n) * float64(b.VCPUs) * math.Max(0, u-b.Baseline) * p.Burstable.SurplusVCPUHourly
	}
	return h, nil
}

// SurplusAtSaturation is what a burstable instance type pays an hour for its CPU
// above the baseline when fully busy, and whether the type is burstable at all.
func (p PriceList) SurplusAtSaturation(instanceType string) (float64, bool) {
	b, ok := p.Burstable.Types[instanceType]
	if !ok {
		return 0, false
	}
	return float64(b.VCPUs) * (1 - b.Baseline) * p.Burstable.SurplusVCPUHourly, true
}

// lcuHourlyPerRate is the ALB's LCU charge per hour for each req/s of load.
func (p PriceList) lcuHourlyPerRate() float64 { return p.ALB.LCUHourly / p.ALB.NewConnectionsPerLCU }

// ServerfulPer1000 is the cost of 1,000 requests served at rate req/s: the fleet's
// hourly cost over the requests it serves in an hour.
func (p PriceList) ServerfulPer1000(f Fleet, rate float64) (float64, error) {
	if !(rate > 0) {
		return 0, fmt.Errorf("throughput %v req/s: nothing to divide the fleet's cost by", rate)
	}
	h, err := p.FleetHourly(f, rate)
	if err != nil {
		return 0, err
	}
	return h.Total() / (rate * 3600) * 1000, nil
}

// ObjectOps are the bucket requests one call of a function makes (service/api
// and service/faces): predict reads its image and writes the annotated one.
type ObjectOps struct{ Get, Put int }

// FunctionObjectOps maps each function to its bucket requests.
var FunctionObjectOps = map[string]ObjectOps{
	study.FunctionPredict:       {Get: 1, Put: 1},
	study.FunctionFacesDownload: {Get: 1, Put: 1}, // the source archive in, the data set out
	study.FunctionFacesTrain:    {Get: 1, Put: 1}, // the data set in, the model out
	study.FunctionFacesUpload:   {Put: 1},
	study.FunctionFacesPredict:  {Get: 2}, // the model and the uploaded photo
}

// ObjectPerRequest is the bucket requests' price of one call of function; false
// for a function the table does not know.
func (p PriceList) ObjectPerRequest(function string) (float64, bool) {
	ops, ok := FunctionObjectOps[function]
	if !ok {
		return 0, false
	}
	return (float64(ops.Get)*p.ObjectStorage.GetPer1000 + float64(ops.Put)*p.ObjectStorage.PutPer1000) / 1000, true
}

// InstanceLifetime is how long a serverless instance serves before the platform
// replaces it while it is kept busy. Neither Lambda nor Cloud Run publishes one;
// an hour is the assumption the report states beside every figure built on it.
const InstanceLifetime = time.Hour

// ColdShare is the share of requests that start cold when a rate is sustained:
// the platform keeps rate × warm duration instances busy and replaces each once
// per InstanceLifetime, so cold starts per request = warm duration / lifetime,
// whatever the rate (above about one request per idle timeout, a few minutes).
func ColdShare(warmMS float64) float64 {
	return warmMS / float64(InstanceLifetime.Milliseconds())
}

// Load compares the two sides of one function as the request rate grows.
type Load struct {
	// Serverless is the USD of one serverless request, cold starts amortised,
	// request charges included.
	Serverless float64
	// Object is the USD of one request's bucket requests, paid on both sides.
	Object float64
	Fleet  Fleet
}

// perHour turns a USD-per-request price at rate req/s into USD per hour.
func perHour(usd, rate float64) float64 { return usd * rate * 3600 }

// ServerlessMonthly is the serverless side's cost of a month at rate req/s: a line.
func (p PriceList) ServerlessMonthly(l Load, rate float64) float64 {
	return perHour(l.Serverless+l.Object, rate) * HoursPerMonth
}

// ServerfulMonthly is the fleet's cost of a month at rate req/s: steps, one more
// instance per Fleet.PerInstance, rising a little within each step (LCUs, surplus
// CPU).
func (p PriceList) ServerfulMonthly(l Load, rate float64) (float64, error) {
	h, err := p.FleetHourly(l.Fleet, rate)
	if err != nil {
		return 0, err
	}
	return (h.Total() + perHour(l.Object, rate)) * HoursPerMonth, nil
}

// BreakEven is where serverless stops being the cheaper side for good.
type BreakEven struct {
	Found bool
	// Rate is the lowest rate above which serverless costs more at every rate,
	// req/s; below it serverless is cheaper, except perhaps just past some of the
	// fleet's steps when Crossings > 1.
	Rate    float64
	Fleet   int     // serverful instances at Rate
	Monthly float64 // USD per month of either side at Rate
	// First is the lowest rate at which serverless becomes the dearer side, and
	// Crossings how often the curves cross up to Rate (a step can make the fleet
	// dearer again for a while): 1 when First == Rate.
	First     float64
	Crossings int
	Why       string // when not found: why not
}

// maxFleet bounds the search; past it the answer is "not below this rate".
const maxFleet = 1_000_000

// FindBreakEven finds where l's two curves cross. Their difference (serverless
// minus serverful, per hour) is linear between the fleet's steps and the kink
// where the surplus CPU starts, so it is evaluated at those points only. From
// the second step on, the difference at the start and at the end of each step
// grows by the same amount per step (PerInstance × serverless price − one
// instance with its surplus at saturation), so once both are above zero with
// that amount positive, serverless stays dearer.
func (p PriceList) FindBreakEven(l Load) (BreakEven, error) {
	f := l.Fleet
	inst, err := p.perInstanceHourly(f.InstanceType)
	if err != nil {
		return BreakEven{}, err
	}
	if !(f.PerInstance > 0) {
		return BreakEven{}, fmt.Errorf("serverful capacity per instance %v req/s: cannot size a fleet", f.PerInstance)
	}
	if !(l.Serverless > 0) {
		return BreakEven{}, fmt.Errorf("serverless cost per request %v: want a price above 0", l.Serverless)
	}
	surplusSat, _ := p.SurplusAtSaturation(f.InstanceType)
	perStep := perHour(l.Serverless, f.PerInstance) - p.lcuHourlyPerRate()*f.PerInstance - inst - surplusSat
	if perStep <= 0 {
		return BreakEven{Why: fmt.Sprintf("serverless stays cheaper at high rates: one more instance costs $%.4f an hour (instance, address, volume, surplus CPU at saturation) "+
			"and takes over %.3g req/s of serverless requests that cost $%.4f an hour",
			inst+surplusSat, f.PerInstance, perHour(l.Serverless, f.PerInstance)-p.lcuHourlyPerRate()*f.PerInstance)}, nil
	}
	// diff is serverless minus serverful per hour at r on a fleet of n (the bucket
	// requests are the same on both sides and cancel).
	diff := func(n int, r float64) float64 {
		h, _ := p.FleetHourly(Fleet{InstanceType: f.InstanceType, MinInstances: n, PerInstance: f.PerInstance}, r)
		return perHour(l.Serverless, r) - h.Total()
	}
	var be BreakEven
	last := math.NaN() // the last rate seen with serverless no dearer
	dearer := false
	minN := max(f.MinInstances, 1)
	for n := minN; n <= maxFleet; n++ {
		lo, hi := float64(n-1)*f.PerInstance, float64(n)*f.PerInstance
		if n == minN {
			lo = 0
		}
		pts := []float64{lo}
		if b, ok := p.Burstable.Types[f.InstanceType]; ok {
			if k := float64(n) * f.PerInstance * b.Baseline; k > lo && k < hi {
				pts = append(pts, k)
			}
		}
		pts = append(pts, hi)
		allAbove := true
		for i := 1; i < len(pts); i++ {
			a, c := pts[i-1], pts[i]
			da, dc := diff(n, a), diff(n, c)
			if (da > 0) != dearer {
				// A step's jump (the fleet grows) turned the sign at a.
				be.Crossings++
				dearer = da > 0
				if dearer && be.First == 0 {
					be.First = a
				}
			}
			if dc <= 0 {
				last = c
			} else if da <= 0 {
				last = a + (c-a)*(-da)/(dc-da)
			}
			if (dc > 0) != dearer {
				// The sign turned within the segment.
				be.Crossings++
				dearer = dc > 0
				if dearer && be.First == 0 {
					be.First = last
				}
			}
			allAbove = allAbove && da > 0 && dc > 0
		}
		if allAbove && n > minN && len(pts) == 2 {
			be.Found = true
			be.Rate = last
			be.Fleet = f.Size(last)
			be.Monthly = p.ServerlessMonthly(l, last)
			return be, nil
		}
	}
	return BreakEven{Why: fmt.Sprintf("not below %.0f req/s", float64(maxFleet)*f.PerInstance)}, nil
}
