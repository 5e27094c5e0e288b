package enginetest_test

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/servebench/servebench/enginetest/stubprovider"
	"github.com/servebench/servebench/infra/gcpfunctions"
)

// scenario is one stack as a user stands it up: the stack, the `pulumi config set`
// arguments typed after `stack init`, the outputs it must export and what the
// deployment must hold.
type scenario struct {
	name    string
	stack   string
	config  [][]string
	outputs []string
	check   func(t *testing.T, outs map[string]any, st state)
	// change is one more `pulumi config set` after the first up, and updates the
	// resource types the next up must update in place, nothing else.
	change  []string
	updates []string
	// dependsOn are the dependencies a real cloud needs beyond what the inputs
	// imply, checked in the state and in the create and delete order.
	dependsOn []dependency
}

var (
	commonOutputs    = []string{"url", "inputBucket", "outputBucket", "mode", "region", "imageUri", "repositoryUrl"}
	serverfulOutputs = append(slices.Clone(commonOutputs), "clusterName", "serviceName", "autoScalingGroupName", "capacityProviderName", "loadBalancerName", "targetGroupName", "logGroupName", "vpcId",
		"instanceType", "minSize", "maxSize", "taskCpu", "taskMemoryMb")
	serverlessOutputs = append(slices.Clone(commonOutputs), "functionName", "functionArn", "apiId", "logGroupName",
		"lambdaMemoryMb", "lambdaArchitecture")
	gcpOutputs = append(slices.Clone(serverlessOutputs), "gcpInputBucket", "gcpOutputBucket", "gcpServiceAccount", "gcpFunctionNames", "gcpUrls")
)

const gcpProject = "servebench-test"

var scenarios = []scenario{
	{
		name: "serverful", stack: "serverful", outputs: serverfulOutputs, check: checkServerful,
		change:    []string{"servebench:maxSize", "3"},
		updates:   []string{"aws:autoscaling/group:Group", "aws:ecs/capacityProvider:CapacityProvider", "aws:appautoscaling/target:Target"},
		dependsOn: serverfulDependencies,
	},
	{
		name: "serverless", stack: "serverless", outputs: serverlessOutputs, check: checkServerless,
		change: []string{"servebench:lambdaMemoryMb", "2048"}, updates: []string{"aws:lambda/function:Function"},
		dependsOn: serverlessDependencies,
	},
	{
		name: "serverless-gcp", stack: "serverless", outputs: gcpOutputs, check: checkServerlessGCP,
		// As the README's deploy section types it.
		config: [][]string{
			{"gcp:project", gcpProject},
			{"--path", "servebench:gcpMemoryMb[0]", "1024"},
			{"--path", "servebench:gcpMemoryMb[1]", "2048"},
		},
	},
}

// TestStacks stands each stack up and tears it down under the engine: stack init,
// up, refresh, a preview with no changes, the outputs, a configuration change,
// destroy in dependency order, and the README's stack rm leaving the committed
// stack file as it was.
func TestStacks(t *testing.T) {
	e := needEngine(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.lifecycle(t, e)
		})
	}
}

func (sc scenario) lifecycle(t *testing.T, e *engine) {
	p := newProject(t, e)
	file := "Pulumi." + sc.stack + ".yaml"
	committed := p.readFile(file)
	p.pulumi("stack", "init", sc.stack)
	checkInitFile(t, committed, p.readFile(file))
	for _, c := range sc.config {
		p.pulumi(append(append([]string{"config", "set"}, c...), "--stack", sc.stack)...)
	}

	_, calls := p.step("up", "--yes", "--stack", sc.stack)
	st := p.export(sc.stack)
	checkDependsOn(t, "create", st, checkUp(t, st, calls), sc.dependsOn)

	// A refresh reads every resource back (some twice: its preview reads too) and
	// changes nothing.
	_, calls = p.step("refresh", "--yes", "--stack", sc.stack)
	checkRead(t, st.managed(), calls)
	none(t, calls, "Create", "Update", "Delete")

	var preview struct {
		ChangeSummary map[string]int `json:"changeSummary"`
	}
	out, calls := p.step("preview", "--expect-no-changes", "--json", "--stack", sc.stack)
	decode(t, out, &preview)
	checkNoChanges(t, st, preview.ChangeSummary, calls)

	var outs map[string]any
	decode(t, p.pulumi("stack", "output", "--json", "--stack", sc.stack), &outs)
	checkOutputsSet(t, outs, sc.outputs)
	sc.check(t, outs, st)

	if sc.change != nil {
		p.pulumi(append(append([]string{"config", "set"}, sc.change...), "--stack", sc.stack)...)
		_, calls = p.step("up", "--yes", "--stack", sc.stack)
		checkUpdates(t, calls, sc.updates)
		st = p.export(sc.stack)
	}

	_, calls = p.step("destroy", "--yes", "--stack", sc.stack)
	checkDependsOn(t, "delete", st, checkDestroy(t, st, calls), sc.dependsOn)
	if left := p.export(sc.stack).Deployment.Resources; len(left) != 0 {
		t.Errorf("after destroy the stack still has %d resources, first %s", len(left), left[0].URN)
	}

	// The README's teardown. Without --preserve-config, stack rm deletes the
	// committed Pulumi.<stack>.yaml.
	before := p.readFile(file)
	p.pulumi("stack", "rm", sc.stack, "--yes", "--preserve-config")
	if after := p.readFile(file); after != before {
		t.Errorf("stack rm --preserve-config changed %s:\n--- before\n%s\n--- after\n%s", file, before, after)
	}
	var left []struct {
		Name string `json:"name"`
	}
	decode(t, p.pulumi("stack", "ls", "--json"), &left)
	if len(left) != 0 {
		t.Errorf("stacks left after stack rm: %v", left)
	}
}

// TestBadValue: a value out of range stops `pulumi up` before any resource is
// created, with a message naming the key.
func TestBadValue(t *testing.T) {
	e := needEngine(t)
	t.Parallel()
	p := newProject(t, e)
	p.pulumi("stack", "init", "serverful")
	p.pulumi("config", "set", "servebench:maxSize", "0", "--stack", "serverful")
	_, err := p.try("up", "--yes", "--stack", "serverful")
	if err == nil {
		t.Fatal("pulumi up with servebench:maxSize 0 succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, `config servebench:maxSize = "0": out of range`) {
		t.Errorf("the error does not name servebench:maxSize and its value:\n%s", msg)
	}
	for _, c := range p.calls() {
		if c.Method == "Create" || c.Method == "Update" {
			t.Errorf("%s %s despite the bad value", c.Method, c.URN)
		}
	}
}

// checkInitFile: on a file backend stack init adds an encryption salt to the
// committed stack file and changes nothing else in it.
func checkInitFile(t *testing.T, committed, initialised string) {
	t.Helper()
	salt := regexp.MustCompile(`(?m)^encryptionsalt: \S+\n`)
	if !salt.MatchString(initialised) {
		t.Errorf("stack init wrote no encryptionsalt line:\n%s", initialised)
	}
	if rest := salt.ReplaceAllString(initialised, ""); rest != committed {
		t.Errorf("stack init changed the committed stack file beyond the salt:\n--- committed\n%s\n--- now\n%s", committed, initialised)
	}
}

// once returns the calls of one method by URN, failing on a URN called twice, on
// a URN that is not a managed resource and on a managed resource not called.
func once(t *testing.T, method string, managed map[string]stateResource, calls []stubprovider.Record) map[string]stubprovider.Record {
	t.Helper()
	got := map[string]stubprovider.Record{}
	for _, c := range calls {
		if c.Method != method || c.Preview {
			continue
		}
		if _, dup := got[c.URN]; dup {
			t.Errorf("%s called twice for %s", method, c.URN)
		}
		if _, ok := managed[c.URN]; !ok {
			t.Errorf("%s of %s, which is not in the stack", method, c.URN)
		}
		got[c.URN] = c
	}
	for _, urn := range slices.Sorted(maps.Keys(managed)) {
		if _, ok := got[urn]; !ok {
			t.Errorf("no %s for %s", method, urn)
		}
	}
	return got
}

// checkRead: every managed resource was read, and nothing else.
func checkRead(t *testing.T, managed map[string]stateResource, calls []stubprovider.Record) {
	t.Helper()
	read := map[string]bool{}
	for _, c := range calls {
		if c.Method != "Read" {
			continue
		}
		if _, ok := managed[c.URN]; !ok {
			t.Errorf("Read of %s, which is not in the stack", c.URN)
		}
		read[c.URN] = true
	}
	for _, urn := range slices.Sorted(maps.Keys(managed)) {
		if !read[urn] {
			t.Errorf("refresh did not read %s", urn)
		}
	}
}

// none fails on any call of the given methods.
func none(t *testing.T, calls []stubprovider.Record, methods ...string) {
	t.Helper()
	for _, c := range calls {
		if slices.Contains(methods, c.Method) && !c.Preview {
			t.Errorf("unexpected %s of %s", c.Method, c.URN)
		}
	}
}

// inOrder checks that, for every dependency, one call ended before the other
// began: the dependency's first when creating, the dependent's first when deleting.
func inOrder(t *testing.T, what string, calls map[string]stubprovider.Record, edges map[string][]string, dependentFirst bool) {
	t.Helper()
	pairs := 0
	defer func() { t.Logf("%s: %d calls, %d dependencies in order", what, len(calls), pairs) }()
	for urn, deps := range edges {
		for _, dep := range deps {
			first, then := calls[dep], calls[urn]
			if dependentFirst {
				first, then = then, first
			}
			if first.URN == "" || then.URN == "" {
				continue // reported by once
			}
			pairs++
			if first.End.After(then.Start) {
				t.Errorf("%s: %s began before %s was done (%s depends on %s)", what, short(then.URN), short(first.URN), short(urn), short(dep))
			}
		}
	}
	if pairs == 0 {
		t.Errorf("%s: no dependencies to check the order against", what)
	}
}

// short is a URN's type and name, without project, stack and parents.
func short(urn string) string { return urn[strings.LastIndex(urn, "$")+1:] }

// checkUp checks and returns the creates by URN.
func checkUp(t *testing.T, st state, calls []stubprovider.Record) map[string]stubprovider.Record {
	t.Helper()
	managed := st.managed()
	if len(managed) == 0 {
		t.Fatal("up left no resources in the stack")
	}
	creates := once(t, "Create", managed, calls)
	none(t, calls, "Update", "Delete")
	inOrder(t, "create", creates, st.edges(), false)
	return creates
}

func checkNoChanges(t *testing.T, st state, summary map[string]int, calls []stubprovider.Record) {
	t.Helper()
	for op, n := range summary {
		if op != "same" && n > 0 {
			t.Errorf("second preview: %d to %s, want no changes (%v)", n, op, summary)
		}
	}
	none(t, calls, "Create", "Update", "Delete")
	diffed := map[string]bool{}
	for _, c := range calls {
		if c.Method == "Diff" {
			diffed[c.URN] = true
			if c.Changes != "none" {
				t.Errorf("second preview: %s differs in %v", c.URN, c.Diffs)
			}
		}
	}
	for urn := range st.managed() {
		if !diffed[urn] {
			t.Errorf("second preview did not diff %s", urn)
		}
	}
}

// checkUpdates: a configuration change updates the given types in place, each
// once, and replaces nothing.
func checkUpdates(t *testing.T, calls []stubprovider.Record, want []string) {
	t.Helper()
	none(t, calls, "Create", "Delete")
	var got []string
	for _, c := range calls {
		if c.Method == "Update" && !c.Preview {
			got = append(got, c.Type)
			t.Logf("update %s: %v", short(c.URN), diffsOf(calls, c.URN))
		}
	}
	sort.Strings(got)
	if w := slices.Sorted(slices.Values(want)); !slices.Equal(got, w) {
		t.Errorf("updated %v, want %v", got, w)
	}
}

// diffsOf is what the stub's Diff found changed in a resource.
func diffsOf(calls []stubprovider.Record, urn string) []string {
	for _, c := range calls {
		if c.Method == "Diff" && c.URN == urn && c.Changes == "some" {
			return c.Diffs
		}
	}
	return nil
}

// checkDestroy checks and returns the deletes by URN.
func checkDestroy(t *testing.T, st state, calls []stubprovider.Record) map[string]stubprovider.Record {
	t.Helper()
	deletes := once(t, "Delete", st.managed(), calls)
	none(t, calls, "Create", "Update")
	inOrder(t, "delete", deletes, st.edges(), true)
	return deletes
}

// resources names resources by type token and, unless "", the end of their
// logical name.
type resources struct{ typ, suffix string }

func (r resources) String() string {
	if r.suffix == "" {
		return r.typ
	}
	return r.typ + " *" + r.suffix
}

// dependency: every dependent resource must be created after, and deleted before,
// every resource it is on.
type dependency struct{ dependent, on resources }

// checkDependsOn checks each dependency twice: in the state, where a dependent
// must depend on the other, directly or not, so the engine orders them every time
// (checked apart from the timing, which a fast stub may get right by chance), and
// in the call log of a create ("create") or delete ("delete") step.
func checkDependsOn(t *testing.T, step string, st state, calls map[string]stubprovider.Record, deps []dependency) {
	t.Helper()
	reach, pairs := st.reach(), 0
	defer func() {
		if len(deps) > 0 {
			t.Logf("%s: %d pairs of %d required dependencies checked", step, pairs, len(deps))
		}
	}()
	for _, d := range deps {
		dependents, ons := st.matching(d.dependent), st.matching(d.on)
		if len(dependents) == 0 || len(ons) == 0 {
			t.Errorf("%s: %d resources %v and %d %v, want some of each", step, len(dependents), d.dependent, len(ons), d.on)
		}
		for _, dep := range dependents {
			for _, on := range ons {
				pairs++
				if !reach[dep][on] {
					t.Errorf("%s: %s does not depend on %s", step, short(dep), short(on))
					continue
				}
				first, then := calls[on], calls[dep]
				if step == "delete" {
					first, then = then, first
				}
				if first.URN == "" || then.URN == "" {
					continue // reported by once
				}
				if first.End.After(then.Start) {
					t.Errorf("%s: %s began before %s was done", step, short(then.URN), short(first.URN))
				}
			}
		}
	}
}

// matching returns the URNs of the managed resources r names.
func (s state) matching(r resources) []string {
	var out []string
	for urn, res := range s.managed() {
		if res.Type == r.typ && strings.HasSuffix(urn, r.suffix) {
			out = append(out, urn)
		}
	}
	sort.Strings(out)
	return out
}

// reach is edges' transitive closure: for each managed resource, every managed
// resource it depends on, directly or through others.
func (s state) reach() map[string]map[string]bool {
	edges := s.edges()
	out := map[string]map[string]bool{}
	var visit func(from, urn string)
	visit = func(from, urn string) {
		for _, d := range edges[urn] {
			if !out[from][d] {
				out[from][d] = true
				visit(from, d)
			}
		}
	}
	for urn := range s.managed() {
		out[urn] = map[string]bool{}
		visit(urn, urn)
	}
	return out
}

// serverfulDependencies are the serverful stack's (issue 9; infra/network, infra/ecs).
var serverfulDependencies = func() []dependency {
	var (
		gateway        = resources{"aws:ec2/internetGateway:InternetGateway", ""}
		routeTable     = resources{"aws:ec2/routeTable:RouteTable", ""} // with the default route to the gateway
		association    = resources{"aws:ec2/routeTableAssociation:RouteTableAssociation", ""}
		loadBalancer   = resources{"aws:lb/loadBalancer:LoadBalancer", ""}
		launchTemplate = resources{"aws:ec2/launchTemplate:LaunchTemplate", ""}
		group          = resources{"aws:autoscaling/group:Group", ""}
		capacity       = resources{"aws:ecs/capacityProvider:CapacityProvider", ""}
		clusterCap     = resources{"aws:ecs/clusterCapacityProviders:ClusterCapacityProviders", ""}
		service        = resources{"aws:ecs/service:Service", ""}
		instancePolicy = resources{"aws:iam/rolePolicyAttachment:RolePolicyAttachment", "-instance-managed"}
	)
	return []dependency{
		// ELB refuses a subnet of a VPC with no gateway attached ("InvalidSubnet").
		{loadBalancer, gateway}, {loadBalancer, routeTable}, {loadBalancer, association},
		// Instances reach ECS through the route, and register with the role's policy.
		{group, gateway}, {group, association}, {launchTemplate, instancePolicy},
		// The service drains on delete: its agents keep their policy and route until it is gone.
		{service, instancePolicy}, {service, association}, {service, routeTable}, {service, gateway},
		// Scale-in protection without a hanging destroy: the service, the cluster's
		// capacity providers, the capacity provider, then the group (force-deleted).
		{service, clusterCap}, {clusterCap, capacity}, {capacity, group},
	}
}()

// checkOutputsSet: exactly the documented outputs, each with a value.
func checkOutputsSet(t *testing.T, outs map[string]any, want []string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(outs))
	if w := slices.Sorted(slices.Values(want)); !slices.Equal(got, w) {
		t.Errorf("outputs %v, want %v", got, w)
	}
	for k, v := range outs {
		switch v := v.(type) {
		case string:
			if v == "" {
				t.Errorf("output %s is empty", k)
			}
		case map[string]any:
			if len(v) == 0 {
				t.Errorf("output %s is empty", k)
			}
		case float64: // sizes: instances, CPU units, MB
			if v <= 0 {
				t.Errorf("output %s = %v, want a size above 0", k, v)
			}
		default:
			t.Errorf("output %s = %v (%T), want a string, a map or a size", k, v, v)
		}
	}
}

// one returns the only resource of a type.
func one(t *testing.T, st state, typ string) stateResource {
	t.Helper()
	rs := st.byType(typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	return rs[0]
}

// count checks how many resources of each type the stack holds.
func count(t *testing.T, st state, want map[string]int) {
	t.Helper()
	for typ, n := range want {
		if got := len(st.byType(typ)); got != n {
			t.Errorf("%d resources of type %s, want %d", got, typ, n)
		}
	}
}

// eq compares a value read from outputs or state with what it should be.
func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// matches checks a string against a pattern.
func matches(t *testing.T, what string, got any, pattern string) {
	t.Helper()
	s, _ := got.(string)
	if !regexp.MustCompile(pattern).MatchString(s) {
		t.Errorf("%s = %v, want it to match %s", what, got, pattern)
	}
}

// field walks a state value by keys.
func field(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// checkCommon checks what both modes share: buckets and the image, named after
// the stack.
func checkCommon(t *testing.T, stack, target string, outs map[string]any, st state) {
	t.Helper()
	eq(t, "mode", outs["mode"], stack)
	eq(t, "region", outs["region"], "us-east-1")
	matches(t, "inputBucket", outs["inputBucket"], `^servebench-`+stack+`-in-\d{26}$`)
	matches(t, "outputBucket", outs["outputBucket"], `^servebench-`+stack+`-out-\d{26}$`)
	repo := stubprovider.Account + ".dkr.ecr.us-east-1.amazonaws.com/servebench-" + stack + "-" + target
	eq(t, "repositoryUrl", outs["repositoryUrl"], repo)
	matches(t, "imageUri", outs["imageUri"], `^`+regexp.QuoteMeta(repo)+`@sha256:[0-9a-f]{64}$`)
	img := one(t, st, "docker:index/image:Image")
	eq(t, "image build target", field(img.Inputs, "build", "target"), target)
	eq(t, "image build context", field(img.Inputs, "build", "context"), "service")
	eq(t, "image registry", field(img.Inputs, "registry", "server"), "https://"+stubprovider.Account+".dkr.ecr.us-east-1.amazonaws.com")
	count(t, st, map[string]int{
		"aws:s3/bucketV2:BucketV2":             2,
		"aws:s3/bucketObjectv2:BucketObjectv2": 4, // the model, two images, the faces zip
		"aws:ecr/repository:Repository":        1,
	})
}

func checkServerful(t *testing.T, outs map[string]any, st state) {
	checkCommon(t, "serverful", "server", outs, st)
	alb := one(t, st, "aws:lb/loadBalancer:LoadBalancer")
	eq(t, "url", outs["url"], fmt.Sprintf("http://%s:80", alb.Outputs["dnsName"]))
	matches(t, "url", outs["url"], `^http://servebench-serverful-alb-\d{10}\.us-east-1\.elb\.amazonaws\.com:80$`)
	matches(t, "vpcId", outs["vpcId"], `^vpc-[0-9a-f]{17}$`)
	eq(t, "loadBalancerName", outs["loadBalancerName"], alb.Outputs["name"])
	asg := one(t, st, "aws:autoscaling/group:Group")
	eq(t, "autoScalingGroupName", outs["autoScalingGroupName"], asg.ID)
	eq(t, "group minSize", asg.Outputs["minSize"], 1)
	eq(t, "group maxSize", asg.Outputs["maxSize"], 5)
	eq(t, "group protectFromScaleIn", asg.Outputs["protectFromScaleIn"], true)
	eq(t, "group forceDelete", asg.Outputs["forceDelete"], true)
	cp := one(t, st, "aws:ecs/capacityProvider:CapacityProvider")
	eq(t, "managed termination protection", field(cp.Outputs, "autoScalingGroupProvider", "managedTerminationProtection"), "ENABLED")
	lt := one(t, st, "aws:ec2/launchTemplate:LaunchTemplate")
	eq(t, "launch template instanceType", lt.Outputs["instanceType"], "t3a.xlarge")
	eq(t, "launch template imageId (the SSM parameter)", lt.Outputs["imageId"], stubprovider.AMI)
	var zones []string
	for _, s := range st.byType("aws:ec2/subnet:Subnet") {
		zones = append(zones, fmt.Sprint(s.Outputs["availabilityZone"]))
	}
	sort.Strings(zones)
	eq(t, "subnet zones", zones, []string{"us-east-1a", "us-east-1b"})
	td := one(t, st, "aws:ecs/taskDefinition:TaskDefinition")
	eq(t, "task cpu", td.Outputs["cpu"], "4096")
	eq(t, "task memory", td.Outputs["memory"], "14336")
	if !strings.Contains(fmt.Sprint(td.Outputs["containerDefinitions"]), fmt.Sprint(outs["imageUri"])) {
		t.Errorf("the task definition does not run imageUri %v", outs["imageUri"])
	}
	pol := one(t, st, "aws:appautoscaling/policy:Policy")
	cfg := "targetTrackingScalingPolicyConfiguration"
	eq(t, "scaling target", field(pol.Outputs, cfg, "targetValue"), 70)
	eq(t, "scale-in cooldown", field(pol.Outputs, cfg, "scaleInCooldown"), 60)
	count(t, st, map[string]int{"aws:ec2/subnet:Subnet": 2, "aws:lambda/function:Function": 0})
}

func checkServerless(t *testing.T, outs map[string]any, st state) {
	checkCommon(t, "serverless", "lambda", outs, st)
	api := one(t, st, "aws:apigatewayv2/api:Api")
	eq(t, "apiId", outs["apiId"], api.ID)
	eq(t, "url", outs["url"], fmt.Sprintf("https://%s.execute-api.us-east-1.amazonaws.com", api.ID))
	fn := one(t, st, "aws:lambda/function:Function")
	eq(t, "functionName", outs["functionName"], "servebench-serverless-service")
	eq(t, "functionArn", outs["functionArn"], "arn:aws:lambda:us-east-1:"+stubprovider.Account+":function:servebench-serverless-service")
	eq(t, "lambda memorySize", fn.Outputs["memorySize"], 3000)
	eq(t, "lambda timeout", fn.Outputs["timeout"], 30)
	eq(t, "lambda imageUri", fn.Outputs["imageUri"], outs["imageUri"])
	stage := one(t, st, "aws:apigatewayv2/stage:Stage")
	eq(t, "throttle rate", field(stage.Outputs, "defaultRouteSettings", "throttlingRateLimit"), 50)
	eq(t, "throttle burst", field(stage.Outputs, "defaultRouteSettings", "throttlingBurstLimit"), 100)
	eq(t, "lambda SERVEBENCH_REQUEST_TIMEOUT", field(fn.Outputs, "environment", "variables", "SERVEBENCH_REQUEST_TIMEOUT"), "27s")
	pull := one(t, st, "aws:ecr/repositoryPolicy:RepositoryPolicy")
	eq(t, "repository policy repository", pull.Outputs["repository"], "servebench-serverless-lambda")
	if p := fmt.Sprint(pull.Outputs["policy"]); !strings.Contains(p, `"Service":"lambda.amazonaws.com"`) ||
		!strings.Contains(p, `"aws:sourceArn":"arn:aws:lambda:us-east-1:`+stubprovider.Account+`:function:*"`) {
		t.Errorf("repository policy %s", p)
	}
	count(t, st, map[string]int{
		"aws:apigatewayv2/route:Route": 3, "aws:ecs/cluster:Cluster": 0,
		"aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": 2, // one per bucket
	})
}

// serverlessDependencies are the Lambda stack's (issue 9): Lambda pulls the image
// under the repository policy the stack declares, so the function is created after
// it (else Lambda edits the policy itself, which a least-privileged deployer may not)
// and deleted before it.
var serverlessDependencies = []dependency{
	{resources{"aws:lambda/function:Function", ""}, resources{"aws:ecr/repositoryPolicy:RepositoryPolicy", ""}},
}

func checkServerlessGCP(t *testing.T, outs map[string]any, st state) {
	checkServerless(t, outs, st)
	mems := []int{1024, 2048}
	n := len(gcpfunctions.EntryPoints) * len(mems)
	count(t, st, map[string]int{
		"gcp:cloudfunctionsv2/function:Function":           n,
		"gcp:cloudrunv2/serviceIamMember:ServiceIamMember": n, // public: allUsers may invoke each
		"gcp:storage/bucket:Bucket":                        3, // input, output, source
		"gcp:serviceaccount/account:Account":               2, // runtime, build
	})
	names, _ := outs["gcpFunctionNames"].(map[string]any)
	urls, _ := outs["gcpUrls"].(map[string]any)
	byName := map[string]stateResource{}
	for _, fn := range st.byType("gcp:cloudfunctionsv2/function:Function") {
		byName[fmt.Sprint(fn.Outputs["name"])] = fn
	}
	for _, mem := range mems {
		for _, entry := range gcpfunctions.EntryPoints {
			key := gcpfunctions.Key(entry, mem)
			fn, ok := byName[fmt.Sprint(names[key])]
			if !ok {
				t.Errorf("gcpFunctionNames[%s] = %v names no function", key, names[key])
				continue
			}
			eq(t, "gcpUrls["+key+"]", urls[key], fn.Outputs["url"])
			matches(t, "gcpUrls["+key+"]", urls[key], `^https://[a-z0-9-]+\.a\.run\.app$`)
			eq(t, key+" memory", field(fn.Outputs, "serviceConfig", "availableMemory"), gcpfunctions.Memory(mem))
			eq(t, key+" timeout", field(fn.Outputs, "serviceConfig", "timeoutSeconds"), 540)
			eq(t, key+" entry point", field(fn.Outputs, "buildConfig", "entryPoint"), entry)
			eq(t, key+" project", fn.Outputs["project"], gcpProject)
		}
	}
	if len(names) != n || len(urls) != n {
		t.Errorf("%d function names and %d URLs, want %d each", len(names), len(urls), n)
	}
	eq(t, "gcpServiceAccount", outs["gcpServiceAccount"], "servebench-serverless-fn@"+gcpProject+".iam.gserviceaccount.com")
	matches(t, "gcpInputBucket", outs["gcpInputBucket"], `^servebench-serverless-gcf-input-[0-9a-f]{7}$`)

	// The build account, the image repository and every grant the functions
	// need exist, and each function depends on every grant, so checkUp and
	// checkDestroy have seen each grant created before the functions and deleted
	// after them; the repository goes last with its images.
	build := "servebench-serverless-build@" + gcpProject + ".iam.gserviceaccount.com"
	runtime := "servebench-serverless-fn@" + gcpProject + ".iam.gserviceaccount.com"
	grantTypes := map[string]int{
		"gcp:storage/bucketIAMMember:BucketIAMMember":                  3, // runtime: input, output; build: source
		"gcp:serviceaccount/iAMMember:IAMMember":                       1, // runtime: token creator on itself
		"gcp:projects/service:Service":                                 1, // IAM Credentials, for signBlob
		"gcp:projects/iAMMember:IAMMember":                             2, // build: logs, staged sources
		"gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": 1, // build: push
	}
	count(t, st, grantTypes)
	repo := one(t, st, "gcp:artifactregistry/repository:Repository")
	matches(t, "repository id", repo.ID, `^projects/`+gcpProject+`/locations/us-central1/repositories/servebench-serverless-[a-z0-9-]+$`)
	sign := one(t, st, "gcp:serviceaccount/iAMMember:IAMMember")
	eq(t, "signing grant", []any{sign.Outputs["serviceAccountId"], sign.Outputs["role"], sign.Outputs["member"]},
		[]any{"projects/" + gcpProject + "/serviceAccounts/" + runtime, "roles/iam.serviceAccountTokenCreator", "serviceAccount:" + runtime})
	api := one(t, st, "gcp:projects/service:Service")
	eq(t, "API", []any{api.Outputs["service"], api.Outputs["disableOnDestroy"]}, []any{"iamcredentials.googleapis.com", false})
	push := one(t, st, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
	eq(t, "push grant", push.ID, repo.ID+"/roles/artifactregistry.writer/serviceaccount:"+build)

	var grants []string
	for typ := range grantTypes {
		for _, g := range st.byType(typ) {
			grants = append(grants, g.URN)
		}
	}
	edges := st.edges()
	for _, fn := range st.byType("gcp:cloudfunctionsv2/function:Function") {
		eq(t, short(fn.URN)+" build account", field(fn.Outputs, "buildConfig", "serviceAccount"), "projects/"+gcpProject+"/serviceAccounts/"+build)
		eq(t, short(fn.URN)+" docker repository", field(fn.Outputs, "buildConfig", "dockerRepository"), repo.ID)
		for _, g := range append(grants, repo.URN) {
			if !slices.Contains(edges[fn.URN], g) {
				t.Errorf("%s does not depend on %s", short(fn.URN), short(g))
			}
		}
	}
}
