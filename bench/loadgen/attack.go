// Package loadgen sends HTTP load in the manner of vegeta's lib: an Attacker built
// with functional options fires requests on the schedule of a Pacer (open loop) and
// streams one Result per request on a channel the moment it completes — failures,
// timeouts and refusals included — so callers can write each to disk at once.
package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/servebench/servebench/bench/results"
)

// Target is one request to send. Record carries what the caller wants in the
// result's record (scenario, target name, function, group, image); the Attacker
// fills in what it measures.
type Target struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Timeout overrides the Attacker's per-request timeout when set (a function
	// with a longer deadline, such as a training call).
	Timeout time.Duration
	Record  results.Record
}

// A Targeter gives the request for hit n (0-based).
type Targeter func(n int) (Target, error)

// Attacker sends requests. Build it with NewAttacker; one Attacker can run several
// attacks, one after another or at once.
type Attacker struct {
	client      *http.Client
	timeout     time.Duration
	keepAlive   bool
	maxInFlight int
	maxBody     int64
}

// Option configures an Attacker.
type Option func(*Attacker)

// Timeout bounds each request, from when it is sent to the end of its body (default 60 s).
func Timeout(d time.Duration) Option { return func(a *Attacker) { a.timeout = d } }

// KeepAlive reuses connections when true; when false (the default, as in the YOLO
// study) every request opens its own connection.
func KeepAlive(on bool) Option { return func(a *Attacker) { a.keepAlive = on } }

// MaxInFlight bounds the requests outstanding at once (default 10000). A hit that
// finds the bound reached waits, and its wait counts in its latency, since latency
// is measured from the intended send time.
func MaxInFlight(n int) Option { return func(a *Attacker) { a.maxInFlight = n } }

// MaxBody bounds how much of each answer is read and kept for parsing (default 1 MiB;
// the rest is read and discarded, so timings cover the whole body).
func MaxBody(n int64) Option { return func(a *Attacker) { a.maxBody = n } }

// NewAttacker builds an Attacker with its own transport.
func NewAttacker(opts ...Option) *Attacker {
	a := &Attacker{timeout: 60 * time.Second, maxInFlight: 10000, maxBody: 1 << 20}
	for _, o := range opts {
		o(a)
	}
	tr := &http.Transport{
		Proxy:               nil, // load goes straight to the target, never through an environment proxy
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		DisableKeepAlives:   !a.keepAlive,
		MaxIdleConns:        a.maxInFlight,
		MaxIdleConnsPerHost: a.maxInFlight,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
	}
	a.client = &http.Client{
		Transport: tr,
		// A redirect is an answer worth recording as it is, not following.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return a
}

// Close releases idle connections.
func (a *Attacker) Close() { a.client.CloseIdleConnections() }

// Attack sends the requests tr describes on p's schedule and returns a channel of
// their results, closed when every request sent has completed. Cancelling ctx stops
// scheduling and cancels requests in flight; those still produce a Result (with
// the error), so every request sent is accounted for. The caller must drain the
// channel.
func (a *Attacker) Attack(ctx context.Context, tr Targeter, p Pacer) <-chan Result {
	out := make(chan Result, 256)
	go func() {
		defer close(out)
		var wg sync.WaitGroup
		sem := make(chan struct{}, a.maxInFlight)
		start := time.Now()
		for n := 0; ; n++ {
			at, ok := p.Pace(n)
			if !ok {
				break
			}
			intended := start.Add(at)
			if !sleepUntil(ctx, intended) {
				break
			}
			t, err := tr(n)
			if err != nil {
				out <- Result{Seq: n, Target: t, Intended: intended, Start: time.Now(), End: time.Now(), Err: fmt.Sprintf("build request: %v", err)}
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				out <- a.hit(ctx, n, t, intended)
			}()
		}
		wg.Wait()
	}()
	return out
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Do sends one request now and returns its result.
func (a *Attacker) Do(ctx context.Context, t Target) Result {
	return a.hit(ctx, 0, t, time.Now())
}

func (a *Attacker) hit(ctx context.Context, seq int, t Target, intended time.Time) Result {
	res := Result{Seq: seq, Target: t, Intended: intended}
	timeout := a.timeout
	if t.Timeout > 0 {
		timeout = t.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	method := t.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if t.Body != nil {
		body = bytes.NewReader(t.Body)
	}
	// The transport calls these hooks from its own goroutines (dial, write, read).
	var (
		mu                                   sync.Mutex
		ph                                   Phases
		dnsStart, connStart, wrote, tlsStart time.Time
	)
	at := func(f func(now time.Time)) {
		now := time.Now()
		mu.Lock()
		f(now)
		mu.Unlock()
	}
	trace := &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { at(func(t time.Time) { dnsStart = t }) },
		DNSDone:           func(httptrace.DNSDoneInfo) { at(func(t time.Time) { ph.DNS = t.Sub(dnsStart) }) },
		ConnectStart:      func(string, string) { at(func(t time.Time) { connStart = t }) },
		ConnectDone:       func(string, string, error) { at(func(t time.Time) { ph.Connect = t.Sub(connStart) }) },
		TLSHandshakeStart: func() { at(func(t time.Time) { tlsStart = t }) },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { at(func(t time.Time) { ph.TLS = t.Sub(tlsStart) }) },
		GotConn:           func(i httptrace.GotConnInfo) { at(func(time.Time) { ph.Reused = i.Reused }) },
		WroteRequest:      func(httptrace.WroteRequestInfo) { at(func(t time.Time) { wrote = t }) },
		GotFirstResponseByte: func() {
			at(func(t time.Time) {
				if !wrote.IsZero() {
					ph.Wait = t.Sub(wrote)
				}
			})
		},
	}
	phases := func() Phases {
		mu.Lock()
		defer mu.Unlock()
		p := ph
		if !wrote.IsZero() && !res.End.IsZero() {
			p.Read = res.End.Sub(wrote) - p.Wait
		}
		return p
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, t.URL, body)
	if err != nil {
		res.Start, res.End = time.Now(), time.Now()
		res.Err = fmt.Sprintf("build request: %v", err)
		return res
	}
	for k, vs := range t.Header {
		req.Header[k] = vs
	}
	if t.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}

	res.Start = time.Now()
	resp, err := a.client.Do(req)
	if err != nil {
		res.End = time.Now()
		res.Err = classify(ctx, err)
		res.Phases = phases()
		return res
	}
	buf, rerr := io.ReadAll(io.LimitReader(resp.Body, a.maxBody))
	if rerr == nil {
		_, rerr = io.Copy(io.Discard, resp.Body)
	}
	_ = resp.Body.Close()
	res.End = time.Now()
	res.Phases = phases()
	res.Status = resp.StatusCode
	res.Body = buf
	parseAnswer(&res, resp.Header, buf)
	if rerr != nil {
		res.Err = "read body: " + classify(ctx, rerr)
	}
	return res
}

// classify names why a request failed, so a report can count timeouts and refusals.
func classify(ctx context.Context, err error) string {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(ctx.Err(), context.Canceled):
		return "canceled"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return "connect: " + op.Err.Error()
	}
	return err.Error()
}
