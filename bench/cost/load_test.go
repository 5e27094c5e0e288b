package cost

import (
	"strings"
	"testing"

	"github.com/servebench/servebench/study"
)

// The default list's serverful items, by hand: a gp3 root volume of 30 GiB at
// $0.08 a GB-month over 730 h, and a public IPv4 at $0.005 an hour.
const (
	volumeH = 30 * 0.08 / 730
	ipv4H   = 0.005
	lcuPerR = 0.008 / 25 // $ an hour per req/s (keep-alive off: one new connection each)
)

func TestFleetHourly(t *testing.T) {
	p := Default()
	f := Fleet{InstanceType: "t3a.xlarge", MinInstances: 1, PerInstance: 10}
	// One instance saturated at 10 req/s: surplus (4 − 1.6) vCPU × $0.05.
	h, err := p.FleetHourly(f, 10)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "compute", h.Compute, 0.1504)
	near(t, "addresses", h.Addresses, 3*ipv4H) // the instance and 2 ALB nodes
	near(t, "volumes", h.Volumes, volumeH)
	near(t, "surplus at saturation", h.Surplus, 0.12)
	near(t, "alb", h.LoadBalancer, 0.0225)
	near(t, "lcu", h.LCU, 10*lcuPerR)
	// The figure: addresses and volume make the idle one-instance fleet
	// 10.6 % dearer than instance + ALB alone.
	idle, _ := p.FleetHourly(f, 0)
	if got := (idle.Total()/(0.1504+0.0225) - 1) * 100; got < 10.55 || got > 10.65 {
		t.Errorf("idle fleet is %.2f %% above instance + ALB, want 10.6 %%", got)
	}
	// Half busy: 50 % of 4 vCPUs, 10 points over the 40 % baseline.
	h, _ = p.FleetHourly(f, 5)
	near(t, "surplus at 50 %", h.Surplus, 4*0.1*0.05)
	// 25 req/s needs 3 instances, each 25/30 busy.
	h, _ = p.FleetHourly(f, 25)
	if h.Instances != 3 {
		t.Errorf("instances at 25 req/s = %d, want 3", h.Instances)
	}
	near(t, "surplus on 3", h.Surplus, 3*4*(25.0/30-0.4)*0.05)
	near(t, "addresses on 3", h.Addresses, 5*ipv4H)
	// No surplus on a type that does not burst.
	h, _ = p.FleetHourly(Fleet{InstanceType: "m5.large", PerInstance: 10}, 10)
	if h.Surplus != 0 {
		t.Errorf("m5.large surplus = %v, want 0", h.Surplus)
	}
	near(t, "m5.large compute", h.Compute, 0.096)

	per, err := p.ServerfulPer1000(f, 5)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "per 1000 at 5 req/s", per, (0.1504+3*ipv4H+volumeH+0.02+0.0225+5*lcuPerR)/18000*1000)
	if n := (Fleet{PerInstance: 10, MinInstances: 2}).Size(1); n != 2 {
		t.Errorf("min fleet not kept: %d", n)
	}
	if _, err := p.ServerfulPer1000(f, 0); err == nil {
		t.Error("zero throughput: no error")
	}
	if _, err := p.FleetHourly(Fleet{InstanceType: "m9.huge", PerInstance: 1}, 1); err == nil || !strings.Contains(err.Error(), "t3a.xlarge") {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := p.FleetHourly(Fleet{InstanceType: "t3a.xlarge"}, 1); err == nil {
		t.Error("zero capacity: no error")
	}
}

func TestObjectAndColdShare(t *testing.T) {
	p := Default()
	got, ok := p.ObjectPerRequest("predict")
	near(t, "predict GET + PUT", got, (0.0004+0.005)/1000)
	if !ok {
		t.Error("predict unknown")
	}
	got, _ = p.ObjectPerRequest("faces/predict")
	near(t, "faces/predict 2 GETs", got, 2*0.0004/1000)
	if _, ok := p.ObjectPerRequest("nope"); ok {
		t.Error("an unknown function has a price")
	}
	near(t, "cold share of a 3.6 s request", ColdShare(3600), 0.001)
}

func TestCurves(t *testing.T) {
	p := Default()
	l := Load{Serverless: 1e-5, Object: 2e-6, Fleet: Fleet{InstanceType: "m5.large", MinInstances: 1, PerInstance: 10}}
	near(t, "serverless monthly at 3 req/s", p.ServerlessMonthly(l, 3), 1.2e-5*3*3600*730)
	got, err := p.ServerfulMonthly(l, 15) // 2 instances
	if err != nil {
		t.Fatal(err)
	}
	near(t, "serverful monthly at 15 req/s", got, (2*(0.096+ipv4H+volumeH)+2*ipv4H+0.0225+15*lcuPerR+2e-6*15*3600)*730)
}

func TestFindBreakEven(t *testing.T) {
	p := Default()
	// $1e-5 a request is $0.036 an hour per req/s; the LCUs take 0.00032 of it.
	const d = 0.036 - lcuPerR
	m5 := 0.096 + ipv4H + volumeH   // one m5.large with its address and volume
	t3a := 0.1504 + ipv4H + volumeH // one t3a.xlarge likewise
	fixed := 0.0225 + 2*ipv4H       // the ALB and its 2 addresses
	cases := []struct {
		name      string
		fleet     Fleet
		rate      float64
		first     float64
		crossings int
		size      int
	}{
		// One crossing in the first step; the second starts above it.
		{"m5 10/s", Fleet{"m5.large", 1, 10}, (m5 + fixed) / d, (m5 + fixed) / d, 1, 1},
		// 4.5 req/s an instance: serverless turns dearer in steps 1, 2 and 3, the
		// fleet's next instance makes it cheaper again twice; from step 4 on it
		// stays dearer, so the break-even is the third crossing up.
		{"m5 4.5/s", Fleet{"m5.large", 1, 4.5}, (3*m5 + fixed) / d, (m5 + fixed) / d, 5, 3},
		// t3a: past 40 % of an instance the surplus CPU adds 4 × 0.05 / cap per req/s.
		// Step 1 crosses on its busy part, step 2 falls back and crosses again.
		{"t3a 10/s", Fleet{"t3a.xlarge", 1, 10}, (2*t3a + fixed - 2*4*0.4*0.05) / (d - 4*0.05/10), (t3a + fixed - 4*0.4*0.05) / (d - 4*0.05/10), 3, 2},
		// A minimum of 2 instances: the first crossing is on 2.
		{"m5 min 2", Fleet{"m5.large", 2, 10}, (2*m5 + fixed) / d, (2*m5 + fixed) / d, 1, 2},
	}
	for _, c := range cases {
		l := Load{Serverless: 1e-5, Object: 5e-6, Fleet: c.fleet}
		be, err := p.FindBreakEven(l)
		if err != nil {
			t.Fatal(err)
		}
		if !be.Found {
			t.Errorf("%s: not found: %s", c.name, be.Why)
			continue
		}
		near(t, c.name+" rate", be.Rate, c.rate)
		near(t, c.name+" first", be.First, c.first)
		if be.Crossings != c.crossings || be.Fleet != c.size {
			t.Errorf("%s: %d crossings on %d instances, want %d on %d", c.name, be.Crossings, be.Fleet, c.crossings, c.size)
		}
		near(t, c.name+" monthly", be.Monthly, p.ServerlessMonthly(l, c.rate))
		// The curves meet there, and just above it serverless is the dearer.
		sf, _ := p.ServerfulMonthly(l, be.Rate)
		near(t, c.name+" curves meet", sf, be.Monthly)
		for _, r := range []float64{be.Rate * 1.001, be.Rate * 2, be.Rate * 10} {
			if sf, _ := p.ServerfulMonthly(l, r); p.ServerlessMonthly(l, r) <= sf {
				t.Errorf("%s: at %.3g req/s serverless $%.2f ≤ serverful $%.2f", c.name, r, p.ServerlessMonthly(l, r), sf)
			}
		}
	}
	// 3 req/s an instance: each m5.large ($0.104/h) costs more than the $0.107 −
	// LCU of serverless requests it carries? 3 × 0.03568 = 0.107 > 0.104, so
	// there is a crossing; at 2.5 req/s (0.0892) there is none.
	be, _ := p.FindBreakEven(Load{Serverless: 1e-5, Fleet: Fleet{"m5.large", 1, 2.5}})
	if be.Found || !strings.Contains(be.Why, "stays cheaper") {
		t.Errorf("%+v, want not found: serverless stays cheaper", be)
	}
	if _, err := p.FindBreakEven(Load{Serverless: 1e-5, Fleet: Fleet{InstanceType: "m5.large"}}); err == nil {
		t.Error("zero capacity: no error")
	}
	if _, err := p.FindBreakEven(Load{Fleet: Fleet{"m5.large", 1, 10}}); err == nil {
		t.Error("zero serverless price: no error")
	}
}

// Every function the service serves has its bucket requests priced.
func TestObjectOpsCoverEveryFunction(t *testing.T) {
	for _, fn := range study.Functions() {
		if _, ok := Default().ObjectPerRequest(fn); !ok {
			t.Errorf("%s: no bucket requests in FunctionObjectOps", fn)
		}
	}
}
