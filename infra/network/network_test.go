package network

import (
	"slices"
	"testing"
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
