package awsfake

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// ELB models Elastic Load Balancing v2 (awsQuery): target groups found by name or
// ARN with their targets' health, which a test sets (healthy, initial, unhealthy
// with a reason such as Target.FailedHealthChecks, draining), and load balancers
// that exist or not.
type ELB struct {
	mu            sync.Mutex
	groups        []*TargetGroup
	loadBalancers map[string]bool // ARN → exists
}

// TargetGroup is a target group as the fake holds it.
type TargetGroup struct {
	Name    string
	ARN     string // made up from the name when empty
	Targets []Target
}

// Target is a registered target and its health.
type Target struct {
	ID          string // instance id
	Port        int
	State       string // initial, healthy, unhealthy, unused, draining, unavailable
	Reason      string // e.g. Target.FailedHealthChecks, Elb.RegistrationInProgress
	Description string
}

// NewELB returns a model with no target groups.
func NewELB() *ELB { return &ELB{loadBalancers: map[string]bool{}} }

// Install registers the model with s (ELBv2 signs as "elasticloadbalancing").
func (e *ELB) Install(s *Server) { s.Handle("elasticloadbalancing", e) }

// SetTargetGroup adds or replaces (by name) a target group and returns its ARN.
func (e *ELB) SetTargetGroup(g TargetGroup) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g.ARN == "" {
		g.ARN = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/0123456789abcdef", Region, FakeAccount, g.Name)
	}
	for i, old := range e.groups {
		if old.Name == g.Name {
			e.groups[i] = &g
			return g.ARN
		}
	}
	e.groups = append(e.groups, &g)
	return g.ARN
}

// SetTargets replaces a target group's targets; it reports whether the group exists.
func (e *ELB) SetTargets(name string, targets ...Target) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, g := range e.groups {
		if g.Name == name {
			g.Targets = targets
			return true
		}
	}
	return false
}

// DeleteTargetGroup removes a target group.
func (e *ELB) DeleteTargetGroup(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, g := range e.groups {
		if g.Name == name {
			e.groups = append(e.groups[:i], e.groups[i+1:]...)
			return
		}
	}
}

// SetLoadBalancer makes a load balancer ARN exist or not.
func (e *ELB) SetLoadBalancer(arn string, exists bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.loadBalancers[arn] = exists
}

func (e *ELB) group(nameOrARN string) *TargetGroup {
	for _, g := range e.groups {
		if g.Name == nameOrARN || g.ARN == nameOrARN {
			return g
		}
	}
	return nil
}

type targetGroupXML struct {
	ARN      string `xml:"TargetGroupArn"`
	Name     string `xml:"TargetGroupName"`
	Protocol string `xml:"Protocol"`
	Type     string `xml:"TargetType"`
}

type targetHealthXML struct {
	ID              string `xml:"Target>Id"`
	Port            int    `xml:"Target>Port"`
	HealthCheckPort string `xml:"HealthCheckPort"`
	State           string `xml:"TargetHealth>State"`
	Reason          string `xml:"TargetHealth>Reason,omitempty"`
	Description     string `xml:"TargetHealth>Description,omitempty"`
}

// ServeHTTP answers DescribeTargetGroups (Names or TargetGroupArns; any unknown
// one is TargetGroupNotFound, as in AWS), DescribeTargetHealth and
// DescribeLoadBalancers (LoadBalancerArns; LoadBalancerNotFound).
func (e *ELB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallFrom(r)
	e.mu.Lock()
	defer e.mu.Unlock()
	switch c.Operation {
	case "DescribeTargetGroups":
		type result struct {
			XMLName xml.Name         `xml:"DescribeTargetGroupsResult"`
			Groups  []targetGroupXML `xml:"TargetGroups>member"`
		}
		var out result
		for _, key := range append(queryMembers(c.Form, "Names"), queryMembers(c.Form, "TargetGroupArns")...) {
			g := e.group(key)
			if g == nil {
				QueryError(w, http.StatusBadRequest, "TargetGroupNotFound", fmt.Sprintf("One or more target groups not found: '%s'", key))
				return
			}
			out.Groups = append(out.Groups, targetGroupXML{ARN: g.ARN, Name: g.Name, Protocol: "HTTP", Type: "instance"})
		}
		WriteQuery(w, c.Operation, out)
	case "DescribeTargetHealth":
		type result struct {
			XMLName xml.Name          `xml:"DescribeTargetHealthResult"`
			Targets []targetHealthXML `xml:"TargetHealthDescriptions>member"`
		}
		g := e.group(c.Form.Get("TargetGroupArn"))
		if g == nil || g.ARN != c.Form.Get("TargetGroupArn") {
			QueryError(w, http.StatusBadRequest, "TargetGroupNotFound", fmt.Sprintf("Target groups '%s' not found", c.Form.Get("TargetGroupArn")))
			return
		}
		var out result
		for _, t := range g.Targets {
			out.Targets = append(out.Targets, targetHealthXML{ID: t.ID, Port: t.Port, HealthCheckPort: strconv.Itoa(t.Port),
				State: t.State, Reason: t.Reason, Description: t.Description})
		}
		WriteQuery(w, c.Operation, out)
	case "DescribeLoadBalancers":
		type lb struct {
			ARN   string `xml:"LoadBalancerArn"`
			State string `xml:"State>Code"`
		}
		type result struct {
			XMLName xml.Name `xml:"DescribeLoadBalancersResult"`
			LBs     []lb     `xml:"LoadBalancers>member"`
		}
		var out result
		for _, arn := range queryMembers(c.Form, "LoadBalancerArns") {
			if !e.loadBalancers[arn] {
				QueryError(w, http.StatusBadRequest, "LoadBalancerNotFound", fmt.Sprintf("Load balancers '[%s]' not found", arn))
				return
			}
			out.LBs = append(out.LBs, lb{ARN: arn, State: "active"})
		}
		WriteQuery(w, c.Operation, out)
	default:
		QueryError(w, http.StatusBadRequest, "InvalidAction", "awsfake: ELBv2 does not model "+c.Operation)
	}
}
