package network

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func TestSubnetCIDRs(t *testing.T) {
	for _, c := range []struct {
		vpc  string
		n    int
		want []string
	}{
		{"10.0.0.0/16", 2, []string{"10.0.0.0/24", "10.0.1.0/24"}},
		{"172.16.8.0/22", 3, []string{"172.16.8.0/28", "172.16.8.16/28", "172.16.8.32/28"}},
		{"10.1.0.0/20", 2, []string{"10.1.0.0/28", "10.1.0.16/28"}},
	} {
		got, err := SubnetCIDRs(c.vpc, c.n)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("SubnetCIDRs(%s, %d) = %v, %v; want %v", c.vpc, c.n, got, err, c.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/8", "10.0.0.0/28", "nope", "2001:db8::/48"} {
		if got, err := SubnetCIDRs(bad, 2); err == nil {
			t.Errorf("SubnetCIDRs(%s) = %v, want an error", bad, got)
		}
	}
}

// mocks answers the zones invoke and records what each resource's properties
// depend on.
type mocks struct {
	mu   sync.Mutex
	deps map[string]map[string][]string // resource name → property → URNs
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	props := map[string][]string{}
	for k, v := range args.RegisterRPC.GetPropertyDependencies() {
		props[k] = v.GetUrns()
	}
	m.deps[args.Name] = props
	return args.Name + "-id", args.Inputs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.NewPropertyMapFromMap(map[string]any{"names": []any{"us-east-1a", "us-east-1b"}}), nil
}

// A consumer of the subnets depends on the gateway and on the subnets' routes to
// it, without naming them; with an existing VPC there is nothing to depend on.
func TestSubnetsCarryRoutes(t *testing.T) {
	for _, existing := range []bool{false, true} {
		m := &mocks{deps: map[string]map[string][]string{}}
		err := pulumi.RunErr(func(ctx *pulumi.Context) error {
			args := &NetworkArgs{}
			if existing {
				args = &NetworkArgs{VpcID: "vpc-1", SubnetIDs: []string{"subnet-1", "subnet-2"}}
			}
			net, err := NewNetwork(ctx, "net", args)
			if err != nil {
				return err
			}
			_, err = lb.NewLoadBalancer(ctx, "consumer", &lb.LoadBalancerArgs{Subnets: net.SubnetIDs})
			return err
		}, pulumi.WithMocks("project", "stack", m))
		if err != nil {
			t.Fatal(err)
		}
		got := m.deps["consumer"]["subnets"]
		want := []string{
			"aws:ec2/subnet:Subnet::net-public-0", "aws:ec2/subnet:Subnet::net-public-1",
			"aws:ec2/internetGateway:InternetGateway::net-igw", "aws:ec2/routeTable:RouteTable::net-public",
			"aws:ec2/routeTableAssociation:RouteTableAssociation::net-public-0",
			"aws:ec2/routeTableAssociation:RouteTableAssociation::net-public-1",
		}
		if existing {
			want = nil
		}
		for _, w := range want {
			if !slices.ContainsFunc(got, func(urn string) bool { return strings.HasSuffix(urn, "$"+w) }) {
				t.Errorf("the subnets' consumer does not depend on %s: %v", w, got)
			}
		}
		if len(got) != len(want) {
			t.Errorf("existing VPC %v: the subnets' consumer depends on %d resources, want %d: %v", existing, len(got), len(want), got)
		}
	}
}
