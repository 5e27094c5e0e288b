package loadgen

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/servebench/servebench/bench/results"
)

// Result is what one request did.
type Result struct {
	Seq      int    // hit index within its attack
	Target   Target // what was sent
	Intended time.Time
	Start    time.Time // when it was handed to the HTTP client
	End      time.Time // when the body was read, or the request failed
	Status   int       // 0 when there was no answer
	Err      string    // transport error, "timeout", "canceled", or the service's error code
	Phases   Phases
	Body     []byte // the answer, up to the MaxBody option

	// From the service's answer: its "server" object and "timings_ms" (or the
	// Server-Timing header when the body had none).
	Cold      *bool
	Instance  string
	Platform  string
	MemoryMB  int
	RequestID string // server.request_id: the Lambda request id, on Lambda only
	// What ran the request: the detector's backend and threads, the JPEG codec.
	Backend   string
	Threads   int
	Codec     string
	TimingsMS map[string]float64

	// From the results.PlatformHeader a local front door adds: the platform's
	// own figures (Lambda's REPORT line).
	PlatformReport *results.PlatformReport
}

// Phases times the parts of one request (client side, from httptrace).
type Phases struct {
	DNS, Connect, TLS time.Duration
	Wait              time.Duration // request written → first response byte
	Read              time.Duration // first byte → end of body
	Reused            bool          // connection reused (keep-alive)
}

// Latency is the time from the intended send to the end of the answer: with an
// open-loop pacer this includes any time the request waited to be sent.
func (r Result) Latency() time.Duration { return r.End.Sub(r.Intended) }

// OK reports a 2xx answer with no error.
func (r Result) OK() bool { return r.Err == "" && r.Status >= 200 && r.Status < 300 }

// Record is the result as a line of the results file: the target's Record with the
// measurements filled in.
func (r Result) Record() results.Record {
	rec := r.Target.Record
	rec.Intended, rec.Start = r.Intended, r.Start
	rec.ClientMS = ms(r.Latency())
	rec.Status, rec.Error = r.Status, r.Err
	rec.Cold, rec.Instance, rec.Platform, rec.MemoryMB = r.Cold, r.Instance, r.Platform, r.MemoryMB
	rec.RequestID = r.RequestID
	rec.Backend, rec.Threads, rec.Codec = r.Backend, r.Threads, r.Codec
	rec.TimingsMS = r.TimingsMS
	rec.ServerMS = r.TimingsMS["total"]
	rec.PlatformReport = r.PlatformReport
	return rec
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// answer is the part of the service's JSON contract the load generator reads.
type answer struct {
	Server *struct {
		Cold     *bool  `json:"cold"`
		Instance string `json:"instance"`
		Platform string `json:"platform"`
		MemoryMB int    `json:"memory_mb"`
		// RequestID joins the answer to the platform's log (Lambda's REPORT line).
		RequestID string `json:"request_id"`
		Backend   string `json:"backend"`
		Threads   int    `json:"threads"`
		Codec     string `json:"codec"`
	} `json:"server"`
	TimingsMS map[string]float64 `json:"timings_ms"`
	Error     *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func parseAnswer(r *Result, h http.Header, body []byte) {
	var a answer
	if json.Unmarshal(body, &a) == nil {
		if a.Server != nil {
			r.Cold, r.Instance, r.Platform, r.MemoryMB = a.Server.Cold, a.Server.Instance, a.Server.Platform, a.Server.MemoryMB
			r.RequestID = a.Server.RequestID
			r.Backend, r.Threads, r.Codec = a.Server.Backend, a.Server.Threads, a.Server.Codec
		}
		r.TimingsMS = a.TimingsMS
		if a.Error != nil && a.Error.Code != "" && r.Err == "" {
			r.Err = a.Error.Code
		}
	}
	if len(r.TimingsMS) == 0 {
		r.TimingsMS = ParseServerTiming(h.Get("Server-Timing"))
	}
	if p, err := results.ParsePlatformHeader(h.Get(results.PlatformHeader)); err == nil {
		r.PlatformReport = p
	} else if r.Err == "" {
		// The front door is ours: a figure it sent and we cannot read is a bug
		// to see, not a number to drop.
		r.Err = "bad " + results.PlatformHeader + " header"
	}
	if r.Err == "" && (r.Status < 200 || r.Status > 299) {
		r.Err = "http " + strconv.Itoa(r.Status)
	}
}

// ParseServerTiming reads a Server-Timing header ("download;dur=12.3, total;dur=60")
// into milliseconds per name; nil when there is none.
func ParseServerTiming(v string) map[string]float64 {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	out := map[string]float64{}
	for _, metric := range strings.Split(v, ",") {
		parts := strings.Split(metric, ";")
		name := strings.TrimSpace(parts[0])
		if name == "" {
			continue
		}
		for _, p := range parts[1:] {
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || k != "dur" {
				continue
			}
			if f, err := strconv.ParseFloat(strings.Trim(val, `"`), 64); err == nil {
				out[name] = f
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
