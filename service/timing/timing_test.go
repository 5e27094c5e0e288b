package timing

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStagesKeepOrderAddUpAndRender(t *testing.T) {
	s := New()
	s.Add("download", 1500*time.Microsecond)
	s.Add("inference", 20*time.Millisecond)
	s.Add("download", 500*time.Microsecond) // adds to the first value, keeps its place
	m := s.Finish()

	if v, _ := m.Get("download"); v != 2 {
		t.Errorf("download = %v ms, want 2", v)
	}
	total, ok := m.Get("total")
	if !ok || total < 0 {
		t.Errorf("total = %v, %v", total, ok)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"download":2.000,"inference":20.000,"total":`) {
		t.Errorf("JSON %s: stages not in recording order", b)
	}
	st := m.ServerTiming()
	if !strings.HasPrefix(st, "download;dur=2.000, inference;dur=20.000, total;dur=") {
		t.Errorf("Server-Timing %q", st)
	}
	var back Map
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Get("inference"); v != 20 {
		t.Errorf("round trip inference = %v", v)
	}
}

func TestSinceChains(t *testing.T) {
	s := New()
	t0 := time.Now().Add(-3 * time.Millisecond)
	t1 := s.Since("decode", t0)
	if v, _ := s.Map().Get("decode"); v < 3 {
		t.Errorf("decode = %v ms, want ≥ 3", v)
	}
	if t1.Before(t0) {
		t.Error("Since must return the time it measured to")
	}
}
