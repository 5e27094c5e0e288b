// Package ecs stands up the serverful deployment: an ECS cluster on EC2 instances of
// an Auto Scaling group, a capacity provider with managed scaling, the service's
// task definition and service behind an application load balancer, and target
// tracking on the service's CPU.
//
// Scale-in must not stop a task in the middle of a measurement (a restart is a cold
// start and a model reload): the group launches its instances protected from
// scale-in and the capacity provider manages termination protection, so only
// instances without a task are terminated.
//
// Destroy must not hang on that protection, nor on a service left draining:
//   - the delete order is the dependency order: the service first (force-deleted,
//     so its running tasks do not hold it), then the cluster's capacity providers,
//     then the capacity provider (ECS deletes only one no cluster or service uses),
//     then the group, force-deleted: AWS terminates its instances, protected or
//     not, without the provider's drain, which would wait on the protection;
//   - while the service drains, the instances keep what their agents need: the
//     service depends on every role policy (pulumi-aws ecs.Service: "the policy may
//     be destroyed too soon and the ECS service will then get stuck in the
//     DRAINING state") and, through the subnets, on the route to the internet;
//   - the target group drains for seconds, not the default five minutes.
package ecs

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/appautoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/study"

	"github.com/servebench/servebench/infra/access"
	"github.com/servebench/servebench/infra/naming"
)

// Defaults NewService fills in that are the component's own; the study's
// (instance type, sizes, scaling, task size, listener, ingress, log retention)
// come from package study.
const (
	DefaultContainerPort   = 8080
	DefaultHealthCheckPath = "/healthz"
	DefaultDeregistration  = 10 // seconds: short, so destroy and scale-in do not wait 300 s
	// SteadyStateTimeout bounds how long `up` waits for the service to run its
	// tasks: an instance takes a few minutes to launch, register and pull the
	// image; past this something is wrong (no instance registers, the task does
	// not start) and `up` fails instead of leaving a service with nothing running.
	SteadyStateTimeout = "10m"
	// AMIParameter is the SSM parameter holding the current ECS-optimized Amazon
	// Linux 2023 AMI.
	AMIParameter = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
	// ContainerName is the name of the service's container in the task definition.
	ContainerName = "service"
	// Ephemeral host ports ECS assigns in bridge mode with dynamic port mapping: the
	// only ports the instances open, and only to the load balancer.
	hostPortFrom = 32768
	hostPortTo   = 65535
)

// ServiceArgs configures Service.
type ServiceArgs struct {
	Namer     naming.Namer
	Region    string
	VpcID     pulumi.StringInput
	SubnetIDs pulumi.StringArrayInput
	ImageURI  pulumi.StringInput
	// Env is the container's environment.
	Env pulumi.StringMap
	// InputBucketArn and OutputBucketArn scope the task role.
	InputBucketArn, OutputBucketArn pulumi.StringInput

	// The settings below are optional: unset (nil, zero, empty) takes the study's
	// value (package study) or the component's default. The stacks set every one
	// from their configuration, where the defaults are applied. Those for which 0
	// is a legal value are pointers, so that 0 is deployed as 0.
	InstanceType     string
	MinSize, MaxSize int
	CPUTarget        float64 // percent
	ScaleInCooldown  *int    // seconds; 0: scale in as soon as the metric allows
	ScaleOutCooldown *int    // seconds
	TaskCPU          int     // CPU units
	TaskMemoryMB     int
	ContainerPort    int
	ListenerPort     int
	IngressCIDRs     []string // who may reach the listener
	LogRetentionDays int
	HealthCheckPath  string
}

// Service is the serverful deployment.
type Service struct {
	pulumi.ResourceState

	URL                  pulumi.StringOutput `pulumi:"url"`
	ClusterName          pulumi.StringOutput `pulumi:"clusterName"`
	ServiceName          pulumi.StringOutput `pulumi:"serviceName"`
	AutoScalingGroupName pulumi.StringOutput `pulumi:"autoScalingGroupName"`
	CapacityProviderName pulumi.StringOutput `pulumi:"capacityProviderName"`
	LoadBalancerName     pulumi.StringOutput `pulumi:"loadBalancerName"`
	TargetGroupName      pulumi.StringOutput `pulumi:"targetGroupName"`
	LogGroupName         pulumi.StringOutput `pulumi:"logGroupName"`
}

func (a *ServiceArgs) defaults() {
	setDefault(&a.InstanceType, study.InstanceType)
	setDefault(&a.MinSize, study.MinInstances)
	setDefault(&a.MaxSize, study.MaxInstances)
	setDefault(&a.CPUTarget, study.CPUTargetPercent)
	if a.ScaleInCooldown == nil {
		a.ScaleInCooldown = new(study.ScaleInCooldownSeconds)
	}
	if a.ScaleOutCooldown == nil {
		a.ScaleOutCooldown = new(study.ScaleOutCooldownSeconds)
	}
	setDefault(&a.TaskCPU, study.TaskCPU)
	setDefault(&a.TaskMemoryMB, study.TaskMemoryMB)
	setDefault(&a.ContainerPort, DefaultContainerPort)
	setDefault(&a.ListenerPort, study.ListenerPort)
	if a.IngressCIDRs == nil { // an empty list is not unset but nobody: refused
		a.IngressCIDRs = []string{study.IngressCIDR}
	}
	setDefault(&a.LogRetentionDays, study.LogRetentionDays)
	setDefault(&a.HealthCheckPath, DefaultHealthCheckPath)
}

// setDefault sets *v to def when it is the zero value: for settings where zero is
// not a legal value, so it can only mean unset.
func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// NewService creates the cluster, its instances, the load balancer and the service.
func NewService(ctx *pulumi.Context, name string, args *ServiceArgs, opts ...pulumi.ResourceOption) (*Service, error) {
	a := *args
	a.defaults()
	if a.MinSize > a.MaxSize {
		return nil, fmt.Errorf("ecs %s: MinSize %d > MaxSize %d", name, a.MinSize, a.MaxSize)
	}
	if len(a.IngressCIDRs) == 0 {
		return nil, fmt.Errorf("ecs %s: IngressCIDRs is empty: nobody could reach the load balancer (nil takes %s)", name, study.IngressCIDR)
	}
	if *a.ScaleInCooldown < 0 || *a.ScaleOutCooldown < 0 {
		return nil, fmt.Errorf("ecs %s: cooldowns %d s (in) and %d s (out): must not be negative", name, *a.ScaleInCooldown, *a.ScaleOutCooldown)
	}
	c := &Service{}
	if err := ctx.RegisterComponentResource("servebench:infra:EcsService", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	n := a.Namer

	cluster, err := ecs.NewCluster(ctx, name+"-cluster", &ecs.ClusterArgs{
		Name: pulumi.String(n.Name("cluster", 255)),
	}, parent)
	if err != nil {
		return nil, err
	}

	// Security groups: the load balancer takes the listener port from the listed
	// CIDRs; the instances take only the ephemeral host ports, only from it.
	albSG, err := ec2.NewSecurityGroup(ctx, name+"-alb", &ec2.SecurityGroupArgs{
		VpcId:       a.VpcID,
		Description: pulumi.String("servebench load balancer: listener port from the configured CIDRs"),
		Ingress: ec2.SecurityGroupIngressArray{&ec2.SecurityGroupIngressArgs{
			Protocol:   pulumi.String("tcp"),
			FromPort:   pulumi.Int(a.ListenerPort),
			ToPort:     pulumi.Int(a.ListenerPort),
			CidrBlocks: pulumi.ToStringArray(a.IngressCIDRs),
		}},
		Egress: allEgress(),
	}, parent)
	if err != nil {
		return nil, err
	}
	instSG, err := ec2.NewSecurityGroup(ctx, name+"-instances", &ec2.SecurityGroupArgs{
		VpcId:       a.VpcID,
		Description: pulumi.String("servebench ECS instances: container host ports from the load balancer only"),
		Ingress: ec2.SecurityGroupIngressArray{&ec2.SecurityGroupIngressArgs{
			Protocol:       pulumi.String("tcp"),
			FromPort:       pulumi.Int(hostPortFrom),
			ToPort:         pulumi.Int(hostPortTo),
			SecurityGroups: pulumi.StringArray{albSG.ID()},
		}},
		Egress: allEgress(), // image pulls, S3, the ECS control plane
	}, parent)
	if err != nil {
		return nil, err
	}

	// Instances: ECS-optimized AL2023 from its SSM parameter, joined to the cluster.
	instRole, instPolicy, err := newRole(ctx, name+"-instance", n.Name("ecs-instance", naming.MaxIAMRole), "ec2.amazonaws.com",
		"arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role", parent)
	if err != nil {
		return nil, err
	}
	profile, err := iam.NewInstanceProfile(ctx, name+"-instance", &iam.InstanceProfileArgs{
		Name: pulumi.String(n.Name("ecs-instance", 128)),
		Role: instRole.Name,
	}, parent)
	if err != nil {
		return nil, err
	}
	ami := ssm.LookupParameterOutput(ctx, ssm.LookupParameterOutputArgs{Name: pulumi.String(AMIParameter)}, parent)
	lt, err := ec2.NewLaunchTemplate(ctx, name+"-instances", &ec2.LaunchTemplateArgs{
		NamePrefix:         pulumi.String(n.Name("ecs-", 100)),
		ImageId:            ami.InsecureValue(),
		InstanceType:       pulumi.String(a.InstanceType),
		IamInstanceProfile: &ec2.LaunchTemplateIamInstanceProfileArgs{Arn: profile.Arn},
		// A public address whatever the subnet's own setting: existing subnets
		// (servebench:subnetIds) may not assign one, and without it (and no NAT)
		// the agent never reaches ECS, so no instance registers. The security
		// group moves onto the interface: EC2 takes groups in one place only.
		NetworkInterfaces: ec2.LaunchTemplateNetworkInterfaceArray{&ec2.LaunchTemplateNetworkInterfaceArgs{
			DeviceIndex:              pulumi.Int(0),
			AssociatePublicIpAddress: pulumi.String("true"),
			DeleteOnTermination:      pulumi.String("true"),
			SecurityGroups:           pulumi.StringArray{instSG.ID()},
		}},
		UserData: cluster.Name.ApplyT(func(cn string) string {
			return base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\necho ECS_CLUSTER=" + cn + " >> /etc/ecs/ecs.config\n"))
		}).(pulumi.StringOutput),
		MetadataOptions: &ec2.LaunchTemplateMetadataOptionsArgs{HttpTokens: pulumi.String("required")},
	}, parent, pulumi.DependsOn([]pulumi.Resource{instPolicy})) // the agent registers with the role's policy
	if err != nil {
		return nil, err
	}
	asg, err := autoscaling.NewGroup(ctx, name+"-instances", &autoscaling.GroupArgs{
		Name:               pulumi.String(n.Name("ecs", 255)),
		MinSize:            pulumi.Int(a.MinSize),
		MaxSize:            pulumi.Int(a.MaxSize),
		VpcZoneIdentifiers: a.SubnetIDs,
		LaunchTemplate:     &autoscaling.GroupLaunchTemplateArgs{Id: lt.ID(), Version: pulumi.String("$Latest")},
		ProtectFromScaleIn: pulumi.Bool(true), // what managed termination protection requires
		ForceDelete:        pulumi.Bool(true), // terminate even protected instances, without draining
		HealthCheckType:    pulumi.String("EC2"),
		Tags: autoscaling.GroupTagArray{&autoscaling.GroupTagArgs{
			Key: pulumi.String("AmazonECSManaged"), Value: pulumi.String("true"), PropagateAtLaunch: pulumi.Bool(true),
		}},
	}, parent, pulumi.IgnoreChanges([]string{"desiredCapacity"})) // managed scaling owns it
	if err != nil {
		return nil, err
	}
	cp, err := ecs.NewCapacityProvider(ctx, name+"-capacity", &ecs.CapacityProviderArgs{
		Name: pulumi.String(n.Name("cp", 255)),
		AutoScalingGroupProvider: &ecs.CapacityProviderAutoScalingGroupProviderArgs{
			AutoScalingGroupArn:          asg.Arn,
			ManagedTerminationProtection: pulumi.String("ENABLED"),
			ManagedScaling: &ecs.CapacityProviderAutoScalingGroupProviderManagedScalingArgs{
				Status:                 pulumi.String("ENABLED"),
				TargetCapacity:         pulumi.Int(100),
				MinimumScalingStepSize: pulumi.Int(1),
				MaximumScalingStepSize: pulumi.Int(a.MaxSize),
			},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	ccp, err := ecs.NewClusterCapacityProviders(ctx, name+"-capacity", &ecs.ClusterCapacityProvidersArgs{
		ClusterName:       cluster.Name,
		CapacityProviders: pulumi.StringArray{cp.Name},
		DefaultCapacityProviderStrategies: ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArray{
			&ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs{CapacityProvider: cp.Name, Weight: pulumi.Int(1)},
		},
	}, parent)
	if err != nil {
		return nil, err
	}

	// Load balancer.
	alb, err := lb.NewLoadBalancer(ctx, name+"-alb", &lb.LoadBalancerArgs{
		Name:             pulumi.String(n.Name("alb", naming.MaxLoadBalancer)),
		LoadBalancerType: pulumi.String("application"),
		Internal:         pulumi.Bool(false),
		Subnets:          a.SubnetIDs,
		SecurityGroups:   pulumi.StringArray{albSG.ID()},
	}, parent)
	if err != nil {
		return nil, err
	}
	tg, err := lb.NewTargetGroup(ctx, name+"-tg", &lb.TargetGroupArgs{
		Name:                pulumi.String(n.Name("tg", naming.MaxLoadBalancer)),
		Port:                pulumi.Int(a.ContainerPort),
		Protocol:            pulumi.String("HTTP"),
		TargetType:          pulumi.String("instance"),
		VpcId:               a.VpcID,
		DeregistrationDelay: pulumi.Int(DefaultDeregistration),
		HealthCheck: &lb.TargetGroupHealthCheckArgs{
			Path:               pulumi.String(a.HealthCheckPath),
			Matcher:            pulumi.String("200"),
			Interval:           pulumi.Int(15),
			Timeout:            pulumi.Int(5),
			HealthyThreshold:   pulumi.Int(2),
			UnhealthyThreshold: pulumi.Int(3),
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	listener, err := lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
		LoadBalancerArn: alb.Arn,
		Port:            pulumi.Int(a.ListenerPort),
		Protocol:        pulumi.String("HTTP"),
		DefaultActions: lb.ListenerDefaultActionArray{&lb.ListenerDefaultActionArgs{
			Type: pulumi.String("forward"), TargetGroupArn: tg.Arn,
		}},
	}, parent)
	if err != nil {
		return nil, err
	}

	// Task: logs, roles, definition.
	logs, err := cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/ecs/" + n.Base),
		RetentionInDays: pulumi.Int(a.LogRetentionDays),
	}, parent)
	if err != nil {
		return nil, err
	}
	execRole, execPolicy, err := newRole(ctx, name+"-execution", n.Name("ecs-execution", naming.MaxIAMRole), "ecs-tasks.amazonaws.com",
		"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy", parent)
	if err != nil {
		return nil, err
	}
	taskRole, _, err := newRole(ctx, name+"-task", n.Name("ecs-task", naming.MaxIAMRole), "ecs-tasks.amazonaws.com", "", parent)
	if err != nil {
		return nil, err
	}
	taskPolicy, err := iam.NewRolePolicy(ctx, name+"-task-buckets", &iam.RolePolicyArgs{
		Role:   taskRole.Name,
		Policy: access.BucketPolicy(a.InputBucketArn, a.OutputBucketArn, nil),
	}, parent)
	if err != nil {
		return nil, err
	}
	containers := pulumi.All(a.ImageURI, a.Env.ToStringMapOutput(), logs.Name).ApplyT(func(v []any) (string, error) {
		return containerDefinitions(v[0].(string), v[1].(map[string]string), v[2].(string), a)
	}).(pulumi.StringOutput)
	td, err := ecs.NewTaskDefinition(ctx, name+"-task", &ecs.TaskDefinitionArgs{
		Family:                  pulumi.String(n.Name("service", 255)),
		RequiresCompatibilities: pulumi.StringArray{pulumi.String("EC2")},
		NetworkMode:             pulumi.String("bridge"),
		Cpu:                     pulumi.String(fmt.Sprint(a.TaskCPU)),
		Memory:                  pulumi.String(fmt.Sprint(a.TaskMemoryMB)),
		ExecutionRoleArn:        execRole.Arn,
		TaskRoleArn:             taskRole.Arn,
		ContainerDefinitions:    containers,
	}, parent)
	if err != nil {
		return nil, err
	}
	svc, err := ecs.NewService(ctx, name+"-service", &ecs.ServiceArgs{
		Name:           pulumi.String(n.Name("service", 255)),
		Cluster:        cluster.Arn,
		TaskDefinition: td.Arn,
		DesiredCount:   pulumi.Int(a.MinSize),
		CapacityProviderStrategies: ecs.ServiceCapacityProviderStrategyArray{&ecs.ServiceCapacityProviderStrategyArgs{
			CapacityProvider: cp.Name, Weight: pulumi.Int(1),
		}},
		LoadBalancers: ecs.ServiceLoadBalancerArray{&ecs.ServiceLoadBalancerArgs{
			TargetGroupArn: tg.Arn, ContainerName: pulumi.String(ContainerName), ContainerPort: pulumi.Int(a.ContainerPort),
		}},
		HealthCheckGracePeriodSeconds: pulumi.Int(60),
		ForceDelete:                   pulumi.Bool(true), // delete even with running tasks
		// `up` returns once the tasks run, or fails saying the service did not
		// get there, rather than succeeding with nothing to measure.
		WaitForSteadyState: pulumi.Bool(true),
	}, parent,
		// Created after, and deleted before, the listener, the cluster's capacity
		// providers and every policy its instances and tasks act with: a service
		// drains on delete, and its agents and tasks need them until it is gone.
		pulumi.DependsOn([]pulumi.Resource{listener, ccp, instPolicy, execPolicy, taskPolicy}),
		pulumi.Timeouts(&pulumi.CustomTimeouts{Create: SteadyStateTimeout, Update: SteadyStateTimeout}),
		pulumi.IgnoreChanges([]string{"desiredCount"})) // the scaling policy owns it
	if err != nil {
		return nil, err
	}
	resourceID := pulumi.Sprintf("service/%s/%s", cluster.Name, svc.Name)
	target, err := appautoscaling.NewTarget(ctx, name+"-scaling", &appautoscaling.TargetArgs{
		ServiceNamespace:  pulumi.String("ecs"),
		ScalableDimension: pulumi.String("ecs:service:DesiredCount"),
		ResourceId:        resourceID,
		MinCapacity:       pulumi.Int(a.MinSize),
		MaxCapacity:       pulumi.Int(a.MaxSize),
	}, parent)
	if err != nil {
		return nil, err
	}
	if _, err := appautoscaling.NewPolicy(ctx, name+"-cpu", &appautoscaling.PolicyArgs{
		Name:              pulumi.String(n.Name("cpu", 255)),
		PolicyType:        pulumi.String("TargetTrackingScaling"),
		ServiceNamespace:  target.ServiceNamespace,
		ScalableDimension: target.ScalableDimension,
		ResourceId:        target.ResourceId,
		TargetTrackingScalingPolicyConfiguration: &appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs{
			PredefinedMetricSpecification: &appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs{
				PredefinedMetricType: pulumi.String("ECSServiceAverageCPUUtilization"),
			},
			TargetValue:      pulumi.Float64(a.CPUTarget),
			ScaleInCooldown:  pulumi.Int(*a.ScaleInCooldown),
			ScaleOutCooldown: pulumi.Int(*a.ScaleOutCooldown),
		},
	}, parent); err != nil {
		return nil, err
	}

	c.URL = pulumi.Sprintf("http://%s:%d", alb.DnsName, a.ListenerPort)
	c.ClusterName = cluster.Name
	c.ServiceName = svc.Name
	c.AutoScalingGroupName = asg.Name
	c.CapacityProviderName = cp.Name
	c.LoadBalancerName = alb.Name
	c.TargetGroupName = tg.Name
	c.LogGroupName = logs.Name
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"url": c.URL, "clusterName": c.ClusterName, "serviceName": c.ServiceName,
		"autoScalingGroupName": c.AutoScalingGroupName, "capacityProviderName": c.CapacityProviderName,
		"loadBalancerName": c.LoadBalancerName, "targetGroupName": c.TargetGroupName, "logGroupName": c.LogGroupName,
	})
}

func allEgress() ec2.SecurityGroupEgressArray {
	return ec2.SecurityGroupEgressArray{&ec2.SecurityGroupEgressArgs{
		Protocol: pulumi.String("-1"), FromPort: pulumi.Int(0), ToPort: pulumi.Int(0),
		CidrBlocks: pulumi.StringArray{pulumi.String("0.0.0.0/0")},
	}}
}

// newRole creates a role a service may assume, with an optional managed policy,
// and returns the policy's attachment (nil without one) for what acts as the role
// to depend on: the role alone grants nothing.
func newRole(ctx *pulumi.Context, name, roleName, service, managed string, opts ...pulumi.ResourceOption) (*iam.Role, *iam.RolePolicyAttachment, error) {
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		Name:             pulumi.String(roleName),
		AssumeRolePolicy: pulumi.String(access.AssumeRole(service)),
	}, opts...)
	if err != nil || managed == "" {
		return role, nil, err
	}
	attachment, err := iam.NewRolePolicyAttachment(ctx, name+"-managed", &iam.RolePolicyAttachmentArgs{
		Role: role.Name, PolicyArn: pulumi.String(managed),
	}, opts...)
	return role, attachment, err
}

// containerDefinitions renders the task's one container.
func containerDefinitions(image string, env map[string]string, logGroup string, a ServiceArgs) (string, error) {
	type kv struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	vars := make([]kv, 0, len(env))
	for k, v := range env {
		vars = append(vars, kv{k, v})
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Name < vars[j].Name })
	b, err := json.Marshal([]any{map[string]any{
		"name":      ContainerName,
		"image":     image,
		"essential": true,
		"cpu":       a.TaskCPU,
		"memory":    a.TaskMemoryMB,
		"portMappings": []any{map[string]any{
			"containerPort": a.ContainerPort, "hostPort": 0, "protocol": "tcp",
		}},
		"environment": vars,
		"logConfiguration": map[string]any{
			"logDriver": "awslogs",
			"options": map[string]string{
				"awslogs-group":         logGroup,
				"awslogs-region":        a.Region,
				"awslogs-stream-prefix": ContainerName,
			},
		},
	}})
	return string(b), err
}
