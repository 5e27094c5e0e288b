package stacks_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/servebench/servebench/infra/serviceenv"
	"github.com/servebench/servebench/internal/assetstest"
	"github.com/servebench/servebench/stacks"
	"github.com/servebench/servebench/stacks/stackconfig"
)

const (
	account   = "123456789012"
	mockAMI   = "ami-0123456789abcdef0"
	mockToken = "mock-ecr-password"
)

// res is one registered resource: its type token, logical name and inputs, made
// plain (secrets and known outputs unwrapped, numbers float64).
type res struct {
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

// recorder is the mock resource monitor: it records every resource's inputs and
// every invoke, and answers with the outputs the program reads (ARNs, names, URLs).
type recorder struct {
	mu    sync.Mutex
	res   []res
	calls []pulumi.MockCallArgs
}

func (m *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	in := plainMap(args.Inputs)
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
		set("arn", "arn:aws:iam::"+account+":role/"+str("name"))
	case "aws:ecr/repository:Repository":
		set("repositoryUrl", account+".dkr.ecr.us-east-1.amazonaws.com/"+str("name"))
		set("registryId", account)
	case "docker:index/image:Image":
		name := str("imageName")
		if i := strings.LastIndex(name, ":"); i > 0 {
			name = name[:i]
		}
		set("repoDigest", name+"@sha256:"+strings.Repeat("ab", 32))
	case "aws:lb/loadBalancer:LoadBalancer":
		set("dnsName", str("name")+"-1234.us-east-1.elb.amazonaws.com")
		set("arn", "arn:aws:elasticloadbalancing:us-east-1:"+account+":loadbalancer/app/"+str("name"))
	case "aws:lb/targetGroup:TargetGroup":
		set("arn", "arn:aws:elasticloadbalancing:us-east-1:"+account+":targetgroup/"+str("name"))
	case "aws:autoscaling/group:Group":
		set("arn", "arn:aws:autoscaling:us-east-1:"+account+":autoScalingGroup:"+str("name"))
	case "aws:ecs/cluster:Cluster":
		set("arn", "arn:aws:ecs:us-east-1:"+account+":cluster/"+str("name"))
	case "aws:ecs/taskDefinition:TaskDefinition":
		set("arn", "arn:aws:ecs:us-east-1:"+account+":task-definition/"+str("family")+":1")
	case "aws:iam/instanceProfile:InstanceProfile":
		set("arn", "arn:aws:iam::"+account+":instance-profile/"+str("name"))
	case "aws:cloudwatch/logGroup:LogGroup":
		set("arn", "arn:aws:logs:us-east-1:"+account+":log-group:"+str("name"))
	case "aws:lambda/function:Function":
		arn := "arn:aws:lambda:us-east-1:" + account + ":function:" + str("name")
		set("arn", arn)
		set("invokeArn", "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"+arn+"/invocations")
	case "aws:apigatewayv2/api:Api":
		id = "abc123"
		set("apiEndpoint", "https://abc123.execute-api.us-east-1.amazonaws.com")
		set("executionArn", "arn:aws:execute-api:us-east-1:"+account+":abc123")
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
	r := res{Type: args.TypeToken, Name: args.Name, ID: id, Inputs: in, Raw: args.Inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Deps = rpc.GetDependencies()
		ct := rpc.GetCustomTimeouts()
		r.Timeouts.Create, r.Timeouts.Update, r.Timeouts.Delete = ct.GetCreate(), ct.GetUpdate(), ct.GetDelete()
	}
	m.res = append(m.res, r)
	m.mu.Unlock()
	return id, out, nil
}

func (m *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, args)
	m.mu.Unlock()
	switch args.Token {
	case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
		return resource.NewPropertyMapFromMap(map[string]any{
			"proxyEndpoint": "https://" + account + ".dkr.ecr.us-east-1.amazonaws.com",
			"userName":      "AWS", "password": mockToken,
		}), nil
	case "aws:ssm/getParameter:getParameter":
		return resource.NewPropertyMapFromMap(map[string]any{
			"name": args.Args["name"].StringValue(), "type": "String",
			"value": mockAMI, "insecureValue": mockAMI,
		}), nil
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		// As an account opted in to a Local Zone sees it: the provider sorts the
		// names, so the Local Zone comes first unless a filter leaves it out.
		names := []any{"us-east-1-bos-1a", "us-east-1a", "us-east-1b", "us-east-1c"}
		if optInFilter(args.Args) == "opt-in-not-required" {
			names = names[1:]
		}
		return resource.NewPropertyMapFromMap(map[string]any{"names": names}), nil
	}
	return nil, fmt.Errorf("mock: unexpected invoke %s", args.Token)
}

// optInFilter is the value of an invoke's opt-in-status filter, "" without one.
func optInFilter(args resource.PropertyMap) string {
	filters, _ := plain(args["filters"]).([]any)
	for _, f := range filters {
		f, _ := f.(map[string]any)
		if values, _ := f["values"].([]any); f["name"] == "opt-in-status" && len(values) == 1 {
			s, _ := values[0].(string)
			return s
		}
	}
	return ""
}

// byType returns the resources of one type token.
func (m *recorder) byType(token string) []res {
	var out []res
	for _, r := range m.res {
		if r.Type == token {
			out = append(out, r)
		}
	}
	return out
}

// one returns the only resource of a type, failing the test otherwise.
func (m *recorder) one(t *testing.T, token string) res {
	t.Helper()
	rs := m.byType(token)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), token)
	}
	return rs[0]
}

// byID finds a resource by the id the mock gave it.
func (m *recorder) byID(id string) (res, bool) {
	for _, r := range m.res {
		if r.ID == id {
			return r, true
		}
	}
	return res{}, false
}

func plainMap(pm resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(pm))
	for k, v := range pm {
		out[string(k)] = plain(v)
	}
	return out
}

func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		if !v.OutputValue().Known {
			return "<unknown>"
		}
		return plain(v.OutputValue().Element)
	case v.IsComputed():
		return "<unknown>"
	case v.IsArray():
		arr := make([]any, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			arr[i] = plain(e)
		}
		return arr
	case v.IsObject():
		return plainMap(v.ObjectValue())
	case v.IsResourceReference():
		return v.ResourceReferenceValue().ID.V
	}
	return v.Mappable()
}

// get walks a plain value by keys (strings) and indexes (ints).
func get(t *testing.T, v any, path ...any) any {
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

// stackConfig reads a stack file the way the Pulumi engine hands it to the
// program: every value a string, structured values as JSON.
func stackConfig(t *testing.T, stack string) map[string]string {
	t.Helper()
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	b, err := os.ReadFile(filepath.Join("..", "Pulumi."+stack+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("Pulumi.%s.yaml: %v", stack, err)
	}
	cfg := map[string]string{}
	for k, v := range f.Config {
		switch v := v.(type) {
		case string:
			cfg[k] = v
		case int:
			cfg[k] = strconv.Itoa(v)
		case bool, float64:
			cfg[k] = fmt.Sprint(v)
		default:
			j, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("Pulumi.%s.yaml %s: %v", stack, k, err)
			}
			cfg[k] = string(j)
		}
	}
	return cfg
}

// deployment is one mocked run of the program.
type deployment struct {
	*recorder
	stack   string
	outputs map[string]any
	err     error
}

// fakeLib writes an ELF header for machine (a shared object when typ is ET_DYN)
// and nothing else: the program reads only the header and hands the path to the
// engine, so a small fixture keeps these tests independent of the real libraries.
func fakeLib(t *testing.T, dir, name string, machine elf.Machine, typ elf.Type) string {
	t.Helper()
	h := elf.Header64{Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64, Phentsize: 56, Shentsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// libEnv names a fixture of each native library in its variable, where the
// program looks when the config does not name one.
func libEnv(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{}
	for _, l := range []serviceenv.NativeLib{serviceenv.ONNXRuntimeLib, serviceenv.TurboJPEGLib} {
		env[l.Env] = fakeLib(t, dir, l.Name, elf.EM_X86_64, elf.ET_DYN)
	}
	return env
}

// run runs stacks.Deploy (what stacks.Program runs) under mocks, with a stack file's
// configuration changed by overrides ("" deletes a key). The configuration goes
// through PULUMI_CONFIG, as the engine passes it. The native libraries are
// fixtures named by their variables.
func run(t *testing.T, stack string, overrides map[string]string) deployment {
	t.Helper()
	return runWith(t, stack, overrides, libEnv(t))
}

// runWith is run with the environment variables env set ("" unsets one).
func runWith(t *testing.T, stack string, overrides, env map[string]string) deployment {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	// The program only checks the assets exist and hands their paths to the
	// engine; a small fixture keeps these tests independent of the real data.
	t.Setenv(stackconfig.EnvData, assetstest.Dir(t))
	cfg := stackConfig(t, stack)
	for k, v := range overrides {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	j, _ := json.Marshal(cfg)
	t.Setenv(pulumi.EnvConfig, string(j))
	d := deployment{recorder: &recorder{}, stack: stack, outputs: map[string]any{}}
	var mu sync.Mutex
	var pending sync.WaitGroup // outputs not tied to a resource resolve outside the context's wait
	d.err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		outs, err := stacks.Deploy(ctx)
		for k, v := range outs {
			pending.Add(1)
			pulumi.ToOutput(v).ApplyT(func(x any) any {
				mu.Lock()
				d.outputs[k] = x
				mu.Unlock()
				pending.Done()
				return x
			})
		}
		return err
	}, pulumi.WithMocks("servebench", stack, d.recorder))
	done := make(chan struct{})
	go func() { pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("stack outputs did not resolve")
	}
	return d
}

// mustRun is run that fails the test on a program error.
func mustRun(t *testing.T, stack string, overrides map[string]string) deployment {
	t.Helper()
	d := run(t, stack, overrides)
	if d.err != nil {
		t.Fatalf("program failed: %v", d.err)
	}
	return d
}

// archiveFile is the local file the Cloud Functions source archive carries at name.
func archiveFile(t *testing.T, d deployment, name string) string {
	t.Helper()
	for _, o := range d.byType("gcp:storage/bucketObject:BucketObject") {
		if src := o.Raw["source"]; strings.HasPrefix(fmt.Sprint(o.Inputs["name"]), "service-") && src.IsArchive() {
			if a, ok := src.ArchiveValue().Assets[name].(*asset.Asset); ok {
				return a.Path
			}
			t.Fatalf("the source archive holds %v at %s, want a file", src.ArchiveValue().Assets[name], name)
		}
	}
	t.Fatal("no source archive")
	return ""
}
