package awsfake

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sync"
)

// AutoScaling models Auto Scaling groups and their instances for
// DescribeAutoScalingGroups (awsQuery).
type AutoScaling struct {
	mu     sync.Mutex
	groups map[string]*ASGroup
}

// ASGroup is an Auto Scaling group as the fake holds it.
type ASGroup struct {
	Name              string
	Min, Max, Desired int
	Instances         []ASInstance
}

// ASInstance is one instance of a group.
type ASInstance struct {
	ID             string
	LifecycleState string // Pending, InService, Terminating, ...
	HealthStatus   string // Healthy, Unhealthy
}

// NewAutoScaling returns a model with no groups.
func NewAutoScaling() *AutoScaling { return &AutoScaling{groups: map[string]*ASGroup{}} }

// Install registers the model with s.
func (a *AutoScaling) Install(s *Server) { s.Handle("autoscaling", a) }

// SetGroup adds or replaces a group.
func (a *AutoScaling) SetGroup(g ASGroup) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.groups[g.Name] = &g
}

// DeleteGroup removes a group, as its deletion does.
func (a *AutoScaling) DeleteGroup(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.groups, name)
}

type asgInstanceXML struct {
	InstanceID       string `xml:"InstanceId"`
	LifecycleState   string `xml:"LifecycleState"`
	HealthStatus     string `xml:"HealthStatus"`
	AvailabilityZone string `xml:"AvailabilityZone"`
}

type asgXML struct {
	Name      string           `xml:"AutoScalingGroupName"`
	ARN       string           `xml:"AutoScalingGroupARN"`
	Min       int              `xml:"MinSize"`
	Max       int              `xml:"MaxSize"`
	Desired   int              `xml:"DesiredCapacity"`
	Instances []asgInstanceXML `xml:"Instances>member"`
}

// ServeHTTP answers DescribeAutoScalingGroups; with AutoScalingGroupNames it
// returns the named groups that exist (an unknown name is no error, as in AWS).
func (a *AutoScaling) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallFrom(r)
	if c.Operation != "DescribeAutoScalingGroups" {
		QueryError(w, http.StatusBadRequest, "InvalidAction", "awsfake: Auto Scaling does not model "+c.Operation)
		return
	}
	type result struct {
		XMLName xml.Name `xml:"DescribeAutoScalingGroupsResult"`
		Groups  []asgXML `xml:"AutoScalingGroups>member"`
	}
	var out result
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, name := range queryMembers(c.Form, "AutoScalingGroupNames") {
		g, ok := a.groups[name]
		if !ok {
			continue
		}
		x := asgXML{Name: g.Name, Min: g.Min, Max: g.Max, Desired: g.Desired,
			ARN: fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/%s", Region, FakeAccount, g.Name)}
		for _, i := range g.Instances {
			x.Instances = append(x.Instances, asgInstanceXML{InstanceID: i.ID, LifecycleState: i.LifecycleState,
				HealthStatus: i.HealthStatus, AvailabilityZone: Region + "a"})
		}
		out.Groups = append(out.Groups, x)
	}
	WriteQuery(w, c.Operation, out)
}

// queryMembers reads an awsQuery list parameter: Key.member.1, Key.member.2, ...
func queryMembers(form url.Values, key string) []string {
	var out []string
	for i := 1; form.Has(fmt.Sprintf("%s.member.%d", key, i)); i++ {
		out = append(out, form.Get(fmt.Sprintf("%s.member.%d", key, i)))
	}
	return out
}
