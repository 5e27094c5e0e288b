package stacks_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/servebench/servebench/infra/access"
	"github.com/servebench/servebench/internal/pulumimock"
	"github.com/servebench/servebench/study"
)

// The serverful stack with its own stack file: the original study's numbers, as
// package study holds them (the stack's defaults are read from there, not repeated).
func TestServerfulDefaults(t *testing.T) {
	d := mustRun(t, "serverful", nil)

	asg := d.One(t, "aws:autoscaling/group:Group").Inputs
	if asg["minSize"] != float64(study.MinInstances) || asg["maxSize"] != float64(study.MaxInstances) {
		t.Errorf("ASG min/max = %v/%v, want %d/%d", asg["minSize"], asg["maxSize"], study.MinInstances, study.MaxInstances)
	}
	lt := d.One(t, "aws:ec2/launchTemplate:LaunchTemplate").Inputs
	if lt["instanceType"] != study.InstanceType {
		t.Errorf("instance type %v, want %s", lt["instanceType"], study.InstanceType)
	}
	if lt["imageId"] != pulumimock.AMI {
		t.Errorf("AMI %v, want the SSM parameter's value %s", lt["imageId"], pulumimock.AMI)
	}
	var amiParam string
	for _, c := range d.Calls {
		if c.Token == "aws:ssm/getParameter:getParameter" {
			amiParam = c.Args["name"].StringValue()
		}
	}
	if amiParam != "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id" {
		t.Errorf("AMI read from SSM parameter %q, want the ECS-optimized AL2023 one", amiParam)
	}

	target := d.One(t, "aws:appautoscaling/target:Target").Inputs
	if target["minCapacity"] != float64(study.MinInstances) || target["maxCapacity"] != float64(study.MaxInstances) || target["scalableDimension"] != "ecs:service:DesiredCount" {
		t.Errorf("scaling target %v", target)
	}
	pol := d.One(t, "aws:appautoscaling/policy:Policy").Inputs
	tt := pulumimock.Get(t, pol, "targetTrackingScalingPolicyConfiguration")
	if pulumimock.Get(t, tt, "targetValue") != study.CPUTargetPercent || pulumimock.Get(t, tt, "scaleInCooldown") != float64(study.ScaleInCooldownSeconds) ||
		pulumimock.Get(t, tt, "scaleOutCooldown") != float64(study.ScaleOutCooldownSeconds) {
		t.Errorf("target tracking %v, want %g %% CPU, %d s in and %d s out cooldowns", tt, study.CPUTargetPercent, study.ScaleInCooldownSeconds, study.ScaleOutCooldownSeconds)
	}
	if m := pulumimock.Get(t, tt, "predefinedMetricSpecification", "predefinedMetricType"); m != "ECSServiceAverageCPUUtilization" {
		t.Errorf("metric %v, want service CPU", m)
	}
	if pol["policyType"] != "TargetTrackingScaling" {
		t.Errorf("policy type %v", pol["policyType"])
	}

	cp := d.One(t, "aws:ecs/capacityProvider:CapacityProvider").Inputs
	if s := pulumimock.Get(t, cp, "autoScalingGroupProvider", "managedScaling", "status"); s != "ENABLED" {
		t.Errorf("managed scaling %v, want ENABLED", s)
	}
	cps := d.One(t, "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders").Inputs
	if got := pulumimock.Get(t, cps, "capacityProviders", 0); got != cp["name"] {
		t.Errorf("cluster capacity providers %v, want %v", got, cp["name"])
	}

	tg := d.One(t, "aws:lb/targetGroup:TargetGroup").Inputs
	if p := pulumimock.Get(t, tg, "healthCheck", "path"); p != "/healthz" {
		t.Errorf("health check path %v, want /healthz", p)
	}
	if tg["port"] != 8080.0 || tg["protocol"] != "HTTP" {
		t.Errorf("target group port/protocol %v/%v", tg["port"], tg["protocol"])
	}
	logs := d.One(t, "aws:cloudwatch/logGroup:LogGroup").Inputs
	if logs["retentionInDays"] != float64(study.LogRetentionDays) {
		t.Errorf("log retention %v, want %d", logs["retentionInDays"], study.LogRetentionDays)
	}

	// The task: the pushed image by digest, the service's environment, logs.
	td := d.One(t, "aws:ecs/taskDefinition:TaskDefinition").Inputs
	if td["cpu"] != strconv.Itoa(study.TaskCPU) || td["memory"] != strconv.Itoa(study.TaskMemoryMB) || td["networkMode"] != "bridge" {
		t.Errorf("task cpu/memory/network %v/%v/%v", td["cpu"], td["memory"], td["networkMode"])
	}
	var containers []struct {
		Image        string
		PortMappings []struct{ ContainerPort, HostPort int }
		Environment  []struct{ Name, Value string }
		LogConfig    struct {
			LogDriver string
			Options   map[string]string
		} `json:"logConfiguration"`
	}
	if err := json.Unmarshal([]byte(td["containerDefinitions"].(string)), &containers); err != nil || len(containers) != 1 {
		t.Fatalf("container definitions %v: %v", td["containerDefinitions"], err)
	}
	c := containers[0]
	img := d.One(t, "docker:index/image:Image").Inputs
	if !strings.HasPrefix(c.Image, pulumimock.Account+".dkr.ecr.us-east-1.amazonaws.com/servebench-serverful-server@sha256:") {
		t.Errorf("container image %q, want the pushed image by digest", c.Image)
	}
	if pulumimock.Get(t, img, "build", "target") != "server" {
		t.Errorf("image target %v, want server", pulumimock.Get(t, img, "build", "target"))
	}
	if len(c.PortMappings) != 1 || c.PortMappings[0].ContainerPort != 8080 || c.PortMappings[0].HostPort != 0 {
		t.Errorf("port mappings %+v, want 8080 on a dynamic host port", c.PortMappings)
	}
	in, out := bucketNames(t, d)
	env := map[string]string{}
	for _, e := range c.Environment {
		env[e.Name] = e.Value
	}
	want := map[string]string{
		"SERVEBENCH_INPUT_BUCKET":       "s3://" + in + "?region=us-east-1",
		"SERVEBENCH_OUTPUT_BUCKET":      "s3://" + out + "?region=us-east-1",
		"SERVEBENCH_MODEL":              "s3://" + in + "/models/yolox_nano.onnx?region=us-east-1",
		"SERVEBENCH_FACES_SOURCE":       "s3://" + in + "/faces/orl.zip?region=us-east-1",
		"SERVEBENCH_FACES_ALLOW_SOURCE": "false",
		"SERVEBENCH_BACKEND":            "onnxruntime",
		"SERVEBENCH_PLATFORM":           "ecs",
		"SERVEBENCH_MEMORY_MB":          "14336",
		"SERVEBENCH_PRELOAD":            "true",
		"PORT":                          "8080",
	}
	if !mapsEqual(env, want) {
		t.Errorf("container env\n got %v\nwant %v", env, want)
	}
	if c.LogConfig.LogDriver != "awslogs" || c.LogConfig.Options["awslogs-group"] != logs["name"] || c.LogConfig.Options["awslogs-region"] != "us-east-1" {
		t.Errorf("log configuration %+v", c.LogConfig)
	}

	checkImage(t, d, "server")
	checkBuckets(t, d)
	checkNames(t, d, "serverful")
	checkOutputs(t, d, "url", "inputBucket", "outputBucket", "clusterName", "serviceName",
		"autoScalingGroupName", "capacityProviderName", "loadBalancerName", "targetGroupName", "logGroupName", "imageUri")
	if u := d.outputs["url"]; u != "http://servebench-serverful-alb-1234.us-east-1.elb.amazonaws.com:80" {
		t.Errorf("url output %v", u)
	}
}

// Scale-in never terminates an instance running a task, and destroy still does not
// hang: what a mock can show is that the protection is on and every setting that
// lets the cloud delete without waiting on it is in the inputs (the delete order is
// enginetest's TestStacks/serverful).
func TestServerfulDestroyDoesNotWait(t *testing.T) {
	d := mustRun(t, "serverful", nil)
	asg := d.One(t, "aws:autoscaling/group:Group").Inputs
	if asg["protectFromScaleIn"] != true {
		t.Errorf("ASG protectFromScaleIn = %v, want true (managed termination protection needs it)", asg["protectFromScaleIn"])
	}
	if asg["forceDelete"] != true {
		t.Errorf("ASG forceDelete = %v, want true (else the provider drains the group and waits on protected instances)", asg["forceDelete"])
	}
	cp := d.One(t, "aws:ecs/capacityProvider:CapacityProvider").Inputs
	if p := pulumimock.Get(t, cp, "autoScalingGroupProvider", "managedTerminationProtection"); p != "ENABLED" {
		t.Errorf("managedTerminationProtection = %v, want ENABLED", p)
	}
	if s := pulumimock.Get(t, cp, "autoScalingGroupProvider", "managedScaling", "status"); s != "ENABLED" {
		t.Errorf("managed scaling %v, want ENABLED (termination protection works only with it)", s)
	}
	svc := d.One(t, "aws:ecs/service:Service").Inputs
	if svc["forceDelete"] != true {
		t.Errorf("service forceDelete = %v, want true", svc["forceDelete"])
	}
	tg := d.One(t, "aws:lb/targetGroup:TargetGroup").Inputs
	if tg["deregistrationDelay"] != 10.0 {
		t.Errorf("deregistration delay %v, want 10 s", tg["deregistrationDelay"])
	}
	if r := d.One(t, "aws:ecr/repository:Repository").Inputs; r["forceDelete"] != true {
		t.Errorf("ECR forceDelete = %v", r["forceDelete"])
	}
	for _, b := range d.ByType("aws:s3/bucketV2:BucketV2") {
		if b.Inputs["forceDestroy"] != true {
			t.Errorf("bucket %s forceDestroy = %v", b.Name, b.Inputs["forceDestroy"])
		}
	}
}

// `up` waits for the service to run its tasks, for a bounded time: a deployment
// whose instances never register fails instead of succeeding with nothing to measure.
func TestServerfulWaitsForSteadyState(t *testing.T) {
	d := mustRun(t, "serverful", nil)
	svc := d.One(t, "aws:ecs/service:Service")
	if svc.Inputs["waitForSteadyState"] != true {
		t.Errorf("service waitForSteadyState = %v, want true", svc.Inputs["waitForSteadyState"])
	}
	if to := svc.Timeouts; to.Create != "10m" || to.Update != "10m" {
		t.Errorf("service create/update timeouts %q/%q, want 10m/10m", to.Create, to.Update)
	}
}

func TestServerfulAccess(t *testing.T) {
	d := mustRun(t, "serverful", nil)
	in, out := bucketNames(t, d)

	// The task role: the buckets, nothing else. The instance and execution roles
	// carry only the AWS-managed ECS policies (their "*" is what AWS requires for
	// ecr:GetAuthorizationToken and the ECS agent).
	var taskPolicy string
	for _, p := range d.ByType("aws:iam/rolePolicy:RolePolicy") {
		taskPolicy = p.Inputs["policy"].(string)
	}
	if len(d.ByType("aws:iam/rolePolicy:RolePolicy")) != 1 {
		t.Fatalf("%d inline policies, want 1 (the task role's)", len(d.ByType("aws:iam/rolePolicy:RolePolicy")))
	}
	checkBucketPolicy(t, taskPolicy, in, out, "")
	var managed []string
	for _, a := range d.ByType("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		managed = append(managed, a.Inputs["policyArn"].(string))
	}
	slices.Sort(managed)
	wantManaged := []string{
		"arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
		"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
	}
	if !slices.Equal(managed, wantManaged) {
		t.Errorf("managed policies %v, want %v", managed, wantManaged)
	}
	for _, r := range d.ByType("aws:iam/role:Role") {
		var trust struct {
			Statement []struct{ Principal struct{ Service string } }
		}
		if err := json.Unmarshal([]byte(r.Inputs["assumeRolePolicy"].(string)), &trust); err != nil || len(trust.Statement) != 1 {
			t.Fatalf("role %s trust policy %v: %v", r.Name, r.Inputs["assumeRolePolicy"], err)
		}
		svc := trust.Statement[0].Principal.Service
		if svc != "ec2.amazonaws.com" && svc != "ecs-tasks.amazonaws.com" {
			t.Errorf("role %s trusts %s", r.Name, svc)
		}
	}

	// Security groups: the ALB takes port 80 from 0.0.0.0/0; the instances take
	// only the dynamic host ports, only from the ALB's group.
	sgs := d.ByType("aws:ec2/securityGroup:SecurityGroup")
	if len(sgs) != 2 {
		t.Fatalf("%d security groups, want 2", len(sgs))
	}
	alb := d.One(t, "aws:lb/loadBalancer:LoadBalancer").Inputs
	albSG := pulumimock.Get(t, alb, "securityGroups", 0).(string)
	for _, sg := range sgs {
		ingress := sg.Inputs["ingress"].([]any)
		if len(ingress) != 1 {
			t.Fatalf("security group %s: %d ingress rules, want 1", sg.Name, len(ingress))
		}
		rule := ingress[0].(map[string]any)
		if sg.ID == albSG {
			if rule["fromPort"] != 80.0 || rule["toPort"] != 80.0 || rule["protocol"] != "tcp" ||
				!slices.Equal(anyStrings(rule["cidrBlocks"]), []string{"0.0.0.0/0"}) || rule["securityGroups"] != nil {
				t.Errorf("ALB ingress %v, want tcp 80 from 0.0.0.0/0", rule)
			}
			continue
		}
		if rule["cidrBlocks"] != nil || !slices.Equal(anyStrings(rule["securityGroups"]), []string{albSG}) {
			t.Errorf("instance ingress %v, want only from the ALB group %s", rule, albSG)
		}
		if rule["fromPort"] != 32768.0 || rule["toPort"] != 65535.0 || rule["protocol"] != "tcp" {
			t.Errorf("instance ingress ports %v-%v/%v, want the ephemeral range", rule["fromPort"], rule["toPort"], rule["protocol"])
		}
	}
	lt := d.One(t, "aws:ec2/launchTemplate:LaunchTemplate").Inputs
	if lt["vpcSecurityGroupIds"] != nil {
		t.Errorf("launch template vpcSecurityGroupIds %v beside its network interface's groups: EC2 takes one or the other", lt["vpcSecurityGroupIds"])
	}
	instSG := pulumimock.Get(t, lt, "networkInterfaces", 0, "securityGroups", 0)
	if instSG == albSG {
		t.Error("instances share the ALB's security group")
	}
	if _, ok := d.ByID(instSG.(string)); !ok {
		t.Errorf("instances' security group %v is not one the stack made", instSG)
	}
}

// The configurable pieces reach their resources.
func TestServerfulConfigured(t *testing.T) {
	d := mustRun(t, "serverful", map[string]string{
		"servebench:ingressCidrs":     `["203.0.113.0/24","198.51.100.7/32"]`,
		"servebench:listenerPort":     "8081",
		"servebench:minSize":          "2",
		"servebench:maxSize":          "3",
		"servebench:instanceType":     "c6a.large",
		"servebench:vpcId":            "vpc-0123456789abcdef0",
		"servebench:subnetIds":        `["subnet-0123456789abcdef0","subnet-0fedcba9876543210"]`,
		"servebench:inputBucket":      "my-in-bucket",
		"servebench:outputBucket":     "my-out-bucket",
		"servebench:logRetentionDays": "30",
	})
	if n := len(d.ByType("aws:ec2/vpc:Vpc")) + len(d.ByType("aws:ec2/subnet:Subnet")); n != 0 {
		t.Errorf("%d VPC/subnet resources with an existing VPC, want 0", n)
	}
	tg := d.One(t, "aws:lb/targetGroup:TargetGroup").Inputs
	if tg["vpcId"] != "vpc-0123456789abcdef0" {
		t.Errorf("target group VPC %v", tg["vpcId"])
	}
	asg := d.One(t, "aws:autoscaling/group:Group").Inputs
	if !slices.Equal(anyStrings(asg["vpcZoneIdentifiers"]), []string{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"}) {
		t.Errorf("ASG subnets %v", asg["vpcZoneIdentifiers"])
	}
	if asg["minSize"] != 2.0 || asg["maxSize"] != 3.0 {
		t.Errorf("ASG %v..%v, want 2..3", asg["minSize"], asg["maxSize"])
	}
	lt := d.One(t, "aws:ec2/launchTemplate:LaunchTemplate").Inputs
	if lt["instanceType"] != "c6a.large" {
		t.Errorf("instance type %v", lt["instanceType"])
	}
	// Existing subnets may not assign public addresses: the instances ask for one,
	// or their agents never reach ECS.
	if nics, _ := lt["networkInterfaces"].([]any); len(nics) != 1 {
		t.Errorf("launch template network interfaces %v, want 1", lt["networkInterfaces"])
	} else if nic := nics[0].(map[string]any); nic["associatePublicIpAddress"] != "true" || nic["deviceIndex"] != 0.0 {
		t.Errorf("launch template interface %v, want device 0 with a public address", nic)
	}
	l := d.One(t, "aws:lb/listener:Listener").Inputs
	if l["port"] != 8081.0 {
		t.Errorf("listener port %v", l["port"])
	}
	for _, sg := range d.ByType("aws:ec2/securityGroup:SecurityGroup") {
		rule := pulumimock.Get(t, sg.Inputs, "ingress", 0).(map[string]any)
		if rule["cidrBlocks"] != nil && (!slices.Equal(anyStrings(rule["cidrBlocks"]), []string{"203.0.113.0/24", "198.51.100.7/32"}) || rule["fromPort"] != 8081.0) {
			t.Errorf("ALB ingress %v", rule)
		}
	}
	in, out := bucketNames(t, d)
	if in != "my-in-bucket" || out != "my-out-bucket" {
		t.Errorf("buckets %s, %s", in, out)
	}
	if got := d.outputs["url"]; !strings.HasSuffix(got.(string), ":8081") {
		t.Errorf("url %v", got)
	}
	if r := d.One(t, "aws:cloudwatch/logGroup:LogGroup").Inputs["retentionInDays"]; r != 30.0 {
		t.Errorf("retention %v", r)
	}
}

// servebench:scaleInCooldown 0 deploys 0, not the default: a set value is never
// taken for unset. The other scaling and task settings reach their resources too.
func TestServerfulScalingConfigured(t *testing.T) {
	d := mustRun(t, "serverful", map[string]string{
		"servebench:scaleInCooldown":  "0",
		"servebench:scaleOutCooldown": "0",
		"servebench:cpuTarget":        "55",
		"servebench:taskCpu":          "2048",
		"servebench:taskMemoryMb":     "3072",
	})
	tt := pulumimock.Get(t, d.One(t, "aws:appautoscaling/policy:Policy").Inputs, "targetTrackingScalingPolicyConfiguration")
	if in, out := pulumimock.Get(t, tt, "scaleInCooldown"), pulumimock.Get(t, tt, "scaleOutCooldown"); in != 0.0 || out != 0.0 {
		t.Errorf("cooldowns in %v, out %v; want the configured 0 and 0", in, out)
	}
	if v := pulumimock.Get(t, tt, "targetValue"); v != 55.0 {
		t.Errorf("CPU target %v, want 55", v)
	}
	td := d.One(t, "aws:ecs/taskDefinition:TaskDefinition").Inputs
	if td["cpu"] != "2048" || td["memory"] != "3072" {
		t.Errorf("task cpu/memory %v/%v, want 2048/3072", td["cpu"], td["memory"])
	}
}

// New VPC: two public subnets in two zones.
func TestServerfulNetwork(t *testing.T) {
	d := mustRun(t, "serverful", nil)
	vpc := d.One(t, "aws:ec2/vpc:Vpc").Inputs
	if vpc["cidrBlock"] != "10.0.0.0/16" {
		t.Errorf("VPC %v", vpc["cidrBlock"])
	}
	subnets := d.ByType("aws:ec2/subnet:Subnet")
	if len(subnets) != 2 {
		t.Fatalf("%d subnets, want 2", len(subnets))
	}
	zones := map[any]bool{}
	for _, s := range subnets {
		zones[s.Inputs["availabilityZone"]] = true
		if s.Inputs["mapPublicIpOnLaunch"] != true {
			t.Errorf("subnet %s is not public", s.Name)
		}
	}
	if !zones["us-east-1a"] || !zones["us-east-1b"] {
		t.Errorf("subnet zones %v, want us-east-1a and us-east-1b (no Local Zone)", zones)
	}
	for _, c := range d.Calls {
		if c.Token == "aws:index/getAvailabilityZones:getAvailabilityZones" {
			if f := pulumimock.OptInFilter(c.Args); f != "opt-in-not-required" {
				t.Errorf("zones asked for with opt-in-status %q, want opt-in-not-required", f)
			}
			if s := pulumimock.Plain(c.Args["state"]); s != "available" {
				t.Errorf("zones asked for in state %v, want available", s)
			}
		}
	}
	rt := d.One(t, "aws:ec2/routeTable:RouteTable").Inputs
	if pulumimock.Get(t, rt, "routes", 0, "cidrBlock") != "0.0.0.0/0" {
		t.Errorf("no default route: %v", rt["routes"])
	}
	if n := len(d.ByType("aws:ec2/routeTableAssociation:RouteTableAssociation")); n != 2 {
		t.Errorf("%d route table associations, want 2", n)
	}
}

// checkBucketPolicy checks a service role policy names only the two buckets (and
// the log group when logGroupArn is set), with only the actions each needs.
func checkBucketPolicy(t *testing.T, policy, in, out, logGroupArn string) {
	t.Helper()
	var doc access.Document
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		t.Fatalf("policy %q: %v", policy, err)
	}
	inArn, outArn := "arn:aws:s3:::"+in, "arn:aws:s3:::"+out
	want := map[string][]string{ // resource → actions
		inArn + "/*":  {"s3:GetObject"},
		outArn + "/*": {"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"},
		inArn:         {"s3:ListBucket"},
		outArn:        {"s3:ListBucket"},
	}
	if logGroupArn != "" {
		want[logGroupArn+":*"] = []string{"logs:CreateLogStream", "logs:PutLogEvents"}
	}
	got := map[string][]string{}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %s effect %s", s.Sid, s.Effect)
		}
		for _, r := range s.Resource {
			if strings.Contains(r, "*") && !strings.HasSuffix(r, "/*") && !strings.HasSuffix(r, ":*") || r == "*" {
				t.Errorf("statement %s: wildcard resource %q", s.Sid, r)
			}
			got[r] = append(got[r], s.Action...)
		}
	}
	for r := range got {
		slices.Sort(got[r])
	}
	if len(got) != len(want) {
		t.Errorf("policy resources %v, want %v", got, want)
	}
	for r, acts := range want {
		if !slices.Equal(got[r], acts) {
			t.Errorf("policy on %s: %v, want %v", r, got[r], acts)
		}
	}
}

func bucketNames(t *testing.T, d deployment) (in, out string) {
	t.Helper()
	for _, b := range d.ByType("aws:s3/bucketV2:BucketV2") {
		switch {
		case strings.HasSuffix(b.Name, "-input"):
			in = b.ID
		case strings.HasSuffix(b.Name, "-output"):
			out = b.ID
		}
	}
	if in == "" || out == "" {
		t.Fatalf("no input/output bucket among %v", d.ByType("aws:s3/bucketV2:BucketV2"))
	}
	return in, out
}

func anyStrings(v any) []string {
	a, _ := v.([]any)
	out := make([]string, len(a))
	for i, e := range a {
		out[i], _ = e.(string)
	}
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
