// Package pulumimock is the mock resource monitor the Pulumi program's tests and
// the components' own tests run under (pulumi.WithMocks): it records every
// resource's inputs and every invoke, and answers with the outputs the program
// reads (ARNs, names, URLs), so a test can assert on what would be deployed.
package pulumimock

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// What the mock answers with.
const (
	Account     = "123456789012"          // the AWS account in every ARN
	AMI         = "ami-0123456789abcdef0" // the AMI the SSM parameter holds
	ECRPassword = "mock-ecr-password"     // the registry password an ECR token gives
)

// Resource is one registered resource: its type token, logical name and inputs, made
// plain (secrets and known outputs unwrapped, numbers float64).
type Resource struct {
	Type, Name string
	ID         string
	Parent     string // URN
	URN        string
	Inputs     map[string]any
	Raw        resource.PropertyMap
	// Deps are the URNs it depends on (pulumi.DependsOn and its inputs' resources).
	Deps []string
	// Timeouts are the resource's custom timeouts (pulumi.Timeouts), "" if unset.
	Timeouts struct{ Create, Update, Delete string }
}

// Recorder is the mock resource monitor: it records every resource's inputs and
// every invoke, and answers with the outputs the program reads (ARNs, names, URLs).
type Recorder struct {
	mu        sync.Mutex
	Resources []Resource            // in the order they were registered
	Calls     []pulumi.MockCallArgs // invokes
}

// NewResource implements pulumi.MockResourceMonitor.
func (m *Recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	in := PlainMap(args.Inputs)
	out := args.Inputs.Copy()
	id := args.Name + "-id"
	set := func(k string, v any) { out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	str := func(k string) string { s, _ := in[k].(string); return s }
	switch args.TypeToken {
	case "aws:s3/bucketV2:BucketV2":
		name := str("bucket")
		if name == "" {
			name = str("bucketPrefix") + "20261123000000000000000001"
		}
		id = name
		set("bucket", name)
		set("arn", "arn:aws:s3:::"+name)
	case "aws:iam/role:Role":
		set("arn", "arn:aws:iam::"+Account+":role/"+str("name"))
	case "aws:ecr/repository:Repository":
		set("repositoryUrl", Account+".dkr.ecr.us-east-1.amazonaws.com/"+str("name"))
		set("registryId", Account)
	case "docker:index/image:Image":
		name := str("imageName")
		if i := strings.LastIndex(name, ":"); i > 0 {
			name = name[:i]
		}
		set("repoDigest", name+"@sha256:"+strings.Repeat("ab", 32))
	case "aws:lb/loadBalancer:LoadBalancer":
		set("dnsName", str("name")+"-1234.us-east-1.elb.amazonaws.com")
		set("arn", "arn:aws:elasticloadbalancing:us-east-1:"+Account+":loadbalancer/app/"+str("name"))
	case "aws:lb/targetGroup:TargetGroup":
		set("arn", "arn:aws:elasticloadbalancing:us-east-1:"+Account+":targetgroup/"+str("name"))
	case "aws:autoscaling/group:Group":
		set("arn", "arn:aws:autoscaling:us-east-1:"+Account+":autoScalingGroup:"+str("name"))
	case "aws:ecs/cluster:Cluster":
		set("arn", "arn:aws:ecs:us-east-1:"+Account+":cluster/"+str("name"))
	case "aws:ecs/taskDefinition:TaskDefinition":
		set("arn", "arn:aws:ecs:us-east-1:"+Account+":task-definition/"+str("family")+":1")
	case "aws:iam/instanceProfile:InstanceProfile":
		set("arn", "arn:aws:iam::"+Account+":instance-profile/"+str("name"))
	case "aws:cloudwatch/logGroup:LogGroup":
		set("arn", "arn:aws:logs:us-east-1:"+Account+":log-group:"+str("name"))
	case "aws:lambda/function:Function":
		arn := "arn:aws:lambda:us-east-1:" + Account + ":function:" + str("name")
		set("arn", arn)
		set("invokeArn", "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"+arn+"/invocations")
	case "aws:apigatewayv2/api:Api":
		id = "abc123"
		set("apiEndpoint", "https://abc123.execute-api.us-east-1.amazonaws.com")
		set("executionArn", "arn:aws:execute-api:us-east-1:"+Account+":abc123")
	case "gcp:storage/bucket:Bucket":
		name := str("name")
		if name == "" {
			name = args.Name + "-a1b2c3d"
		}
		id = name
		set("name", name)
	case "gcp:serviceaccount/account:Account":
		set("email", str("accountId")+"@proj.iam.gserviceaccount.com")
	case "gcp:cloudfunctionsv2/function:Function":
		set("url", "https://"+str("name")+"-xyz-uc.a.run.app")
		set("serviceConfig", map[string]any{"service": "projects/proj/locations/us-central1/services/" + str("name")})
	}
	m.mu.Lock()
	r := Resource{Type: args.TypeToken, Name: args.Name, ID: id, Inputs: in, Raw: args.Inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Deps = rpc.GetDependencies()
		ct := rpc.GetCustomTimeouts()
		r.Timeouts.Create, r.Timeouts.Update, r.Timeouts.Delete = ct.GetCreate(), ct.GetUpdate(), ct.GetDelete()
	}
	m.Resources = append(m.Resources, r)
	m.mu.Unlock()
	return id, out, nil
}

// Call implements pulumi.MockResourceMonitor.
func (m *Recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.Calls = append(m.Calls, args)
	m.mu.Unlock()
	switch args.Token {
	case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
		return resource.NewPropertyMapFromMap(map[string]any{
			"proxyEndpoint": "https://" + Account + ".dkr.ecr.us-east-1.amazonaws.com",
			"userName":      "AWS", "password": ECRPassword,
		}), nil
	case "aws:ssm/getParameter:getParameter":
		return resource.NewPropertyMapFromMap(map[string]any{
			"name": args.Args["name"].StringValue(), "type": "String",
			"value": AMI, "insecureValue": AMI,
		}), nil
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		// As an account opted in to a Local Zone sees it: the provider sorts the
		// names, so the Local Zone comes first unless a filter leaves it out.
		names := []any{"us-east-1-bos-1a", "us-east-1a", "us-east-1b", "us-east-1c"}
		if OptInFilter(args.Args) == "opt-in-not-required" {
			names = names[1:]
		}
		return resource.NewPropertyMapFromMap(map[string]any{"names": names}), nil
	}
	return nil, fmt.Errorf("mock: unexpected invoke %s", args.Token)
}

// OptInFilter is the value of an invoke's opt-in-status filter, "" without one.
func OptInFilter(args resource.PropertyMap) string {
	filters, _ := Plain(args["filters"]).([]any)
	for _, f := range filters {
		f, _ := f.(map[string]any)
		if values, _ := f["values"].([]any); f["name"] == "opt-in-status" && len(values) == 1 {
			s, _ := values[0].(string)
			return s
		}
	}
	return ""
}

// ByType returns the resources of one type token.
func (m *Recorder) ByType(token string) []Resource {
	var out []Resource
	for _, r := range m.Resources {
		if r.Type == token {
			out = append(out, r)
		}
	}
	return out
}

// One returns the only resource of a type, failing the test otherwise.
func (m *Recorder) One(t testing.TB, token string) Resource {
	t.Helper()
	rs := m.ByType(token)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), token)
	}
	return rs[0]
}

// ByID finds a resource by the id the mock gave it.
func (m *Recorder) ByID(id string) (Resource, bool) {
	for _, r := range m.Resources {
		if r.ID == id {
			return r, true
		}
	}
	return Resource{}, false
}

// PlainMap is Plain for each value of a property map.
func PlainMap(pm resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(pm))
	for k, v := range pm {
		out[string(k)] = Plain(v)
	}
	return out
}

// Plain makes a property value plain: secrets and known outputs unwrapped,
// unknown ones "<unknown>", numbers float64, a resource reference its id.
func Plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return Plain(v.SecretValue().Element)
	case v.IsOutput():
		if !v.OutputValue().Known {
			return "<unknown>"
		}
		return Plain(v.OutputValue().Element)
	case v.IsComputed():
		return "<unknown>"
	case v.IsArray():
		arr := make([]any, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			arr[i] = Plain(e)
		}
		return arr
	case v.IsObject():
		return PlainMap(v.ObjectValue())
	case v.IsResourceReference():
		return v.ResourceReferenceValue().ID.V
	}
	return v.Mappable()
}

// Get walks a plain value by keys (strings) and indexes (ints).
func Get(t testing.TB, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("path %v: %T is not an object", path, v)
			}
			v = m[p]
		case int:
			a, ok := v.([]any)
			if !ok || p >= len(a) {
				t.Fatalf("path %v: %v has no element %d", path, v, p)
			}
			v = a[p]
		}
	}
	return v
}
