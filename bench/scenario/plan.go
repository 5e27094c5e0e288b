package scenario

import (
	"context"
	"fmt"
	"strings"
)

// Plan is a run: every scenario against every target, scenario by scenario (so the
// targets are measured under the same conditions, close in time), targets one at a
// time (so they never compete for the load generator or, locally, the CPU).
type Plan struct {
	Scenarios []Scenario
	Targets   []Target
}

// Planned is the number of requests the plan sends at most.
func (p Plan) Planned() int {
	n := 0
	for _, s := range p.Scenarios {
		for _, t := range p.Targets {
			n += s.Planned(t)
		}
	}
	return n
}

// Run runs the plan with r and returns a summary per scenario and target, as far as
// it got; it stops at the first error (including a cancelled ctx).
func (p Plan) Run(ctx context.Context, r *Runner) ([]Summary, error) {
	var out []Summary
	for _, s := range p.Scenarios {
		for _, t := range p.Targets {
			sum, err := s.Run(ctx, r, t)
			out = append(out, sum)
			if err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// Names lists the scenarios' names.
func (p Plan) Names() []string {
	var ns []string
	for _, s := range p.Scenarios {
		ns = append(ns, s.Name())
	}
	return ns
}

// Text renders summaries for the terminal.
func Text(sums []Summary) string {
	var b strings.Builder
	for _, s := range sums {
		fmt.Fprintf(&b, "%s — %s\n", s.Scenario, s.Target)
		for _, l := range s.Lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return b.String()
}
