package local

import (
	"context"
	"log/slog"
	"os/exec"
	"syscall"
	"testing"
)

// sleeper is a Process that is only a process: enough for the scaling
// bookkeeping, which starts and stops instances but sends them nothing.
func sleeper(t *testing.T) *Process {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{Name: "sleep", cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.Stop)
	return p
}

// Holding scaling brings the serverful deployment back to its minimum size and
// keeps the autoscaler from adding to it, whatever the CPU, until resumed.
func TestServerfulHoldScaling(t *testing.T) {
	ps := []*Process{sleeper(t), sleeper(t), sleeper(t)}
	s := &Serverful{cfg: ServerfulConfig{Min: 1, Max: 5, ScaleOutCPU: 70}, log: slog.New(slog.DiscardHandler),
		members: append([]*Process(nil), ps...), stop: make(chan struct{})}
	n, resume, err := s.HoldScaling(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || len(s.Instances()) != 1 || s.Instances()[0] != ps[0] {
		t.Fatalf("held with %d instances (%d in rotation), want the first 1", n, len(s.Instances()))
	}
	if ps[0].Exited() || !ps[1].Exited() || !ps[2].Exited() {
		t.Errorf("exited: %t %t %t; want the two extra instances stopped", ps[0].Exited(), ps[1].Exited(), ps[2].Exited())
	}
	s.autoscale(100, 1)
	if s.starting {
		t.Error("the autoscaler scaled out while scaling was held")
	}
	if err := resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.cfg.Max != 5 {
		t.Errorf("max %d after resume, want 5 again", s.cfg.Max)
	}
}
