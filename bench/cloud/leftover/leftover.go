// Package leftover finds what is left in an AWS account of stacks that were torn
// down: resources still carrying the stacks' tags, ECR repositories, and log
// groups (which Lambda and ECS create themselves, outside the stack's state).
//
// The Resource Groups Tagging API "returns all the tagged or previously tagged
// resources" (API_GetResources), and in practice lists a resource for a while
// after it is deleted; ECS also keeps deregistered task definitions (INACTIVE)
// and deleted clusters and services (INACTIVE) describable, tags and all. So
// every ARN the API lists is re-checked with its own service where this package
// can describe that kind: gone or inactive ones are dropped. Kinds it cannot
// describe (EC2's, Lambda's, ...) are listed again after Query.Settle and kept
// only if still listed; without Settle they are reported saying that the tagging
// API alone listed them.
package leftover

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	taggingtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
)

// Query says what belongs to the stacks.
type Query struct {
	Tags             map[string]string // resources carrying every one of these
	Repositories     []string          // ECR repositories by name
	LogGroupPrefixes []string          // log groups by name prefix
	// Settle, when > 0, is how long to wait before listing the tags again when
	// the tagging API lists resources no re-check here covers: those it no
	// longer lists by then were deleted resources it still showed.
	Settle time.Duration
}

// Leftover is a resource still there.
type Leftover struct {
	Kind string `json:"kind"` // the ARN's service:type, e.g. "ecs:service", "ecr:repository", "logs:log-group"
	ID   string `json:"id"`   // its ARN (a log group's ARN without ":*")
	Why  string `json:"why"`  // how it was found and, where checked, its state
}

func (l Leftover) String() string { return l.Kind + " " + l.ID + " (" + l.Why + ")" }

// Tagging is what Find calls on the Resource Groups Tagging API client.
type Tagging interface {
	GetResources(ctx context.Context, in *tagging.GetResourcesInput, opts ...func(*tagging.Options)) (*tagging.GetResourcesOutput, error)
}

// ECR is what Find calls on the ECR client.
type ECR interface {
	DescribeRepositories(ctx context.Context, in *ecr.DescribeRepositoriesInput, opts ...func(*ecr.Options)) (*ecr.DescribeRepositoriesOutput, error)
}

// Logs is what Find calls on the CloudWatch Logs client.
type Logs interface {
	DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
}

// ECS is what the re-check of ECS ARNs calls.
type ECS interface {
	DescribeClusters(ctx context.Context, in *ecs.DescribeClustersInput, opts ...func(*ecs.Options)) (*ecs.DescribeClustersOutput, error)
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, opts ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, opts ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
}

// ELB is what the re-check of load balancer and target group ARNs calls.
type ELB interface {
	DescribeLoadBalancers(ctx context.Context, in *elb.DescribeLoadBalancersInput, opts ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	DescribeTargetGroups(ctx context.Context, in *elb.DescribeTargetGroupsInput, opts ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error)
}

// AutoScaling is what the re-check of Auto Scaling group ARNs calls.
type AutoScaling interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

// Clients are the clients Find calls. Tagging is needed when the query has tags,
// ECR when it names repositories, Logs when it has prefixes. ECS, ELB and
// AutoScaling re-check what the tagging API lists; without one, its kinds are
// reported as the tagging API lists them.
type Clients struct {
	Tagging     Tagging
	ECR         ECR
	Logs        Logs
	ECS         ECS
	ELB         ELB
	AutoScaling AutoScaling
}

// pageSize is GetResources' ResourcesPerPage: 50, the most every version of the
// API reference allows.
const pageSize = 50

// Find lists what is left: every tagged resource that its service still shows
// (or that no re-check here covers), every named repository that exists, every
// log group under a prefix. A resource found twice (a tagged repository or log
// group) is listed once.
func Find(ctx context.Context, q Query, c Clients) ([]Leftover, error) {
	var out []Leftover
	seen := map[string]bool{}
	add := func(l Leftover) {
		if !seen[l.ID] {
			seen[l.ID] = true
			out = append(out, l)
		}
	}
	if len(q.Tags) > 0 {
		if c.Tagging == nil {
			return nil, errors.New("leftover check: no Resource Groups Tagging API client")
		}
		arns, err := tagged(ctx, c.Tagging, q.Tags)
		if err != nil {
			return nil, err
		}
		var unchecked []Leftover
		for _, a := range arns {
			l, left, checked := c.recheck(ctx, a, q.Tags)
			switch {
			case !left:
			case !checked && q.Settle > 0:
				unchecked = append(unchecked, l)
			default:
				add(l)
			}
		}
		if len(unchecked) > 0 {
			still, err := settled(ctx, c.Tagging, q.Tags, q.Settle)
			if err != nil {
				return nil, err
			}
			for _, l := range unchecked {
				if still[l.ID] {
					l.Why = fmt.Sprintf("tagged %s; still listed by the Resource Groups Tagging API after %s (no re-check here covers %s)", tagList(q.Tags), q.Settle, l.Kind)
					add(l)
				}
			}
		}
	}
	if len(q.Repositories) > 0 && c.ECR == nil {
		return nil, errors.New("leftover check: no ECR client")
	}
	for _, name := range q.Repositories {
		l, left, err := repository(ctx, c.ECR, name)
		if err != nil {
			return nil, err
		}
		if left {
			l.Why = "ECR repository still exists (stored images are billed)"
			add(l)
		}
	}
	if len(q.LogGroupPrefixes) > 0 && c.Logs == nil {
		return nil, errors.New("leftover check: no CloudWatch Logs client")
	}
	for _, prefix := range q.LogGroupPrefixes {
		groups, err := logGroups(ctx, c.Logs, prefix)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			add(g)
		}
	}
	return out, nil
}

// tagged lists the ARNs carrying every tag, following PaginationToken until the
// API returns an empty one (pages may hold fewer than asked for).
func tagged(ctx context.Context, c Tagging, tags map[string]string) ([]string, error) {
	var filters []taggingtypes.TagFilter
	for _, k := range sortedKeys(tags) {
		filters = append(filters, taggingtypes.TagFilter{Key: aws.String(k), Values: []string{tags[k]}})
	}
	var arns []string
	var token *string
	seen := map[string]bool{}
	for {
		out, err := c.GetResources(ctx, &tagging.GetResourcesInput{TagFilters: filters, ResourcesPerPage: aws.Int32(pageSize), PaginationToken: token})
		if err != nil {
			return nil, fmt.Errorf("leftover check: list resources tagged %s: %w", tagList(tags), err)
		}
		for _, m := range out.ResourceTagMappingList {
			arns = append(arns, aws.ToString(m.ResourceARN))
		}
		next := aws.ToString(out.PaginationToken)
		if next == "" {
			return arns, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("leftover check: the Tagging API returned pagination token %q twice", next)
		}
		seen[next] = true
		token = aws.String(next)
	}
}

// settled lists the tagged ARNs again after d.
func settled(ctx context.Context, c Tagging, tags map[string]string, d time.Duration) (map[string]bool, error) {
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("leftover check: %w", ctx.Err())
	case <-time.After(d):
	}
	arns, err := tagged(ctx, c, tags)
	if err != nil {
		return nil, err
	}
	still := map[string]bool{}
	for _, a := range arns {
		still[a] = true
	}
	return still, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func tagList(tags map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(tags) {
		parts = append(parts, k+"="+tags[k])
	}
	return strings.Join(parts, ", ")
}

// kindOf is an ARN's service and resource type, and the resource after the type
// ("ecs", "service", "cluster/name").
func kindOf(a string) (service, typ, rest string) {
	p, err := arn.Parse(a)
	if err != nil {
		return "unknown", "", a
	}
	i := strings.IndexAny(p.Resource, "/:")
	if i < 0 {
		return p.Service, p.Resource, ""
	}
	return p.Service, p.Resource[:i], p.Resource[i+1:]
}

// recheck asks a tagged resource's own service whether it is still there; checked
// is false for the kinds nothing here can describe (left is then true).
func (c Clients) recheck(ctx context.Context, a string, tags map[string]string) (l Leftover, left, checked bool) {
	service, typ, rest := kindOf(a)
	l = Leftover{Kind: service + ":" + typ, ID: a}
	var state string
	var err error
	checked = true
	switch {
	case service == "ecs" && c.ECS != nil && typ == "cluster":
		state, left, err = ecsCluster(ctx, c.ECS, a)
	case service == "ecs" && c.ECS != nil && typ == "service":
		state, left, err = ecsService(ctx, c.ECS, a, rest)
	case service == "ecs" && c.ECS != nil && typ == "task-definition":
		state, left, err = ecsTaskDefinition(ctx, c.ECS, a)
	case service == "elasticloadbalancing" && c.ELB != nil && typ == "loadbalancer":
		state, left, err = loadBalancer(ctx, c.ELB, a)
	case service == "elasticloadbalancing" && c.ELB != nil && typ == "targetgroup":
		state, left, err = targetGroup(ctx, c.ELB, a)
	case service == "autoscaling" && c.AutoScaling != nil && typ == "autoScalingGroup":
		state, left, err = autoScalingGroup(ctx, c.AutoScaling, rest)
	case service == "ecr" && c.ECR != nil && typ == "repository":
		_, left, err = repository(ctx, c.ECR, rest)
		state = "exists"
	default:
		l.Why = fmt.Sprintf("tagged %s; listed by the Resource Groups Tagging API only, which can list a resource deleted minutes ago: look before deleting", tagList(tags))
		return l, true, false
	}
	if err != nil {
		// A failed re-check leaves the listing standing: better a false alarm than a
		// resource billed unnoticed.
		l.Why = fmt.Sprintf("tagged %s; re-checking it failed: %v", tagList(tags), err)
		return l, true, true
	}
	l.Why = fmt.Sprintf("tagged %s; %s still shows it: %s", tagList(tags), service, state)
	return l, left, true
}

// ecsCluster: a deleted cluster stays describable as INACTIVE for a while.
func ecsCluster(ctx context.Context, c ECS, a string) (string, bool, error) {
	out, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{a}})
	if err != nil {
		return "", false, err
	}
	for _, cl := range out.Clusters {
		st := aws.ToString(cl.Status)
		return st, st != "INACTIVE", nil
	}
	return "MISSING", false, nil
}

// ecsService: a deleted service is DRAINING (still stopping tasks), then INACTIVE.
func ecsService(ctx context.Context, c ECS, a, rest string) (string, bool, error) {
	// service/cluster/name; the older format service/name is in the default cluster.
	cluster, _, ok := strings.Cut(rest, "/")
	if !ok {
		cluster = "default"
	}
	out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{a}})
	if err != nil {
		return "", false, err
	}
	for _, s := range out.Services {
		st := aws.ToString(s.Status)
		return st, st != "INACTIVE", nil
	}
	return "MISSING", false, nil
}

// ecsTaskDefinition: destroying a stack deregisters its task definitions, which
// ECS keeps (INACTIVE, free) until they are deleted.
func ecsTaskDefinition(ctx context.Context, c ECS, a string) (string, bool, error) {
	out, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(a)})
	if err != nil {
		// ECS answers a revision it does not know with a ClientException.
		var ce interface{ ErrorCode() string }
		if errors.As(err, &ce) && ce.ErrorCode() == "ClientException" {
			return "MISSING", false, nil
		}
		return "", false, err
	}
	if out.TaskDefinition == nil {
		return "MISSING", false, nil
	}
	st := string(out.TaskDefinition.Status)
	return st, st == "ACTIVE", nil
}

func loadBalancer(ctx context.Context, c ELB, a string) (string, bool, error) {
	out, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{a}})
	var nf *elbtypes.LoadBalancerNotFoundException
	if errors.As(err, &nf) {
		return "not found", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if len(out.LoadBalancers) == 0 {
		return "not found", false, nil
	}
	st := "exists"
	if s := out.LoadBalancers[0].State; s != nil {
		st = string(s.Code)
	}
	return st, true, nil
}

func targetGroup(ctx context.Context, c ELB, a string) (string, bool, error) {
	out, err := c.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{a}})
	var nf *elbtypes.TargetGroupNotFoundException
	if errors.As(err, &nf) {
		return "not found", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return "exists", len(out.TargetGroups) > 0, nil
}

// autoScalingGroup: rest is "uuid:autoScalingGroupName/name".
func autoScalingGroup(ctx context.Context, c AutoScaling, rest string) (string, bool, error) {
	_, name, _ := strings.Cut(rest, "autoScalingGroupName/")
	out, err := c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return "", false, err
	}
	if len(out.AutoScalingGroups) == 0 {
		return "not found", false, nil
	}
	st := "exists"
	if s := aws.ToString(out.AutoScalingGroups[0].Status); s != "" {
		st = s // "Delete in progress" while it is being deleted
	}
	return st, true, nil
}

// repository describes one repository by name (one per call: a single missing
// name fails the whole call).
func repository(ctx context.Context, c ECR, name string) (Leftover, bool, error) {
	out, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	var nf *ecrtypes.RepositoryNotFoundException
	if errors.As(err, &nf) {
		return Leftover{}, false, nil
	}
	if err != nil {
		return Leftover{}, false, fmt.Errorf("leftover check: describe ECR repository %s: %w", name, err)
	}
	for _, r := range out.Repositories {
		return Leftover{Kind: "ecr:repository", ID: aws.ToString(r.RepositoryArn)}, true, nil
	}
	return Leftover{}, false, nil
}

// logGroups lists the log groups under prefix, following nextToken.
func logGroups(ctx context.Context, c Logs, prefix string) ([]Leftover, error) {
	var out []Leftover
	var token *string
	for {
		page, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(prefix), NextToken: token})
		if err != nil {
			return nil, fmt.Errorf("leftover check: list log groups %s*: %w", prefix, err)
		}
		for _, g := range page.LogGroups {
			id := aws.ToString(g.LogGroupArn)
			if id == "" {
				id = strings.TrimSuffix(aws.ToString(g.Arn), ":*")
			}
			out = append(out, Leftover{Kind: "logs:log-group", ID: id,
				Why: fmt.Sprintf("log group %s (under %s) still exists (stored logs are billed)", aws.ToString(g.LogGroupName), prefix)})
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		token = page.NextToken
	}
}
