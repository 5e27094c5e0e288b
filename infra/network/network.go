// Package network gives the serverful stack somewhere to run: a VPC with one public
// subnet in each of two availability zones, or an existing VPC and its subnets.
package network

import (
	"fmt"
	"net/netip"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/study"
)

// Defaults filled in by NewNetwork.
const (
	DefaultCIDR  = study.VpcCIDR
	DefaultZones = study.ALBZones
	// RegionalZones is the opt-in status of a region's own availability zones,
	// as against Local and Wavelength Zones ("opted-in", "not-opted-in").
	RegionalZones = "opt-in-not-required"
)

// NetworkArgs configures Network.
type NetworkArgs struct {
	// VpcID and SubnetIDs name an existing VPC and (public) subnets to use instead
	// of creating them.
	VpcID     string
	SubnetIDs []string
	CIDR      string // new VPC only; default 10.0.0.0/16
	Zones     int    // new VPC only: public subnets, one per zone; default 2
}

// Network is a VPC and its public subnets.
type Network struct {
	pulumi.ResourceState

	VpcID pulumi.StringOutput `pulumi:"vpcId"`
	// SubnetIDs depend on the internet gateway and the subnets' routes to it (in
	// a new VPC), so their consumers are created after and deleted before them.
	SubnetIDs pulumi.StringArrayOutput `pulumi:"subnetIds"`
}

// NewNetwork creates the VPC (or adopts an existing one).
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	a := *args
	if a.CIDR == "" {
		a.CIDR = DefaultCIDR
	}
	if a.Zones == 0 {
		a.Zones = DefaultZones
	}
	c := &Network{}
	if err := ctx.RegisterComponentResource("servebench:infra:Network", name, c, opts...); err != nil {
		return nil, err
	}
	if a.VpcID != "" {
		c.VpcID = pulumi.String(a.VpcID).ToStringOutput()
		c.SubnetIDs = pulumi.ToStringArray(a.SubnetIDs).ToStringArrayOutput()
		return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"vpcId": c.VpcID, "subnetIds": c.SubnetIDs})
	}
	cidrs, err := SubnetCIDRs(a.CIDR, a.Zones)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(a.CIDR),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               pulumi.StringMap{"Name": pulumi.String(name)},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{VpcId: vpc.ID()}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	rt, err := ec2.NewRouteTable(ctx, name+"-public", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Routes: ec2.RouteTableRouteArray{
			&ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID()},
		},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	// Only the region's own zones: an account that opted in to a Local Zone gets it
	// in the list too, sorted first ("us-east-1-bos-1a" < "us-east-1a"), and a
	// Local Zone offers a few instance types and services, t3a.xlarge generally
	// not among them.
	zones := aws.GetAvailabilityZonesOutput(ctx, aws.GetAvailabilityZonesOutputArgs{
		State: pulumi.String("available"),
		Filters: aws.GetAvailabilityZonesFilterArray{aws.GetAvailabilityZonesFilterArgs{
			Name: pulumi.String("opt-in-status"), Values: pulumi.StringArray{pulumi.String(RegionalZones)},
		}},
	}, pulumi.Parent(c))
	var ids pulumi.StringArray
	for i, cidr := range cidrs {
		sn, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			CidrBlock:           pulumi.String(cidr),
			AvailabilityZone:    zones.Names().Index(pulumi.Int(i)),
			MapPublicIpOnLaunch: pulumi.Bool(true),
			Tags:                pulumi.StringMap{"Name": pulumi.Sprintf("%s-public-%d", name, i)},
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		assoc, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.RouteTableAssociationArgs{
			SubnetId:     sn.ID(),
			RouteTableId: rt.ID(),
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		// A subnet is of use only once it routes to the internet: ELB refuses a
		// subnet of a VPC with no gateway attached ("InvalidSubnet"), and an
		// instance without the route never reaches ECS. So the id handed out
		// carries the gateway, the route table (its default route is inline) and
		// the association as dependencies: whatever takes it is created after
		// them and deleted before them (a draining service still needs the route),
		// without each consumer having to know.
		ids = append(ids, pulumi.OutputWithDependencies(ctx.Context(), sn.ID().ToStringOutput(), igw, rt, assoc).(pulumi.StringOutput))
	}
	c.VpcID = vpc.ID().ToStringOutput()
	c.SubnetIDs = ids.ToStringArrayOutput()
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"vpcId": c.VpcID, "subnetIds": c.SubnetIDs})
}

// SubnetCIDRs splits a VPC block into n consecutive subnets 8 bits longer (a /16
// gives /24s), capped at /28, the smallest subnet AWS allows.
func SubnetCIDRs(vpc string, n int) ([]string, error) {
	p, err := netip.ParsePrefix(vpc)
	if err != nil {
		return nil, fmt.Errorf("vpc cidr %q: %w", vpc, err)
	}
	if !p.Addr().Is4() {
		return nil, fmt.Errorf("vpc cidr %q: not IPv4", vpc)
	}
	if p.Bits() < 16 || p.Bits() > 28 {
		return nil, fmt.Errorf("vpc cidr %q: prefix length must be /16 to /28", vpc)
	}
	bits := min(p.Bits()+8, 28)
	size := uint32(1) << (32 - bits)
	if uint64(n)*uint64(size) > uint64(1)<<(32-p.Bits()) {
		return nil, fmt.Errorf("vpc cidr %q: too small for %d subnets", vpc, n)
	}
	base := p.Masked().Addr().As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	out := make([]string, n)
	for i := range n {
		a := start + uint32(i)*size
		addr := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
		out[i] = netip.PrefixFrom(addr, bits).String()
	}
	return out, nil
}
