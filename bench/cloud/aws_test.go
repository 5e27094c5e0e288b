package cloud

import (
	"context"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/cloud/awsfake"
)

// The serverful stack's fleet, as Run makes it from the stack's outputs on the
// real clients, holds the service's scaling through Application Auto Scaling.
func TestCloudFleetFromOutputsHoldsScaling(t *testing.T) {
	srv := awsfake.New(t)
	ecs, aas := awsfake.NewECS(), awsfake.NewApplicationAutoScaling()
	ecs.Install(srv)
	aas.Install(srv)
	ecs.AddService("c", "s", 2)
	aas.AddECSService("c", "s", 1, 5, awsfake.Suspended{})
	f, err := NewAWSClouds(srv.Config(), nil, time.Millisecond).Fleet(Outputs{
		"clusterName": "c", "serviceName": "s", "autoScalingGroupName": "g", "targetGroupName": "tg",
	})
	if err != nil {
		t.Fatal(err)
	}
	n, resume, err := f.HoldScaling(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := aas.Target("service/c/s"); n != 1 || st.Suspended != (awsfake.Suspended{DynamicIn: true, DynamicOut: true}) {
		t.Errorf("held with %d tasks, scalable target %+v; want 1, dynamic scaling suspended", n, st.Suspended)
	}
	if err := resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _ := aas.Target("service/c/s"); st.Suspended != (awsfake.Suspended{}) {
		t.Errorf("after resume: %+v", st.Suspended)
	}
}
