package ecs_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/infra/ecs"
	"github.com/servebench/servebench/infra/naming"
	"github.com/servebench/servebench/internal/pulumimock"
	"github.com/servebench/servebench/study"
)

const (
	inArn  = "arn:aws:s3:::in-bucket"
	outArn = "arn:aws:s3:::out-bucket"
)

// newService constructs the component alone under mocks, with only what it
// requires and what set changes.
func newService(t *testing.T, set func(*ecs.ServiceArgs)) (*pulumimock.Recorder, error) {
	t.Helper()
	args := &ecs.ServiceArgs{
		Namer:           naming.New("sb", "test"),
		Region:          "us-east-1",
		VpcID:           pulumi.String("vpc-1"),
		SubnetIDs:       pulumi.ToStringArray([]string{"subnet-a", "subnet-b"}),
		ImageURI:        pulumi.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/sb@sha256:ab"),
		Env:             pulumi.StringMap{"A": pulumi.String("1")},
		InputBucketArn:  pulumi.String(inArn),
		OutputBucketArn: pulumi.String(outArn),
	}
	if set != nil {
		set(args)
	}
	m := &pulumimock.Recorder{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := ecs.NewService(ctx, "svc", args)
		return err
	}, pulumi.WithMocks("sb", "test", m))
	return m, err
}

func mustService(t *testing.T, set func(*ecs.ServiceArgs)) *pulumimock.Recorder {
	t.Helper()
	m, err := newService(t, set)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	return m
}

// scaling returns the target tracking configuration and the scalable target.
func scaling(t *testing.T, m *pulumimock.Recorder) (policy, target map[string]any) {
	t.Helper()
	pol := m.One(t, "aws:appautoscaling/policy:Policy").Inputs
	return pulumimock.Get(t, pol, "targetTrackingScalingPolicyConfiguration").(map[string]any), m.One(t, "aws:appautoscaling/target:Target").Inputs
}

// Unset settings take the study's values (package study): sizes, scaling, task,
// listener, log retention.
func TestDefaultsAreTheStudys(t *testing.T) {
	m := mustService(t, nil)
	asg := m.One(t, "aws:autoscaling/group:Group").Inputs
	if asg["minSize"] != float64(study.MinInstances) || asg["maxSize"] != float64(study.MaxInstances) {
		t.Errorf("group %v..%v, want %d..%d", asg["minSize"], asg["maxSize"], study.MinInstances, study.MaxInstances)
	}
	if it := m.One(t, "aws:ec2/launchTemplate:LaunchTemplate").Inputs["instanceType"]; it != study.InstanceType {
		t.Errorf("instance type %v, want %s", it, study.InstanceType)
	}
	tt, target := scaling(t, m)
	if target["minCapacity"] != float64(study.MinInstances) || target["maxCapacity"] != float64(study.MaxInstances) {
		t.Errorf("scalable target %v..%v, want %d..%d", target["minCapacity"], target["maxCapacity"], study.MinInstances, study.MaxInstances)
	}
	if tt["targetValue"] != study.CPUTargetPercent || tt["scaleInCooldown"] != float64(study.ScaleInCooldownSeconds) || tt["scaleOutCooldown"] != float64(study.ScaleOutCooldownSeconds) {
		t.Errorf("target tracking %v, want %g %%, cooldowns %d/%d s", tt, study.CPUTargetPercent, study.ScaleInCooldownSeconds, study.ScaleOutCooldownSeconds)
	}
	td := m.One(t, "aws:ecs/taskDefinition:TaskDefinition").Inputs
	if td["cpu"] != strconv.Itoa(study.TaskCPU) || td["memory"] != strconv.Itoa(study.TaskMemoryMB) {
		t.Errorf("task %v CPU units, %v MiB; want %d, %d", td["cpu"], td["memory"], study.TaskCPU, study.TaskMemoryMB)
	}
	if p := m.One(t, "aws:lb/listener:Listener").Inputs["port"]; p != float64(study.ListenerPort) {
		t.Errorf("listener port %v, want %d", p, study.ListenerPort)
	}
	if r := m.One(t, "aws:cloudwatch/logGroup:LogGroup").Inputs["retentionInDays"]; r != float64(study.LogRetentionDays) {
		t.Errorf("log retention %v, want %d", r, study.LogRetentionDays)
	}
}

// A cooldown of 0 is a value, deployed as 0; the other settings reach their
// resources as given.
func TestSettingsAsGiven(t *testing.T) {
	m := mustService(t, func(a *ecs.ServiceArgs) {
		a.InstanceType, a.MinSize, a.MaxSize = "m5.large", 2, 7
		a.CPUTarget = 40
		a.ScaleInCooldown, a.ScaleOutCooldown = new(0), new(15)
		a.TaskCPU, a.TaskMemoryMB = 1024, 2048
	})
	asg := m.One(t, "aws:autoscaling/group:Group").Inputs
	if asg["minSize"] != 2.0 || asg["maxSize"] != 7.0 {
		t.Errorf("group %v..%v, want 2..7", asg["minSize"], asg["maxSize"])
	}
	if it := m.One(t, "aws:ec2/launchTemplate:LaunchTemplate").Inputs["instanceType"]; it != "m5.large" {
		t.Errorf("instance type %v", it)
	}
	tt, target := scaling(t, m)
	if tt["scaleInCooldown"] != 0.0 || tt["scaleOutCooldown"] != 15.0 || tt["targetValue"] != 40.0 {
		t.Errorf("target tracking %v, want 40 %%, cooldowns 0 s in, 15 s out", tt)
	}
	if target["minCapacity"] != 2.0 || target["maxCapacity"] != 7.0 {
		t.Errorf("scalable target %v..%v, want 2..7", target["minCapacity"], target["maxCapacity"])
	}
	// Managed scaling may add up to the maximum at once.
	cp := m.One(t, "aws:ecs/capacityProvider:CapacityProvider").Inputs
	if s := pulumimock.Get(t, cp, "autoScalingGroupProvider", "managedScaling", "maximumScalingStepSize"); s != 7.0 {
		t.Errorf("capacity provider max step %v, want 7", s)
	}
	td := m.One(t, "aws:ecs/taskDefinition:TaskDefinition").Inputs
	if td["cpu"] != "1024" || td["memory"] != "2048" {
		t.Errorf("task %v/%v, want 1024/2048", td["cpu"], td["memory"])
	}
	var containers []struct {
		CPU    int `json:"cpu"`
		Memory int `json:"memory"`
	}
	if err := json.Unmarshal([]byte(td["containerDefinitions"].(string)), &containers); err != nil || len(containers) != 1 {
		t.Fatalf("container definitions %v: %v", td["containerDefinitions"], err)
	}
	if containers[0].CPU != 1024 || containers[0].Memory != 2048 {
		t.Errorf("container %+v, want the task's 1024 CPU units and 2048 MiB", containers[0])
	}
	svc := m.One(t, "aws:ecs/service:Service").Inputs
	if svc["desiredCount"] != 2.0 {
		t.Errorf("service starts %v tasks, want the minimum 2", svc["desiredCount"])
	}
}

// What is public: the load balancer, on the listener port, to the given CIDRs
// only; the instances take only the ephemeral host ports, only from it.
func TestExposure(t *testing.T) {
	m := mustService(t, func(a *ecs.ServiceArgs) {
		a.ListenerPort = 8081
		a.IngressCIDRs = []string{"203.0.113.0/24"}
	})
	alb := m.One(t, "aws:lb/loadBalancer:LoadBalancer").Inputs
	if alb["internal"] != false || alb["loadBalancerType"] != "application" {
		t.Errorf("load balancer internal %v, type %v: want an internet-facing ALB", alb["internal"], alb["loadBalancerType"])
	}
	albSG := pulumimock.Get(t, alb, "securityGroups", 0)
	sgs := m.ByType("aws:ec2/securityGroup:SecurityGroup")
	if len(sgs) != 2 {
		t.Fatalf("%d security groups, want 2", len(sgs))
	}
	for _, sg := range sgs {
		ingress := sg.Inputs["ingress"].([]any)
		if len(ingress) != 1 {
			t.Fatalf("%s: %d ingress rules, want 1", sg.Name, len(ingress))
		}
		rule := ingress[0].(map[string]any)
		if sg.ID == albSG {
			if rule["fromPort"] != 8081.0 || rule["toPort"] != 8081.0 || !slices.Equal(toStrings(rule["cidrBlocks"]), []string{"203.0.113.0/24"}) {
				t.Errorf("load balancer ingress %v, want 8081 from 203.0.113.0/24 only", rule)
			}
			continue
		}
		if rule["cidrBlocks"] != nil || !slices.Equal(toStrings(rule["securityGroups"]), []string{albSG.(string)}) ||
			rule["fromPort"] != 32768.0 || rule["toPort"] != 65535.0 {
			t.Errorf("instance ingress %v, want the ephemeral ports from the load balancer's group only", rule)
		}
	}
	if p := m.One(t, "aws:lb/listener:Listener").Inputs["port"]; p != 8081.0 {
		t.Errorf("listener port %v, want 8081", p)
	}
}

// IAM: the task role may use the two buckets and nothing else; the instance and
// execution roles carry only the AWS-managed ECS policies, each trusted by its
// own service.
func TestRoles(t *testing.T) {
	m := mustService(t, nil)
	pols := m.ByType("aws:iam/rolePolicy:RolePolicy")
	if len(pols) != 1 {
		t.Fatalf("%d inline policies, want 1 (the task role's)", len(pols))
	}
	var doc struct {
		Statement []struct {
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(pols[0].Inputs["policy"].(string)), &doc); err != nil {
		t.Fatalf("task policy: %v", err)
	}
	for _, st := range doc.Statement {
		for _, r := range st.Resource {
			if !strings.HasPrefix(r, inArn) && !strings.HasPrefix(r, outArn) {
				t.Errorf("task role reaches %s (%v), want only the buckets", r, st.Action)
			}
		}
		for _, a := range st.Action {
			if !strings.HasPrefix(a, "s3:") {
				t.Errorf("task role action %s, want S3 only", a)
			}
		}
	}
	if len(doc.Statement) == 0 {
		t.Error("task policy grants nothing")
	}
	trusted := map[string]string{} // role name → service
	for _, r := range m.ByType("aws:iam/role:Role") {
		var trust struct {
			Statement []struct{ Principal struct{ Service string } }
		}
		if err := json.Unmarshal([]byte(r.Inputs["assumeRolePolicy"].(string)), &trust); err != nil || len(trust.Statement) != 1 {
			t.Fatalf("role %s trust %v: %v", r.Name, r.Inputs["assumeRolePolicy"], err)
		}
		trusted[r.Name] = trust.Statement[0].Principal.Service
	}
	want := map[string]string{"svc-instance": "ec2.amazonaws.com", "svc-execution": "ecs-tasks.amazonaws.com", "svc-task": "ecs-tasks.amazonaws.com"}
	if len(trusted) != len(want) {
		t.Errorf("roles %v, want %v", trusted, want)
	}
	for name, svc := range want {
		if trusted[name] != svc {
			t.Errorf("role %s trusts %q, want %s", name, trusted[name], svc)
		}
	}
	var managed []string
	for _, a := range m.ByType("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		managed = append(managed, a.Inputs["policyArn"].(string))
	}
	slices.Sort(managed)
	if !slices.Equal(managed, []string{
		"arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
		"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
	}) {
		t.Errorf("managed policies %v", managed)
	}
}

// Settings that cannot deploy are refused before anything is created.
func TestRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		set  func(*ecs.ServiceArgs)
		want string
	}{
		"min above max":       {func(a *ecs.ServiceArgs) { a.MinSize, a.MaxSize = 3, 2 }, "MinSize 3 > MaxSize 2"},
		"negative cooldown":   {func(a *ecs.ServiceArgs) { a.ScaleInCooldown = new(-1) }, "must not be negative"},
		"nobody may reach it": {func(a *ecs.ServiceArgs) { a.IngressCIDRs = []string{} }, "IngressCIDRs is empty"},
	} {
		m, err := newService(t, tc.set)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
		if len(m.Resources) != 0 {
			t.Errorf("%s: %d resources created", name, len(m.Resources))
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}
