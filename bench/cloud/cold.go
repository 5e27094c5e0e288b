package cloud

import (
	"context"
	"sync"

	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/scenario"
)

// coldLabels relabels each target's first cold burst after deploy: that burst is
// not forced (the deploy made the target cold), and its records get the group
// results.GroupDeployCold instead of coldwarm's results.GroupCold: the first
// after a deploy meets empty image caches, a forced one does not.
type coldLabels struct {
	out scenario.Recorder
	mu  sync.Mutex
	// fresh: the target's current cold burst is the first after deploy.
	fresh map[string]bool
}

func newColdLabels(out scenario.Recorder) *coldLabels {
	return &coldLabels{out: out, fresh: map[string]bool{}}
}

// Record implements scenario.Recorder.
func (l *coldLabels) Record(r results.Record) error {
	l.mu.Lock()
	if r.Group == results.GroupCold && l.fresh[r.Target] {
		r.Group = results.GroupDeployCold
	}
	l.mu.Unlock()
	return l.out.Record(r)
}

// Capacity implements scenario.Recorder: capacities pass unchanged.
func (l *coldLabels) Capacity(c results.Capacity) error { return l.out.Capacity(c) }

// wrap returns the Coldable coldwarm calls for target: the first call forces
// nothing and marks the burst after it as the deploy's; later calls force.
func (l *coldLabels) wrap(target string, c scenario.Coldable) scenario.Coldable {
	return &firstCold{l: l, target: target, inner: c}
}

type firstCold struct {
	l      *coldLabels
	target string
	inner  scenario.Coldable
	mu     sync.Mutex
	used   bool
}

func (f *firstCold) ForceCold(ctx context.Context) error {
	f.mu.Lock()
	first := !f.used
	f.used = true
	f.mu.Unlock()
	f.l.mu.Lock()
	f.l.fresh[f.target] = first
	f.l.mu.Unlock()
	if first {
		return nil
	}
	return f.inner.ForceCold(ctx)
}

// memorySize is the sweep's Coldable for one size: setting a new size is an
// update, which makes the next requests cold; at the size the function already
// has, the update would be skipped, so the function is forced cold instead.
type memorySize struct {
	fn      Function
	mb      int
	current *int // the function's size now, shared by the sweep's steps
}

func (m *memorySize) ForceCold(ctx context.Context) error {
	if *m.current == m.mb {
		return m.fn.ForceCold(ctx)
	}
	if err := m.fn.SetMemory(ctx, m.mb); err != nil {
		return err
	}
	*m.current = m.mb
	return nil
}
