package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/servebench/servebench/study"
)

// ServerfulConfig holds the serverful deployment's settings; zero fields take the
// defaults (WithDefaults): the original study's ECS scaling, from package study.
type ServerfulConfig struct {
	Min, Max    int           // instances (study.MinInstances, study.MaxInstances)
	ScaleOutCPU float64       // average CPU percent of one core per instance that adds one (study.CPUTargetPercent)
	ScaleInIdle time.Duration // no request for this long removes the extra instances (study.ScaleInCooldownSeconds)
	Interval    time.Duration // how often CPU is measured and the scaling rule evaluated (default 2 s)
	// WarmUp is sent to every new instance before it joins the rotation, as a load
	// balancer's health check and a deployment's warm-up would; nil sends none.
	WarmUp func(ctx context.Context, instanceURL string) error
}

// DefaultScaleInterval is how often the local autoscaler measures CPU and
// applies its rule when ServerfulConfig.Interval is not set.
const DefaultScaleInterval = 2 * time.Second

// WithDefaults returns c with its zero fields set: the study's ECS scaling
// (package study: its instance range, one more above its CPU target, back to the
// minimum after its scale-in cooldown idle) and DefaultScaleInterval.
func (c ServerfulConfig) WithDefaults() ServerfulConfig {
	if c.Min == 0 {
		c.Min = study.MinInstances
	}
	if c.Max == 0 {
		c.Max = study.MaxInstances
	}
	if c.ScaleOutCPU == 0 {
		c.ScaleOutCPU = study.CPUTargetPercent
	}
	if c.ScaleInIdle == 0 {
		c.ScaleInIdle = study.ScaleInCooldownSeconds * time.Second
	}
	if c.Interval == 0 {
		c.Interval = DefaultScaleInterval
	}
	return c
}

func (c ServerfulConfig) check() error {
	switch {
	case c.Min < 1:
		return fmt.Errorf("serverful: min instances %d: must be at least 1", c.Min)
	case c.Max < c.Min:
		return fmt.Errorf("serverful: max instances %d: must be at least min (%d)", c.Max, c.Min)
	case c.ScaleOutCPU <= 0:
		return fmt.Errorf("serverful: scale-out CPU %g %%: must be above 0", c.ScaleOutCPU)
	}
	return nil
}

// Serverful is long-running instances behind a round-robin proxy with a CPU
// autoscaler: the local stand-in for ECS behind an ALB.
type Serverful struct {
	name string
	l    *Launcher
	cfg  ServerfulConfig
	log  *slog.Logger
	fe   *frontend
	env  []string // added to every instance's environment

	mu       sync.Mutex
	members  []*Process // ready and in rotation
	starting bool       // a scale-out is under way
	gen      int        // bumped by ForceCold: a scale-out begun before it is discarded
	rr       atomic.Uint64
	inflight atomic.Int64
	lastDone atomic.Int64 // unix nanos of the last request's end

	meter cpuMeter
	stop  chan struct{}
	wg    sync.WaitGroup
}

// StartServerful launches Min instances, warms them, and starts the proxy and the
// autoscaler. Samples of instance count and CPU go to sink (may be nil).
func StartServerful(ctx context.Context, log *slog.Logger, name string, l *Launcher, cfg ServerfulConfig, sink SampleSink) (*Serverful, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Serverful{name: name, l: l, cfg: cfg, log: log, stop: make(chan struct{})}
	s.lastDone.Store(time.Now().UnixNano())
	// The proxy listens first (answering 503 until instances join) so that the
	// instances can be told their public URL.
	fe, err := startFrontend(log, http.HandlerFunc(s.serve))
	if err != nil {
		return nil, fmt.Errorf("serverful proxy: %w", err)
	}
	s.fe = fe
	s.env = append([]string{"SERVEBENCH_PRELOAD=true"}, l.deploymentEnv(name, fe.url)...)
	if err := s.fill(ctx, true); err != nil {
		s.Close()
		return nil, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sampler(name, cfg.Interval, sink, &s.meter, s.Instances, s.autoscale, s.stop)
	}()
	log.Info("local: serverful ready", "url", fe.url, "instances", cfg.Min, "max", cfg.Max, "scale_out_cpu", cfg.ScaleOutCPU, "scale_in_idle", cfg.ScaleInIdle)
	return s, nil
}

// fill launches instances up to Min, in parallel; warm sends each the warm-up first.
func (s *Serverful) fill(ctx context.Context, warm bool) error {
	s.mu.Lock()
	need := s.cfg.Min - len(s.members)
	s.mu.Unlock()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range need {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := s.launch(ctx, warm)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			s.mu.Lock()
			s.members = append(s.members, p)
			s.mu.Unlock()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Serverful) launch(ctx context.Context, warm bool) (*Process, error) {
	p, err := s.l.Launch(ctx, s.name, s.env...)
	if err != nil {
		return nil, err
	}
	if warm && s.cfg.WarmUp != nil {
		if err := s.cfg.WarmUp(ctx, p.URL); err != nil {
			p.Stop()
			return nil, fmt.Errorf("warm up %s: %w%s", p.Name, err, logTail(p.Log))
		}
	}
	return p, nil
}

func (s *Serverful) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var p *Process
	if n := len(s.members); n > 0 {
		p = s.members[int(s.rr.Add(1)-1)%n]
	}
	s.mu.Unlock()
	if p == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "no instance in service")
		return
	}
	s.inflight.Add(1)
	defer func() {
		s.lastDone.Store(time.Now().UnixNano())
		s.inflight.Add(-1)
	}()
	s.fe.forward(w, r, p, nil)
}

// autoscale runs on every sample: one instance more when the average CPU passes
// the threshold (one scale-out at a time), back to Min after ScaleInIdle without
// requests.
func (s *Serverful) autoscale(avgCPU float64, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if avgCPU > s.cfg.ScaleOutCPU && len(s.members) < s.cfg.Max && !s.starting {
		s.starting = true
		gen := s.gen
		s.log.Info("local: serverful scaling out", "cpu_percent", fmt.Sprintf("%.0f", avgCPU), "instances", len(s.members)+1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				select {
				case <-s.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			p, err := s.launch(ctx, true)
			s.mu.Lock()
			defer s.mu.Unlock()
			s.starting = false
			if err != nil {
				s.log.Warn("local: serverful scale-out failed", "err", err)
				return
			}
			select {
			case <-s.stop:
				go p.Stop()
			default:
				if gen != s.gen || len(s.members) >= s.cfg.Max {
					go p.Stop() // forced cold meanwhile, or already at the maximum
					return
				}
				s.members = append(s.members, p)
			}
		}()
		return
	}
	idle := time.Since(time.Unix(0, s.lastDone.Load()))
	if len(s.members) > s.cfg.Min && s.inflight.Load() == 0 && idle >= s.cfg.ScaleInIdle {
		extra := s.members[s.cfg.Min:]
		s.members = s.members[:s.cfg.Min:s.cfg.Min]
		s.log.Info("local: serverful scaling in", "idle", idle.Round(time.Second), "instances", s.cfg.Min)
		go func() {
			for _, p := range extra {
				p.Stop()
			}
		}()
	}
}

// HoldScaling implements scenario.ScalingHold, as suspending an ECS service's
// dynamic scaling does: back to the minimum size (the extra instances stopped),
// and no scaling until resume, by pinning Max to Min meanwhile. Call it with no
// request in flight.
func (s *Serverful) HoldScaling(context.Context) (int, func(context.Context) error, error) {
	s.mu.Lock()
	maxInstances := s.cfg.Max
	s.cfg.Max = s.cfg.Min
	var extra []*Process
	if len(s.members) > s.cfg.Min {
		extra = s.members[s.cfg.Min:]
		s.members = s.members[:s.cfg.Min:s.cfg.Min]
	}
	n := len(s.members)
	s.mu.Unlock()
	for _, p := range extra {
		p.Stop()
	}
	s.log.Info("local: serverful scaling held", "instances", n)
	return n, func(context.Context) error {
		s.mu.Lock()
		s.cfg.Max = maxInstances
		s.mu.Unlock()
		s.log.Info("local: serverful scaling resumed", "max", maxInstances)
		return nil
	}, nil
}

// URL is the proxy's base URL.
func (s *Serverful) URL() string { return s.fe.url }

// Name is the deployment's name in results.
func (s *Serverful) Name() string { return s.name }

// Instances lists the instances in rotation.
func (s *Serverful) Instances() []*Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Process(nil), s.members...)
}

// ForceCold replaces every instance with a fresh process that has served nothing,
// so the next request on each is cold (as a new deployment would be). Call it with
// no request in flight.
func (s *Serverful) ForceCold(ctx context.Context) error {
	s.mu.Lock()
	old := s.members
	s.members = nil
	s.gen++
	s.mu.Unlock()
	for _, p := range old {
		p.Stop()
	}
	return s.fill(ctx, false)
}

// Close stops the proxy, the autoscaler and every instance.
func (s *Serverful) Close() {
	select {
	case <-s.stop:
		return
	default:
		close(s.stop)
	}
	if s.fe != nil {
		s.fe.close()
	}
	s.wg.Wait()
	s.mu.Lock()
	old := s.members
	s.members = nil
	s.mu.Unlock()
	for _, p := range old {
		p.Stop()
	}
}

// PredictWarmUp returns a warm-up that asks the instance to detect objects in image
// (an input-bucket key such as "images/dog.jpg") and expects a 200.
func PredictWarmUp(image string) func(context.Context, string) error {
	return func(ctx context.Context, base string) error {
		body := strings.NewReader(fmt.Sprintf(`{"filename":%q}`, image))
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/predict", body)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("predict %s: %s: %s", image, resp.Status, b)
		}
		return nil
	}
}
