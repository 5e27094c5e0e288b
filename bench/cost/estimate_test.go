package cost

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// studyPlan is the plan the tests price: a 5-instance t3a.xlarge fleet for 30
// minutes, Lambda at two sizes, Cloud Functions at 1024 and 2048 MB.
func studyPlan() CloudPlan {
	return CloudPlan{
		Serverful: &ServerfulPlan{InstanceType: "t3a.xlarge", MaxInstances: 5, ALBNodes: 2,
			WallTime: 30 * time.Minute, PeakRate: 50, Registry: Registry{ImageGB: 1.5, Kept: 30 * time.Minute}},
		Lambda: &LambdaPlan{Timeout: 30 * time.Second, Sizes: []LambdaSize{
			{MemoryMB: 1024, Requests: 300, ColdStarts: 150},
			{MemoryMB: 3000, Requests: 2976},
		}},
		CloudFunctions: &CloudFunctionsPlan{BuildMinutes: 12, Registry: Registry{ImageGB: 0.4, Kept: time.Hour},
			Functions: []CloudFunction{
				{Name: "predict-1024", MemoryMB: 1024, Requests: 60, Timeout: 540 * time.Second},
				{Name: "faces-train-1024", MemoryMB: 1024, Requests: 20, Timeout: 540 * time.Second},
				{Name: "predict-2048", MemoryMB: 2048, Requests: 60, Timeout: 60 * time.Second},
			}},
	}
}

func byWhat(t *testing.T, e Estimate) map[string]Line {
	t.Helper()
	m := map[string]Line{}
	for _, l := range e.Lines {
		if _, dup := m[l.What]; dup {
			t.Errorf("two lines %q", l.What)
		}
		m[l.What] = l
	}
	return m
}

// TestCloudWorstCase checks every line against the price list's fields, worked by
// hand, and each stack's sums against the per-request model in model.go.
func TestCloudWorstCase(t *testing.T) {
	p := Default()
	e, err := p.WorstCase(studyPlan())
	if err != nil {
		t.Fatal(err)
	}
	t3a := p.EC2Hourly["t3a.xlarge"]
	b := p.Burstable.Types["t3a.xlarge"]
	lcus := 50 / p.ALB.NewConnectionsPerLCU
	gbs1024 := 300 * 30.0 * 1
	gbs3000 := 2976 * 30.0 * 3000 / 1024
	cfSeconds1024 := (60 + 20) * 540.0
	cfSeconds2048 := 60 * 60.0
	want := map[string]struct {
		stack string
		qty   float64
		unit  float64
	}{
		// The fleet at 5 instances for half an hour; the ALB billed a whole hour.
		"t3a.xlarge instances":           {StackServerful, 5 * 0.5, t3a},
		"t3a.xlarge CPU above baseline":  {StackServerful, 5 * 0.5 * float64(b.VCPUs) * (1 - b.Baseline), p.Burstable.SurplusVCPUHourly},
		"load balancer":                  {StackServerful, 1, p.ALB.Hourly},
		"load balancer capacity":         {StackServerful, lcus, p.ALB.LCUHourly},
		"public IPv4 addresses":          {StackServerful, (5 + 2) * 0.5, p.PublicIPv4Hourly},
		"root volumes (gp3)":             {StackServerful, 5 * 0.5 * 30 / HoursPerMonth, p.EBSgp3GBMonth},
		"ECR image storage":              {StackServerful, 1.5 * 0.5 / HoursPerMonth, p.ECR.GBMonth},
		"Lambda 1024 MB compute":         {StackServerless, gbs1024, p.Lambda.GBSecond},
		"Lambda 1024 MB init":            {StackServerless, 150 * 10.0 * 1, p.Lambda.GBSecond},
		"Lambda 3000 MB compute":         {StackServerless, gbs3000, p.Lambda.GBSecond},
		"Lambda requests":                {StackServerless, 3276 / 1e6, p.Lambda.PerMillionRequests},
		"API Gateway HTTP API requests":  {StackServerless, 3276 / 1e6, p.APIGateway.HTTPPerMillionRequests},
		"Cloud Functions 1024 MB CPU":    {StackServerless, cfSeconds1024 * p.CloudFunctions.VCPUByMemoryMB[1024], p.CloudFunctions.VCPUSecond},
		"Cloud Functions 1024 MB memory": {StackServerless, cfSeconds1024 * 1, p.CloudFunctions.GiBSecond},
		"Cloud Functions 2048 MB CPU":    {StackServerless, cfSeconds2048 * p.CloudFunctions.VCPUByMemoryMB[2048], p.CloudFunctions.VCPUSecond},
		"Cloud Functions 2048 MB memory": {StackServerless, cfSeconds2048 * 2, p.CloudFunctions.GiBSecond},
		"Cloud Functions invocations":    {StackServerless, 140 / 1e6, p.CloudFunctions.PerMillionRequests},
		"Cloud Build":                    {StackServerless, 12, p.CloudBuild.PerMinute},
		"Artifact Registry storage":      {StackServerless, 0.4 * 1 / HoursPerMonth, p.ArtifactRegistry.GBMonth},
	}
	got := byWhat(t, e)
	if len(got) != len(want) {
		t.Errorf("%d lines, want %d: %v", len(got), len(want), e.Lines)
	}
	sums := map[string]float64{}
	for what, w := range want {
		l, ok := got[what]
		if !ok {
			t.Errorf("no line %q", what)
			continue
		}
		if l.Stack != w.stack {
			t.Errorf("%s: stack %q, want %q", what, l.Stack, w.stack)
		}
		near(t, what+" quantity", l.Quantity, w.qty)
		near(t, what+" unit price", l.UnitUSD, w.unit)
		near(t, what+" USD", l.USD, w.qty*w.unit)
		if l.Assumes == "" {
			t.Errorf("%s: says nothing of what it assumes", what)
		}
		sums[w.stack] += w.qty * w.unit
	}
	if len(e.Subtotals) != 2 || e.Subtotals[0].Stack != StackServerful || e.Subtotals[1].Stack != StackServerless {
		t.Fatalf("subtotals %+v, want serverful then serverless", e.Subtotals)
	}
	near(t, "serverful subtotal", e.Subtotals[0].USD, sums[StackServerful])
	near(t, "serverless subtotal", e.Subtotals[1].USD, sums[StackServerless])
	near(t, "total", e.TotalUSD, sums[StackServerful]+sums[StackServerless])
	if e.PriceDate != p.Date || e.PriceSource != p.Source || !strings.Contains(e.Note, "not checked against the live pages") {
		t.Errorf("estimate does not say what its prices rest on: %q %q %q", e.PriceDate, e.PriceSource, e.Note)
	}

	// The same requests through model.go's per-request price: every request
	// running to the timeout costs what the compute and request lines add up to.
	perReq, err := p.ServerlessPerRequest(Lambda, 3000, []float64{30000})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Lambda 3000 MB against the model", got["Lambda 3000 MB compute"].USD+2976*(got["Lambda requests"].UnitUSD+got["API Gateway HTTP API requests"].UnitUSD)/1e6, 2976*perReq)
	cfModel := 0.0
	for _, f := range studyPlan().CloudFunctions.Functions {
		pr, err := p.ServerlessPerRequest(CloudFunctions, f.MemoryMB, []float64{float64(f.Timeout.Milliseconds())})
		if err != nil {
			t.Fatal(err)
		}
		cfModel += float64(f.Requests) * pr
	}
	cfLines := 0.0
	for what, l := range got {
		if strings.HasPrefix(what, "Cloud Functions") {
			cfLines += l.USD
		}
	}
	near(t, "Cloud Functions against the model", cfLines, cfModel)
}

// TestCloudWorstCaseFleetHours checks a whole-hour fleet against load.go's hourly
// cost of a saturated fleet (instances, surplus CPU, addresses, volumes, ALB, LCUs
// at the rate), and that a partial ALB hour bills whole.
func TestCloudWorstCaseFleetHours(t *testing.T) {
	p := Default()
	plan := CloudPlan{Serverful: &ServerfulPlan{InstanceType: "t3.xlarge", MaxInstances: 3, ALBNodes: 2, WallTime: 2 * time.Hour, PeakRate: 20}}
	e, err := p.WorstCase(plan)
	if err != nil {
		t.Fatal(err)
	}
	got := byWhat(t, e)
	hourly, err := p.FleetHourly(Fleet{InstanceType: "t3.xlarge", MinInstances: 3, PerInstance: 20.0 / 3}, 20)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "the whole fleet over 2 h", e.Subtotals[0].USD, 2*hourly.Total())
	if _, ok := got["ECR image storage"]; ok {
		t.Error("an image of 0 GB is priced")
	}

	plan.Serverful.WallTime = 61 * time.Minute
	e, _ = p.WorstCase(plan)
	got = byWhat(t, e)
	near(t, "ALB-hours for 61 min", got["load balancer"].Quantity, 2)
	near(t, "instance-hours for 61 min", got["t3.xlarge instances"].Quantity, 3*61.0/60)

	// A type that is not burstable pays no CPU credits.
	p.EC2Hourly["c7i.xlarge"] = 0.1785
	plan.Serverful.InstanceType = "c7i.xlarge"
	e, _ = p.WorstCase(plan)
	if _, ok := byWhat(t, e)["c7i.xlarge CPU above baseline"]; ok {
		t.Error("CPU credits priced for a type the list does not call burstable")
	}
}

func TestCloudWorstCaseRefusesBadPlans(t *testing.T) {
	p := Default()
	unknown := studyPlan()
	unknown.Serverful.InstanceType = "m9.huge"
	_, err := p.WorstCase(unknown)
	if err == nil {
		t.Fatal("unknown instance type: no error")
	}
	for _, s := range []string{"m9.huge", "t3a.xlarge", "t3.xlarge", "price file"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("unknown type: %q does not say %q", err, s)
		}
	}

	// Every bad field is named, all in one error.
	bad := studyPlan()
	bad.Serverful.MaxInstances = 0
	bad.Serverful.ALBNodes = -1
	bad.Serverful.WallTime = 0
	bad.Serverful.PeakRate = -5
	bad.Serverful.Registry = Registry{ImageGB: 1}
	bad.Lambda.Timeout = -time.Second
	bad.Lambda.Sizes = append(bad.Lambda.Sizes, LambdaSize{MemoryMB: 0, Requests: 0}, LambdaSize{MemoryMB: 3000, Requests: 5, ColdStarts: 6})
	bad.CloudFunctions.Functions[1].Requests = -1
	bad.CloudFunctions.Functions[2].Timeout = 0
	bad.CloudFunctions.Functions[2].Name = ""
	bad.CloudFunctions.BuildMinutes = -1
	_, err = p.WorstCase(bad)
	if err == nil {
		t.Fatal("bad plan: no error")
	}
	for _, field := range []string{
		"Serverful.MaxInstances is 0", "Serverful.ALBNodes is -1", "Serverful.WallTime is 0s", "Serverful.PeakRate is -5",
		"Serverful.Registry.Kept", "Lambda.Timeout is -1s", "Lambda.Sizes[2].MemoryMB is 0", "Lambda.Sizes[2].Requests is 0",
		"Lambda.Sizes[3].ColdStarts is 6", "Lambda.Sizes[3].MemoryMB is 3000: want a size given once",
		"CloudFunctions.Functions[1].Requests is -1", "CloudFunctions.Functions[2].Timeout is 0s", "CloudFunctions.Functions[2].Name",
		"CloudFunctions.BuildMinutes is -1",
	} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %q:\n%v", field, err)
		}
	}
	for name, plan := range map[string]CloudPlan{
		"nothing":          {},
		"no lambda sizes":  {Lambda: &LambdaPlan{Timeout: time.Second}},
		"no functions":     {CloudFunctions: &CloudFunctionsPlan{}},
		"no instance type": {Serverful: &ServerfulPlan{MaxInstances: 1, ALBNodes: 2, WallTime: time.Hour, PeakRate: 1}},
	} {
		if _, err := p.WorstCase(plan); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestCloudEstimatePrint(t *testing.T) {
	p := Default()
	e, err := p.WorstCase(studyPlan())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := e.Print(&b); err != nil {
		t.Fatal(err)
	}
	// Compare with single spaces: the table's column widths are tabwriter's business.
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	out := strings.Join(lines, "\n")
	for _, s := range []string{
		"price list of " + p.Date, p.Region, "not checked against the live pages", p.Source,
		fmt.Sprintf("\ntotal %.4f", e.TotalUSD),
		fmt.Sprintf("serverful subtotal %.4f", e.Subtotals[0].USD),
		fmt.Sprintf("serverless subtotal %.4f", e.Subtotals[1].USD),
		// Unit prices in full, so a line checks by hand.
		num(p.Lambda.GBSecond), num(p.EC2Hourly["t3a.xlarge"]),
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	for _, l := range e.Lines {
		row := strings.Join(strings.Fields(fmt.Sprintf("%s %s %s %s %.4f %s", l.What, num(l.Quantity), l.Unit, num(l.UnitUSD), l.USD, l.Assumes)), " ")
		if !strings.Contains(out, "\n"+row+"\n") {
			t.Errorf("output lacks the line %q (%q):\n%s", l.What, row, out)
		}
	}
	// Lines come under their stack's heading: the serverful ones before "serverless".
	if i, j := strings.Index(out, "t3a.xlarge instances"), strings.Index(out, "\nserverless"); i < 0 || j < 0 || i > j {
		t.Errorf("serverful lines not under their heading:\n%s", out)
	}
}

func TestCloudEstimateWithin(t *testing.T) {
	e, err := Default().WorstCase(studyPlan())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Within(e.TotalUSD, "-max-usd"); err != nil {
		t.Errorf("at the budget: %v", err)
	}
	err = e.Within(e.TotalUSD/2, "-max-usd")
	if err == nil {
		t.Fatal("over budget: no error")
	}
	big := e.Biggest(3)
	if len(big) != 3 || big[0].USD < big[1].USD || big[1].USD < big[2].USD {
		t.Fatalf("Biggest(3) = %+v", big)
	}
	for _, l := range e.Lines {
		if l.USD > big[2].USD && !containsLine(big, l.What) {
			t.Errorf("%s ($%.4f) is dearer than Biggest's last", l.What, l.USD)
		}
	}
	msg := err.Error()
	if !strings.Contains(msg, fmt.Sprintf("$%.2f", e.TotalUSD)) || strings.Count(msg, "-max-usd") != 2 {
		t.Errorf("refusal does not name the total and the flag: %v", err)
	}
	prev := -1
	for _, l := range big {
		i := strings.Index(msg, l.What)
		if i < prev {
			t.Errorf("refusal does not name %q, dearest first: %v", l.What, err)
		}
		prev = i
	}
	if n := len(e.Biggest(100)); n != len(e.Lines) {
		t.Errorf("Biggest(100) = %d lines of %d", n, len(e.Lines))
	}
}

func containsLine(ls []Line, what string) bool {
	for _, l := range ls {
		if l.What == what {
			return true
		}
	}
	return false
}

// TestCloudPriceFile: a price file can change the estimate's own prices, and a bad
// one is refused by name.
func TestCloudPriceFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "prices.json")
	os.WriteFile(good, []byte(`{"date":"2031-02","public_ipv4_hourly":0.01,"ecr":{"gb_month":0.2},`+
		`"ec2_burstable":{"types":{"t3a.large":{"vcpus":2,"baseline":0.3}}},"cloud_build":{"per_minute":0.003}}`), 0o644)
	p, err := LoadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if p.PublicIPv4Hourly != 0.01 || p.ECR.GBMonth != 0.2 || p.CloudBuild.PerMinute != 0.003 ||
		p.Burstable.Types["t3a.large"].VCPUs != 2 || p.Burstable.Types["t3a.xlarge"].VCPUs != 4 || p.ArtifactRegistry.GBMonth != 0.10 {
		t.Errorf("overrides or defaults wrong: %+v", p)
	}
	e, err := p.WorstCase(studyPlan())
	if err != nil {
		t.Fatal(err)
	}
	if e.PriceDate != "2031-02" {
		t.Errorf("date %q", e.PriceDate)
	}
	near(t, "IPv4 at the file's price", byWhat(t, e)["public IPv4 addresses"].USD, 3.5*0.01)
	for name, body := range map[string]string{
		"negative ipv4":   `{"public_ipv4_hourly":-1}`,
		"baseline over 1": `{"ec2_burstable":{"types":{"t3a.xlarge":{"vcpus":4,"baseline":1.5}}}}`,
		"no vcpus":        `{"ec2_burstable":{"types":{"t3a.small":{"baseline":0.2}}}}`,
		"negative build":  `{"cloud_build":{"per_minute":-0.1}}`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		os.WriteFile(path, []byte(body), 0o644)
		if _, err := LoadFile(path); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
