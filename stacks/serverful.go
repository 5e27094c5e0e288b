package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/infra/ecs"
	"github.com/servebench/servebench/infra/naming"
	"github.com/servebench/servebench/infra/network"
	"github.com/servebench/servebench/infra/serviceenv"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// Serverful is the original study's serverful deployment: ECS on an autoscaled
// EC2 cluster behind an ALB.
func Serverful(ctx *pulumi.Context, cfg *Config) (pulumi.Map, error) {
	n := naming.New(ctx.Project(), ctx.Stack())
	s := cfg.Serverful
	buckets, img, err := common(ctx, cfg, n, stackconfig.ImageTarget[stackconfig.ModeServerful])
	if err != nil {
		return nil, err
	}
	net, err := network.NewNetwork(ctx, n.Base+"-network", &network.NetworkArgs{
		VpcID: s.VpcID, SubnetIDs: s.SubnetIDs, CIDR: s.VpcCIDR,
	})
	if err != nil {
		return nil, err
	}
	env := serviceenv.Env{
		Scheme: "s3", Region: cfg.AWSRegion, Backend: "onnxruntime", Platform: "ecs",
		MemoryMB: s.TaskMemoryMB, Port: ecs.DefaultContainerPort, Preload: true, FacesSource: cfg.FacesSource,
	}
	svc, err := ecs.NewService(ctx, n.Base+"-ecs", &ecs.ServiceArgs{
		Namer:            n,
		Region:           cfg.AWSRegion,
		VpcID:            net.VpcID,
		SubnetIDs:        net.SubnetIDs,
		ImageURI:         img.ImageURI,
		Env:              env.Vars(buckets.InputBucket, buckets.OutputBucket),
		InputBucketArn:   buckets.InputArn,
		OutputBucketArn:  buckets.OutputArn,
		InstanceType:     s.InstanceType,
		MinSize:          s.MinSize,
		MaxSize:          s.MaxSize,
		CPUTarget:        s.CPUTarget,
		ScaleInCooldown:  new(s.ScaleInCooldown),
		ScaleOutCooldown: new(s.ScaleOutCooldown),
		TaskCPU:          s.TaskCPU,
		TaskMemoryMB:     s.TaskMemoryMB,
		ContainerPort:    ecs.DefaultContainerPort,
		ListenerPort:     s.ListenerPort,
		IngressCIDRs:     s.IngressCIDRs,
		LogRetentionDays: cfg.LogRetentionDays,
	})
	if err != nil {
		return nil, err
	}
	return pulumi.Map{
		"url":                  svc.URL,
		"inputBucket":          buckets.InputBucket,
		"outputBucket":         buckets.OutputBucket,
		"clusterName":          svc.ClusterName,
		"serviceName":          svc.ServiceName,
		"autoScalingGroupName": svc.AutoScalingGroupName,
		"capacityProviderName": svc.CapacityProviderName,
		"loadBalancerName":     svc.LoadBalancerName,
		"targetGroupName":      svc.TargetGroupName,
		"logGroupName":         svc.LogGroupName,
		"repositoryUrl":        img.RepositoryURL,
		"imageUri":             img.ImageURI,
		"vpcId":                net.VpcID,
		// What the deployment record of `servebench cloud` says the target ran on.
		"instanceType": pulumi.String(s.InstanceType),
		"minSize":      pulumi.Int(s.MinSize),
		"maxSize":      pulumi.Int(s.MaxSize),
		"taskCpu":      pulumi.Int(s.TaskCPU),
		"taskMemoryMb": pulumi.Int(s.TaskMemoryMB),
	}, nil
}
