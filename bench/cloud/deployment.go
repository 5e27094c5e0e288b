package cloud

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/stack"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// add makes the targets of a deployed stack from its outputs, as `run -stack`
// reads them (bench/stack): the stack's own endpoint, forced cold through its
// fleet (whose scaling rate holds) or function, and each Cloud Functions memory
// size, forced cold through its functions; each with its deployment record.
func (d *deployed) add(ctx context.Context, name string, out Outputs, clouds Clouds, gcp gcpTarget) error {
	raw, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("stack %s: outputs: %w", name, err)
	}
	eps, err := stack.Endpoints(name, raw)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		t := ep.Target()
		dep := results.Deployment{Stack: name, Endpoint: t.Endpoint()}
		if ep.Deployment != nil {
			dep = *ep.Deployment
		}
		switch {
		case ep.Name == name && name == "serverful":
			if d.fleet, err = clouds.Fleet(out); err != nil {
				return fmt.Errorf("stack %s: %w", name, err)
			}
			t.Cold, t.Scaling = d.fleet, d.fleet
		case ep.Name == name && name == "serverless":
			if d.fn, err = clouds.Function(out); err != nil {
				return fmt.Errorf("stack %s: %w", name, err)
			}
			t.Cold = d.fn
		case len(ep.FunctionNames) > 0:
			region := gcp.region
			if region == "" {
				region = dep.Region
			}
			if t.Cold, err = clouds.CloudFunctions(ctx, gcp.project, region, ep.FunctionNames); err != nil {
				return fmt.Errorf("stack %s: %s: %w", name, ep.Name, err)
			}
		}
		d.deployments[t.Name] = dep
		d.targets = append(d.targets, t)
	}
	return nil
}

// gcpOf is where the serverless stack's Cloud Functions run, from its stack file
// (no project: none).
func gcpOf(plans []stackPlan) gcpTarget {
	for _, p := range plans {
		if p.name == "serverless" {
			return gcpTarget{project: p.get(stackconfig.KeyGCPProject), region: p.get(stackconfig.KeyGCPRegion)}
		}
	}
	return gcpTarget{}
}

// sweepName is the target name of the Lambda function at one swept memory size.
func sweepName(stack string, mb int) string { return fmt.Sprintf("%s@%d", stack, mb) }
