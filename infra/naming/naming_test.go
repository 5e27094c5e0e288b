package naming

import (
	"strings"
	"testing"
)

func TestFit(t *testing.T) {
	if got := Fit("ServeBench_Dev.alb", 32); got != "servebench-dev-alb" {
		t.Errorf("Fit cleans to %q", got)
	}
	long := "servebench-a-very-long-stack-name-for-testing-alb"
	a := Fit(long, 32)
	b := Fit(long+"x", 32)
	if len(a) > 32 || len(b) > 32 || len(a) < 30 {
		t.Errorf("lengths %d, %d, want at most 32 (31 when the cut ends on a '-')", len(a), len(b))
	}
	if a == b {
		t.Errorf("two long names collide: %q", a)
	}
	if !strings.HasPrefix(a, "servebench-a-very-long-") {
		t.Errorf("cut name %q lost its prefix", a)
	}
	if a != Fit(long, 32) {
		t.Error("Fit is not deterministic")
	}
	if got := New("servebench", "serverful").Name("tg", 32); got != "servebench-serverful-tg" {
		t.Errorf("Name = %q", got)
	}
}
