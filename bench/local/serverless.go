package local

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/servebench/servebench/bench/results"
)

// ServerlessConfig holds the serverless deployment's settings; zero fields take
// the defaults (WithDefaults).
type ServerlessConfig struct {
	MaxInstances int           // concurrent instances; beyond it requests get 429 (default 40)
	KeepAlive    time.Duration // an idle instance is stopped after this long (default 60 s)
	Interval     time.Duration // sampling period of instance count and CPU (default 1 s)
}

// The serverless stand-in's defaults: servebench's, not the studies' (on the
// platforms neither the instance limit nor the keep-alive is a deployment
// setting). 40 leaves room above the Eigenfaces study's burst of 30.
const (
	DefaultServerlessMax  = 40
	DefaultKeepAlive      = 60 * time.Second
	DefaultSampleInterval = time.Second
)

// WithDefaults returns c with its zero fields set to the defaults.
func (c ServerlessConfig) WithDefaults() ServerlessConfig {
	if c.MaxInstances == 0 {
		c.MaxInstances = DefaultServerlessMax
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.Interval == 0 {
		c.Interval = DefaultSampleInterval
	}
	return c
}

func (c ServerlessConfig) check() error {
	if c.MaxInstances < 1 {
		return fmt.Errorf("serverless: max instances %d: must be at least 1", c.MaxInstances)
	}
	if c.KeepAlive < 0 {
		return fmt.Errorf("serverless: keep-alive %s: must not be negative", c.KeepAlive)
	}
	return nil
}

// Serverless is a front door that gives each in-flight request its own instance,
// one request at a time per instance, as Lambda does: an idle instance if there is
// one (warm), else a newly started process (cold: process start, then the model
// read from the bucket and the session built on its first request), else 429 when
// MaxInstances are busy. Idle instances are reaped after KeepAlive.
//
// With a Launcher whose RIE is set (servebench local's), an instance is the
// Lambda bootstrap under its own emulator, and the front door is API Gateway: each
// request goes in as an HTTP API payload 2.0 event, the function's answer comes
// back as HTTP with the emulator's REPORT figures in results.PlatformHeader.
type Serverless struct {
	name string
	l    *Launcher
	cfg  ServerlessConfig
	log  *slog.Logger
	fe   *frontend
	env  []string // added to every instance's environment

	mu    sync.Mutex
	idle  []idleInstance // most recently used last
	busy  map[*Process]bool
	total int // idle + busy + starting

	meter cpuMeter
	ctx   context.Context // cancelled by Close; bounds instance starts
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

type idleInstance struct {
	p     *Process
	since time.Time
}

// StartServerless starts the front door with no instance running.
func StartServerless(log *slog.Logger, name string, l *Launcher, cfg ServerlessConfig, sink SampleSink) (*Serverless, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Serverless{name: name, l: l, cfg: cfg, log: log, busy: map[*Process]bool{}, ctx: ctx, stop: stop}
	fe, err := startFrontend(log, http.HandlerFunc(s.serve))
	if err != nil {
		stop()
		return nil, fmt.Errorf("serverless front door: %w", err)
	}
	s.fe = fe
	s.env = l.deploymentEnv(name, fe.url)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		sampler(name, cfg.Interval, sink, &s.meter, s.Instances, nil, ctx.Done())
	}()
	go func() {
		defer s.wg.Done()
		s.reap()
	}()
	log.Info("local: serverless ready", "url", fe.url, "max_instances", cfg.MaxInstances, "keep_alive", cfg.KeepAlive)
	return s, nil
}

func (s *Serverless) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		// The front door itself is up; instances are started on demand.
		w.WriteHeader(http.StatusOK)
		return
	}
	p, status, err := s.acquire()
	if err != nil {
		code := "unavailable"
		if status == http.StatusTooManyRequests {
			code = "too_many_requests"
		}
		writeError(w, status, code, err.Error())
		return
	}
	if s.l.RIE == "" {
		s.fe.forward(w, r, p, func() { s.release(p) })
		return
	}
	s.invoke(w, r, p)
}

// invoke hands r to the instance's function as API Gateway does and answers with
// the gateway's answer and the REPORT figures in results.PlatformHeader. The
// invocation does not end with the client, as on Lambda; the instance is free
// again once its REPORT is in, and is stopped when none comes (its invocation
// outran the gateway's limit and may still run).
func (s *Serverless) invoke(w http.ResponseWriter, r *http.Request, p *Process) {
	resp, rep, err := p.Invoke(context.WithoutCancel(r.Context()), r)
	if rep == nil {
		go func() {
			p.Stop()
			s.release(p)
		}()
	} else {
		s.release(p)
	}
	if resp == nil {
		s.log.Warn("local: serverless invoke failed", "instance", p.Name, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusBadGateway, "bad_gateway", err.Error())
		return
	}
	defer resp.Body.Close()
	if err != nil {
		s.log.Warn("local: serverless invoke without a REPORT; instance stopped", "instance", p.Name, "path", r.URL.Path, "err", err)
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	if rep != nil {
		w.Header().Set(results.PlatformHeader, rep.Header())
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// acquire takes the most recently used idle instance, or starts one.
func (s *Serverless) acquire() (*Process, int, error) {
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		p := s.idle[n-1].p
		s.idle = s.idle[:n-1]
		s.busy[p] = true
		s.mu.Unlock()
		return p, 0, nil
	}
	if s.total >= s.cfg.MaxInstances {
		s.mu.Unlock()
		return nil, http.StatusTooManyRequests, fmt.Errorf("all %d instances are busy", s.cfg.MaxInstances)
	}
	s.total++
	s.mu.Unlock()
	// The start is not tied to the request: a client that gives up does not abort
	// an instance half-way through its init, as on Lambda.
	p, err := s.l.Launch(s.ctx, s.name, s.env...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.total--
		s.log.Warn("local: serverless instance failed to start", "err", err)
		return nil, http.StatusServiceUnavailable, fmt.Errorf("instance failed to start: %w", err)
	}
	s.busy[p] = true
	return p, 0, nil
}

func (s *Serverless) release(p *Process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, p)
	if p.Exited() || s.ctx.Err() != nil {
		s.total--
		go p.Stop()
		return
	}
	s.idle = append(s.idle, idleInstance{p: p, since: time.Now()})
}

func (s *Serverless) reap() {
	t := time.NewTicker(s.cfg.KeepAlive/10 + 10*time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.stopIdle(time.Now().Add(-s.cfg.KeepAlive))
	}
}

// stopIdle stops the idle instances idle since before cutoff.
func (s *Serverless) stopIdle(cutoff time.Time) int {
	s.mu.Lock()
	var gone []*Process
	kept := s.idle[:0]
	for _, in := range s.idle {
		if in.since.Before(cutoff) {
			gone = append(gone, in.p)
		} else {
			kept = append(kept, in)
		}
	}
	s.idle = kept
	s.total -= len(gone)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range gone {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Stop()
		}()
	}
	wg.Wait()
	return len(gone)
}

// URL is the front door's base URL.
func (s *Serverless) URL() string { return s.fe.url }

// Name is the deployment's name in results.
func (s *Serverless) Name() string { return s.name }

// Instances lists the running instances, idle and busy.
func (s *Serverless) Instances() []*Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Process, 0, len(s.idle)+len(s.busy))
	for _, in := range s.idle {
		out = append(out, in.p)
	}
	for p := range s.busy {
		out = append(out, p)
	}
	return out
}

// ForceCold stops every idle instance, so the next requests all start new ones.
// Call it with no request in flight.
func (s *Serverless) ForceCold(context.Context) error {
	s.stopIdle(time.Now().Add(time.Hour))
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.busy) > 0 {
		return fmt.Errorf("serverless: %d instances still busy; cannot force a cold start", len(s.busy))
	}
	return nil
}

// Close stops the front door and every instance.
func (s *Serverless) Close() {
	if s.ctx.Err() != nil {
		return
	}
	s.stop()
	s.fe.close() // waits for requests in flight, which release their instances
	s.wg.Wait()
	s.stopIdle(time.Now().Add(time.Hour))
}
