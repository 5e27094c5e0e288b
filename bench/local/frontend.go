package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/servebench/servebench/bench/results"
)

// SampleSink receives time series points (a *results.Writer is one).
type SampleSink interface {
	Sample(results.Sample) error
}

// frontend is the listening half shared by both deployments: an HTTP server on a
// loopback port and a reverse proxy that forwards to the instance a request was
// given.
type frontend struct {
	srv   *http.Server
	url   string
	proxy *httputil.ReverseProxy
	done  chan struct{}
}

type (
	backendKey struct{}
	doneKey    struct{}
)

func startFrontend(log *slog.Logger, h http.Handler) (*frontend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	f := &frontend{url: "http://" + ln.Addr().String(), done: make(chan struct{})}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(r.In.Context().Value(backendKey{}).(*url.URL))
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		},
		// The instance is done when its answer has been read to the end, which is
		// before the client has all of it: a request sent right after the client
		// got its answer finds the instance free again, as on Lambda, where an
		// instance is free once its handler returns.
		ModifyResponse: func(resp *http.Response) error {
			if done, ok := resp.Request.Context().Value(doneKey{}).(func()); ok {
				resp.Body = &doneBody{ReadCloser: resp.Body, done: done}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Warn("local: instance did not answer", "path", r.URL.Path, "err", err)
			writeError(w, http.StatusBadGateway, "bad_gateway", "instance did not answer: "+err.Error())
		},
	}
	f.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(f.done)
		if err := f.srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("local: front end stopped", "err", err)
		}
	}()
	return f, nil
}

// forward proxies r to the instance p. done, if not nil, is called once when the
// instance has finished answering (its body read to the end, or the proxying
// failed), at the latest when forward returns.
func (f *frontend) forward(w http.ResponseWriter, r *http.Request, p *Process, done func()) {
	u, _ := url.Parse(p.URL)
	ctx := context.WithValue(r.Context(), backendKey{}, u)
	if done != nil {
		var once sync.Once
		d := func() { once.Do(done) }
		defer d()
		ctx = context.WithValue(ctx, doneKey{}, d)
	}
	f.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// doneBody calls done when the body has been read to its end or closed.
type doneBody struct {
	io.ReadCloser
	done func()
}

func (b *doneBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.done()
	}
	return n, err
}

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}

func (f *frontend) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
	<-f.done
}

// writeError answers with the service's error contract, so a refusal by the front
// door reads like one by the service.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// cpuMeter turns the CPU time of processes into percent of one core since the last
// measurement.
type cpuMeter struct {
	mu   sync.Mutex
	last map[*Process]cpuPoint
}

type cpuPoint struct {
	cpu time.Duration
	at  time.Time
}

// measure returns each live process's CPU percent since it was last measured (or
// since it started) and their average; processes seen before and now gone are
// forgotten.
func (m *cpuMeter) measure(procs []*Process) (avg float64, each map[*Process]float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		m.last = map[*Process]cpuPoint{}
	}
	now := time.Now()
	each = map[*Process]float64{}
	next := map[*Process]cpuPoint{}
	for _, p := range procs {
		cpu, err := p.CPUTime()
		if err != nil {
			continue // exited between listing and reading
		}
		prev, ok := m.last[p]
		if !ok {
			prev = cpuPoint{at: p.Started}
		}
		if wall := now.Sub(prev.at); wall > 0 {
			pct := 100 * float64(cpu-prev.cpu) / float64(wall)
			each[p] = pct
			avg += pct
		}
		next[p] = cpuPoint{cpu: cpu, at: now}
	}
	m.last = next
	if len(each) > 0 {
		avg /= float64(len(each))
	}
	return avg, each
}

// sampler records the instance count, average CPU per instance and total resident
// memory of a deployment every interval until stop is closed.
func sampler(name string, interval time.Duration, sink SampleSink, meter *cpuMeter, procs func() []*Process, onTick func(avgCPU float64, n int), stop <-chan struct{}) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			ps := procs()
			avg, _ := meter.measure(ps)
			if sink != nil {
				var rss int64
				for _, p := range ps {
					if n, err := p.RSS(); err == nil {
						rss += n
					}
				}
				_ = sink.Sample(results.Sample{Target: name, Metric: "instances", Time: now, Value: float64(len(ps))})
				_ = sink.Sample(results.Sample{Target: name, Metric: "cpu_percent", Time: now, Value: avg})
				_ = sink.Sample(results.Sample{Target: name, Metric: "memory_mb", Time: now, Value: float64(rss) / (1 << 20)})
			}
			if onTick != nil {
				onTick(avg, len(ps))
			}
		}
	}
}
