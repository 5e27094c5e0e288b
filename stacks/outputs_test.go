package stacks_test

import (
	"fmt"
	"testing"
)

// The outputs `servebench cloud` turns into each target's deployment record say
// what the resources were given: the fleet's instance type and size, the task
// size, the function's memory and architecture — with defaults and with values
// set in the stack's configuration.
func TestCloudDeploymentOutputs(t *testing.T) {
	for _, cfg := range []map[string]string{nil, {
		"servebench:instanceType": "t3.xlarge", "servebench:minSize": "2", "servebench:maxSize": "3",
		"servebench:taskCpu": "2048", "servebench:taskMemoryMb": "4096",
	}} {
		d := mustRun(t, "serverful", cfg)
		asg := d.One(t, "aws:autoscaling/group:Group").Inputs
		lt := d.One(t, "aws:ec2/launchTemplate:LaunchTemplate").Inputs
		td := d.One(t, "aws:ecs/taskDefinition:TaskDefinition").Inputs
		if d.outputs["instanceType"] != lt["instanceType"] || d.outputs["instanceType"] == nil {
			t.Errorf("config %v: output instanceType = %v, launch template %v", cfg, d.outputs["instanceType"], lt["instanceType"])
		}
		for k, v := range map[string]any{"minSize": asg["minSize"], "maxSize": asg["maxSize"], "taskCpu": td["cpu"], "taskMemoryMb": td["memory"]} {
			if got, want := number(t, d.outputs[k]), number(t, v); got != want {
				t.Errorf("config %v: output %s = %v, want %v (the resource's)", cfg, k, got, want)
			}
		}
		if cfg != nil && (d.outputs["instanceType"] != "t3.xlarge" || number(t, d.outputs["maxSize"]) != 3) {
			t.Errorf("config %v: outputs %v do not follow it", cfg, d.outputs)
		}
	}
	for _, cfg := range []map[string]string{nil, {"servebench:lambdaMemoryMb": "2048"}} {
		d := mustRun(t, "serverless", cfg)
		fn := d.One(t, "aws:lambda/function:Function").Inputs
		archs, _ := fn["architectures"].([]any)
		if len(archs) != 1 {
			t.Fatalf("function architectures %v", fn["architectures"])
		}
		if number(t, d.outputs["lambdaMemoryMb"]) != number(t, fn["memorySize"]) || d.outputs["lambdaArchitecture"] != archs[0] {
			t.Errorf("config %v: outputs memory %v architecture %v, function %v %v", cfg, d.outputs["lambdaMemoryMb"], d.outputs["lambdaArchitecture"], fn["memorySize"], archs[0])
		}
		if want := map[bool]float64{true: 3000, false: 2048}[cfg == nil]; number(t, d.outputs["lambdaMemoryMb"]) != want {
			t.Errorf("config %v: lambdaMemoryMb %v, want %v", cfg, d.outputs["lambdaMemoryMb"], want)
		}
	}
}

// number reads a numeric input that the provider takes as a string ("4096").
func number(t *testing.T, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err != nil {
			t.Fatalf("%q is not a number", x)
		}
		return f
	}
	t.Fatalf("%v (%T) is not a number", v, v)
	return 0
}
