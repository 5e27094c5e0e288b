// Package timing records how long each stage of a request took, for the
// "timings_ms" object of an answer and its Server-Timing header.
package timing

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Stages records named durations in the order they were first recorded. The zero
// value is not usable; call New. Safe for concurrent use.
type Stages struct {
	mu    sync.Mutex
	start time.Time
	names []string
	ms    map[string]float64
}

// New starts the clock for "total".
func New() *Stages { return &Stages{start: time.Now(), ms: map[string]float64{}} }

// Since records the time from t to now under name (adding to an earlier value) and
// returns now, so stages can be chained: t = s.Since("download", t).
func (s *Stages) Since(name string, t time.Time) time.Time {
	now := time.Now()
	s.Add(name, now.Sub(t))
	return now
}

// Add adds d to the stage name.
func (s *Stages) Add(name string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ms[name]; !ok {
		s.names = append(s.names, name)
	}
	s.ms[name] += float64(d.Microseconds()) / 1000
}

// Finish records "total" as the time since New and returns the stages in order.
func (s *Stages) Finish() Map {
	s.Add("total", time.Since(s.start))
	return s.Map()
}

// Map returns a snapshot of the stages recorded so far.
func (s *Stages) Map() Map {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := Map{names: append([]string(nil), s.names...), ms: make(map[string]float64, len(s.ms))}
	for k, v := range s.ms {
		m.ms[k] = v
	}
	return m
}

// Map is an ordered snapshot of stage durations in milliseconds.
type Map struct {
	names []string
	ms    map[string]float64
}

// Get returns the milliseconds of one stage.
func (m Map) Get(name string) (float64, bool) { v, ok := m.ms[name]; return v, ok }

// MarshalJSON writes the stages as an object in recording order.
func (m Map) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range m.names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(n)
		fmt.Fprintf(&b, "%s:%.3f", k, m.ms[n])
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// UnmarshalJSON reads an object of stage durations (order as the keys appear is not
// kept; clients only need the values).
func (m *Map) UnmarshalJSON(data []byte) error {
	var raw map[string]float64
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	m.ms = raw
	m.names = m.names[:0]
	for k := range raw {
		m.names = append(m.names, k)
	}
	return nil
}

// ServerTiming renders the stages as a Server-Timing header value:
// "download;dur=12.3, inference;dur=40.1, total;dur=60.0".
func (m Map) ServerTiming() string {
	parts := make([]string, 0, len(m.names))
	for _, n := range m.names {
		parts = append(parts, fmt.Sprintf("%s;dur=%.3f", n, m.ms[n]))
	}
	return strings.Join(parts, ", ")
}
