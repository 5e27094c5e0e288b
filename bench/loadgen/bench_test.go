package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"
)

// BenchmarkAttackTrivial measures the load generator's own ceiling: as many GETs as
// it can send to a trivial endpoint, 50 in flight, with keep-alive on (as hey and
// wrk run by default) and off (as the YOLO study's client). It reports requests/s and the exact (sorted) p50/p99 of the time
// from send to end of body. SERVEBENCH_LOADGEN_URL points it at an endpoint outside
// the test process (loopback only), to compare with hey or wrk against the same
// server.
func BenchmarkAttackTrivial(b *testing.B) {
	target := os.Getenv("SERVEBENCH_LOADGEN_URL")
	if target == "" {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
		defer srv.Close()
		target = srv.URL
	} else if u, err := url.Parse(target); err != nil || !isLoopback(u.Hostname()) {
		b.Fatalf("SERVEBENCH_LOADGEN_URL=%q: must be a loopback http URL", target)
	}
	for _, ka := range []bool{true, false} {
		b.Run(fmt.Sprintf("keepalive=%t", ka), func(b *testing.B) { attackTrivial(b, target, ka) })
	}
}

func attackTrivial(b *testing.B, target string, keepAlive bool) {
	a := NewAttacker(KeepAlive(keepAlive), MaxInFlight(50), MaxBody(4096))
	defer a.Close()
	tr := func(int) (Target, error) { return Target{URL: target}, nil }
	lat := make([]time.Duration, 0, b.N)
	failed := 0
	b.ResetTimer()
	start := time.Now()
	for r := range a.Attack(context.Background(), tr, Burst(b.N)) {
		if !r.OK() {
			failed++
		}
		lat = append(lat, r.End.Sub(r.Start))
	}
	el := time.Since(start)
	b.StopTimer()
	if failed > 0 {
		b.Fatalf("%d of %d requests failed", failed, b.N)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/el.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
