package cloud

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"google.golang.org/api/option"

	"github.com/servebench/servebench/bench/cloud/account"
	"github.com/servebench/servebench/bench/cloud/fleet"
	"github.com/servebench/servebench/bench/cloud/gcf"
	"github.com/servebench/servebench/bench/cloud/lambdafn"
	"github.com/servebench/servebench/bench/cloud/leftover"
	"github.com/servebench/servebench/bench/scenario"
)

// awsClouds is Clouds on the real SDK clients of one aws.Config (an awsfake
// Server's, in the tests).
type awsClouds struct {
	cfg  aws.Config
	gcp  []option.ClientOption
	poll time.Duration
}

// NewAWSClouds is the Clouds Run uses when Env.Clouds is nil: the real clients of
// cfg, in cfg's region; poll is the interval of status polls (0: the defaults of
// fleet and lambdafn).
func NewAWSClouds(cfg aws.Config, gcp []option.ClientOption, poll time.Duration) Clouds {
	return &awsClouds{cfg: cfg, gcp: gcp, poll: poll}
}

func (c *awsClouds) Identity(ctx context.Context) (string, string, error) {
	id, err := account.Identity(ctx, sts.NewFromConfig(c.cfg))
	return id.Account, id.ARN, err
}

func (c *awsClouds) ECSServiceLinkedRole(ctx context.Context) (bool, error) {
	return account.ECSServiceLinkedRole(ctx, iam.NewFromConfig(c.cfg))
}

func (c *awsClouds) LambdaConcurrency(ctx context.Context) (int, int, error) {
	return account.LambdaConcurrency(ctx, lambda.NewFromConfig(c.cfg))
}

// need returns the named outputs, or an error naming the missing ones.
func need(out Outputs, names ...string) ([]string, error) {
	var vals, missing []string
	for _, n := range names {
		v := out.String(n)
		if v == "" {
			missing = append(missing, n)
		}
		vals = append(vals, v)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("outputs %s missing", strings.Join(missing, ", "))
	}
	return vals, nil
}

func (c *awsClouds) Fleet(out Outputs) (Fleet, error) {
	v, err := need(out, "clusterName", "serviceName", "autoScalingGroupName", "targetGroupName")
	if err != nil {
		return nil, err
	}
	return fleet.Service{
		Cluster: v[0], Service: v[1], Group: v[2], TargetGroup: v[3],
		ECS: ecs.NewFromConfig(c.cfg), AutoScaling: autoscaling.NewFromConfig(c.cfg), ELB: elb.NewFromConfig(c.cfg),
		Scaling: applicationautoscaling.NewFromConfig(c.cfg), Poll: c.poll,
	}, nil
}

func (c *awsClouds) Function(out Outputs) (Function, error) {
	v, err := need(out, "functionName", "logGroupName")
	if err != nil {
		return nil, err
	}
	return &lambdafn.Function{
		Name: v[0], LogGroup: v[1],
		Lambda: lambda.NewFromConfig(c.cfg), Logs: cloudwatchlogs.NewFromConfig(c.cfg),
		Poll: c.poll,
	}, nil
}

func (c *awsClouds) Leftovers(ctx context.Context, q leftover.Query) ([]leftover.Leftover, error) {
	return leftover.Find(ctx, q, leftover.Clients{
		Tagging: tagging.NewFromConfig(c.cfg), ECR: ecr.NewFromConfig(c.cfg), Logs: cloudwatchlogs.NewFromConfig(c.cfg),
		ECS: ecs.NewFromConfig(c.cfg), ELB: elb.NewFromConfig(c.cfg), AutoScaling: autoscaling.NewFromConfig(c.cfg),
	})
}

func (c *awsClouds) GCPPreflight(ctx context.Context, project string) error {
	return gcf.Preflight(ctx, project, c.gcp...)
}

func (c *awsClouds) CloudFunctions(ctx context.Context, project, region string, names map[string]string) (scenario.Coldable, error) {
	svc, r, err := gcf.NewClients(ctx, c.gcp...)
	if err != nil {
		return nil, err
	}
	fs := gcf.ForNames(project, region, names, svc, r)
	for _, f := range fs {
		f.Poll = c.poll
	}
	return fs, nil
}
