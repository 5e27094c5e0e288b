package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/results"
)

// server answers like the service: it sleeps ?delay=, then replies with the
// "server" object (cold on its first request) and timings_ms. It counts requests
// and new connections.
type server struct {
	*httptest.Server
	requests atomic.Int64
	conns    atomic.Int64
	served   atomic.Bool
}

func newServer(t *testing.T) *server {
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		d, _ := time.ParseDuration(r.URL.Query().Get("delay"))
		if code := r.URL.Query().Get("status"); code == "429" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"code":"too_many_requests","message":"no instance free"}}`)
			return
		}
		var req struct{ Filename string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		if r.URL.Query().Get("header") != "" {
			w.Header().Set("Server-Timing", "download;dur=1.5, inference;dur=20, total;dur=25.25")
			fmt.Fprint(w, `{"ok":true}`)
			return
		}
		cold := !s.served.Swap(true)
		fmt.Fprintf(w, `{"filename":%q,"server":{"cold":%t,"instance":"test-1","platform":"local","memory_mb":3000},"timings_ms":{"inference":%d,"total":%d}}`,
			req.Filename, cold, d.Milliseconds(), d.Milliseconds())
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func collect(ch <-chan Result) []Result {
	var out []Result
	for r := range ch {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func post(url string) Targeter {
	return func(n int) (Target, error) {
		img := fmt.Sprintf("images/%d.jpg", n%3)
		return Target{Method: http.MethodPost, URL: url, Body: []byte(fmt.Sprintf(`{"filename":%q}`, img)),
			Record: results.Record{Scenario: "test", Image: img}}, nil
	}
}

// Tolerance for timing asserts: scheduling on a loaded 2-core machine (other
// packages' tests run alongside) adds delay, never removes it, so lower bounds are
// tight and upper bounds generous.
const slack = time.Second

func TestBurstAllAtOnceNoKeepAlive(t *testing.T) {
	s := newServer(t)
	a := NewAttacker()
	defer a.Close()
	const n, delay = 10, 100 * time.Millisecond
	rs := collect(a.Attack(context.Background(), post(s.URL+"/predict?delay=100ms"), Burst(n)))
	if len(rs) != n {
		t.Fatalf("%d results, want %d", len(rs), n)
	}
	colds := 0
	for i, r := range rs {
		if !r.OK() || r.Status != 200 {
			t.Fatalf("result %d: status %d err %q", i, r.Status, r.Err)
		}
		if r.Seq != i {
			t.Errorf("seq %d at %d", r.Seq, i)
		}
		if !r.Intended.Equal(rs[0].Intended) {
			t.Errorf("request %d intended %v after the first: a burst is all due at once", i, r.Intended.Sub(rs[0].Intended))
		}
		if l := r.Latency(); l < delay || l > delay+slack {
			t.Errorf("request %d latency %v, want %v..%v", i, l, delay, delay+slack)
		}
		if r.Phases.Reused {
			t.Errorf("request %d reused a connection with keep-alive off", i)
		}
		if r.Instance != "test-1" || r.Platform != "local" || r.MemoryMB != 3000 || r.Record().MemoryMB != 3000 || r.TimingsMS["inference"] != 100 {
			t.Errorf("request %d: answer not parsed: %+v", i, r)
		}
		var body struct{ Filename string }
		if err := json.Unmarshal(r.Body, &body); err != nil || body.Filename != r.Target.Record.Image {
			t.Errorf("request %d: server saw %q, sent %q", i, body.Filename, r.Target.Record.Image)
		}
		if *r.Cold {
			colds++
		}
	}
	if colds != 1 {
		t.Errorf("%d cold answers, the server gave exactly 1", colds)
	}
	if got := s.conns.Load(); got != n {
		t.Errorf("server saw %d connections for %d requests; keep-alive off means one each", got, n)
	}
}

func TestKeepAliveReusesConnections(t *testing.T) {
	s := newServer(t)
	a := NewAttacker(KeepAlive(true), MaxInFlight(1))
	defer a.Close()
	rs := collect(a.Attack(context.Background(), post(s.URL+"/predict"), Burst(5)))
	if len(rs) != 5 {
		t.Fatalf("%d results", len(rs))
	}
	if got := s.conns.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1 with keep-alive and one in flight", got)
	}
	if !rs[4].Phases.Reused {
		t.Error("last request did not reuse the connection")
	}
}

func TestConstantRateSchedule(t *testing.T) {
	s := newServer(t)
	a := NewAttacker()
	defer a.Close()
	p := Constant{Rate: 50, Duration: 400 * time.Millisecond}
	rs := collect(a.Attack(context.Background(), post(s.URL+"/predict?delay=10ms"), p))
	if len(rs) != 20 || p.Hits() != 20 {
		t.Fatalf("%d results, Hits() = %d, want 20", len(rs), p.Hits())
	}
	for i, r := range rs {
		if got := r.Intended.Sub(rs[0].Intended); got != time.Duration(i)*20*time.Millisecond {
			t.Errorf("request %d intended at +%v, want +%v", i, got, time.Duration(i)*20*time.Millisecond)
		}
		if lag := r.Start.Sub(r.Intended); lag < 0 || lag > slack {
			t.Errorf("request %d sent %v after its intended time", i, lag)
		}
		if l := r.Latency(); l < 10*time.Millisecond || l > 10*time.Millisecond+slack {
			t.Errorf("request %d latency %v", i, l)
		}
	}
	if got := s.requests.Load(); got != 20 {
		t.Errorf("server saw %d requests", got)
	}
}

// With one request allowed in flight and a server slower than the arrival rate,
// requests queue; their latency must include the queueing (no coordinated omission).
func TestLatencyCountsFromIntendedTime(t *testing.T) {
	s := newServer(t)
	a := NewAttacker(MaxInFlight(1), KeepAlive(true))
	defer a.Close()
	const delay, gap = 100 * time.Millisecond, 50 * time.Millisecond
	rs := collect(a.Attack(context.Background(), post(s.URL+"/predict?delay=100ms"), Constant{Rate: 20, Duration: 250 * time.Millisecond}))
	if len(rs) != 5 {
		t.Fatalf("%d results, want 5", len(rs))
	}
	for k, r := range rs {
		// Request k can only start once k earlier ones finished: at >= k*delay.
		want := delay + time.Duration(k)*(delay-gap)
		if l := r.Latency(); l < want || l > want+slack {
			t.Errorf("request %d latency %v, want %v..%v (service time alone is %v)", k, l, want, want+slack, r.End.Sub(r.Start))
		}
	}
}

func TestFailuresAreResults(t *testing.T) {
	s := newServer(t)
	a := NewAttacker(Timeout(100 * time.Millisecond))
	defer a.Close()
	ctx := context.Background()

	r := a.Do(ctx, Target{Method: http.MethodPost, URL: s.URL + "/predict?delay=2s", Body: []byte(`{}`)})
	if r.Err != "timeout" || r.Status != 0 {
		t.Errorf("slow answer: err %q status %d, want timeout", r.Err, r.Status)
	}
	if l := r.Latency(); l < 100*time.Millisecond || l > 100*time.Millisecond+slack {
		t.Errorf("timeout after %v, want 100ms", l)
	}

	// A target's own timeout overrides the attacker's.
	r = a.Do(ctx, Target{Method: http.MethodPost, URL: s.URL + "/predict?delay=200ms", Body: []byte(`{}`), Timeout: 2 * time.Second})
	if !r.OK() || r.Latency() < 200*time.Millisecond {
		t.Errorf("longer per-target timeout: err %q after %v", r.Err, r.Latency())
	}

	r = a.Do(ctx, Target{Method: http.MethodPost, URL: s.URL + "/predict?status=429", Body: []byte(`{}`)})
	if r.Status != 429 || r.Err != "too_many_requests" || r.OK() {
		t.Errorf("refusal: status %d err %q", r.Status, r.Err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	r = a.Do(ctx, Target{URL: "http://" + addr + "/healthz"})
	if !strings.HasPrefix(r.Err, "connect:") || r.Status != 0 {
		t.Errorf("refused connection: err %q status %d", r.Err, r.Status)
	}
	if rec := r.Record(); rec.OK() || rec.Error != r.Err {
		t.Errorf("record of a failure: %+v", rec)
	}
}

func TestCancelAccountsForEveryRequestSent(t *testing.T) {
	s := newServer(t)
	a := NewAttacker()
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	ch := a.Attack(ctx, post(s.URL+"/predict?delay=1s"), Constant{Rate: 100, Duration: 10 * time.Second})
	time.AfterFunc(150*time.Millisecond, func() { once.Do(cancel) })
	rs := collect(ch)
	if len(rs) == 0 || len(rs) > 100 {
		t.Fatalf("%d results after cancelling at 150ms", len(rs))
	}
	for _, r := range rs {
		if r.Err != "canceled" {
			t.Errorf("request %d: err %q, want canceled (all were in flight)", r.Seq, r.Err)
		}
	}
	if got := s.requests.Load(); got > int64(len(rs)) {
		t.Errorf("server saw %d requests, only %d results", got, len(rs))
	}
}

func TestServerTimingFallbackAndRecord(t *testing.T) {
	s := newServer(t)
	a := NewAttacker()
	defer a.Close()
	start := time.Now()
	r := a.Do(context.Background(), Target{URL: s.URL + "/?header=1", Record: results.Record{Scenario: "rate", Target: "serverful", Group: "10/s", Batch: 2}})
	if r.TimingsMS["inference"] != 20 || r.TimingsMS["download"] != 1.5 {
		t.Fatalf("Server-Timing not parsed: %v", r.TimingsMS)
	}
	rec := r.Record()
	if rec.Scenario != "rate" || rec.Target != "serverful" || rec.Group != "10/s" || rec.Batch != 2 {
		t.Errorf("record lost the target's fields: %+v", rec)
	}
	if rec.ServerMS != 25.25 || rec.Status != 200 || !rec.OK() || rec.Cold != nil {
		t.Errorf("record: %+v", rec)
	}
	if rec.Intended.Before(start) || rec.ClientMS <= 0 || rec.ClientMS > float64(time.Since(start).Milliseconds())+1 {
		t.Errorf("record times: intended %v client %vms", rec.Intended, rec.ClientMS)
	}
}

func TestParseServerTiming(t *testing.T) {
	got := ParseServerTiming(`cache;desc="hit", db;dur=53, app;dur="47.2";desc=x`)
	if len(got) != 2 || got["db"] != 53 || got["app"] != 47.2 {
		t.Errorf("got %v", got)
	}
	if ParseServerTiming("") != nil || ParseServerTiming("miss") != nil {
		t.Error("no durations should give nil")
	}
}
