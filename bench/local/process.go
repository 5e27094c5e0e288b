package local

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/servebench/servebench/bench/lambdaemu"
	"github.com/servebench/servebench/bench/procstat"
	"github.com/servebench/servebench/bench/results"
)

// Launcher starts service instances: child processes of the built binary, each on
// its own loopback port, with the deployment's environment and a log file.
type Launcher struct {
	Bin     Binary
	Cmd     string // which of Bin's commands runs: ServerCmd (the default) or LambdaCmd
	Buckets Buckets
	LogDir  string
	Env     []string      // extra KEY=VALUE, after the defaults
	Ready   time.Duration // how long an instance may take to be ready (default 60 s)

	// RIE, when set, is the path of aws-lambda-rie: each instance is then Cmd as
	// a Lambda bootstrap under an emulator of its own, taking invokes (Invoke)
	// instead of HTTP requests, with Function's memory and timeout. The timeout
	// is also the gateway's integration limit (0: lambdaemu.IntegrationTimeout).
	RIE      string
	Function lambdaemu.Function // Bootstrap is filled in from Cmd

	seq atomic.Int64
}

// LambdaLauncher launches the Lambda bootstrap of bin under rie, the serverless
// instances of servebench local.
func LambdaLauncher(bin Binary, buckets Buckets, logDir, rie string, fn lambdaemu.Function) *Launcher {
	return &Launcher{Bin: bin, Cmd: LambdaCmd, Buckets: buckets, LogDir: logDir, RIE: rie, Function: fn}
}

// deploymentEnv is what the instances of one deployment share: their platform
// name, the front door's URL, and the output bucket signing with the shared key
// against the front door, so a signed URL works whichever instance serves it.
func (l *Launcher) deploymentEnv(name, publicURL string) []string {
	return []string{
		"SERVEBENCH_PLATFORM=local-" + name,
		"SERVEBENCH_PUBLIC_URL=" + publicURL,
		"SERVEBENCH_OUTPUT_BUCKET=" + l.Buckets.SignedOutputURL(publicURL),
	}
}

// env is the service's environment beyond this process's own: the deployment's
// defaults, then l.Env, then extra.
func (l *Launcher) env(port int, extra []string) []string {
	env := []string{
		"PORT=" + strconv.Itoa(port),
		"SERVEBENCH_INPUT_BUCKET=" + l.Buckets.InputURL(),
		"SERVEBENCH_OUTPUT_BUCKET=" + l.Buckets.OutputURL(),
		"SERVEBENCH_MODEL=" + l.Buckets.ModelURL(),
		"SERVEBENCH_BACKEND=" + l.Bin.Backend,
	}
	if l.Bin.ORTLib != "" {
		env = append(env, ORTLibEnv+"="+l.Bin.ORTLib)
	}
	if l.Bin.TurboJPEGLib != "" {
		env = append(env, TurboJPEGLibEnv+"="+l.Bin.TurboJPEGLib)
	}
	if l.Buckets.HasFaces() {
		env = append(env, "SERVEBENCH_FACES_SOURCE="+l.Buckets.FacesURL())
	}
	env = append(env, l.Env...)
	return append(env, extra...)
}

// Process is one running instance.
type Process struct {
	Name    string
	URL     string // http://127.0.0.1:port
	Log     string // its log file
	Started time.Time
	Ready   time.Duration // from exec to the first good /healthz

	cmd     *exec.Cmd
	lambda  *lambdaemu.Log // under the emulator: its output, read for REPORT lines
	gateway lambdaemu.Gateway
	exited  chan struct{}
	err     error // exit status, valid after exited is closed
	stop    sync.Once
}

// Launch starts an instance named prefix-N, with env added to the launcher's, and
// waits until it answers /healthz.
func (l *Launcher) Launch(ctx context.Context, prefix string, env ...string) (*Process, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("launch %s: %w", prefix, err)
	}
	name := fmt.Sprintf("%s-%d", prefix, l.seq.Add(1))
	if err := os.MkdirAll(l.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("launch %s: %w", name, err)
	}
	logPath := filepath.Join(l.LogDir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("launch %s: %w", name, err)
	}
	cmdName := cmp.Or(l.Cmd, ServerCmd)
	// Not CommandContext: the process must outlive the request that started it.
	cmd := exec.Command(l.Bin.Path(cmdName))
	var emu *lambdaemu.Log
	if l.RIE != "" {
		apiPort, err := freePort()
		if err != nil {
			_ = logf.Close()
			return nil, fmt.Errorf("launch %s: %w", name, err)
		}
		fn := l.Function
		fn.Bootstrap = l.Bin.Path(cmdName)
		cmd = lambdaemu.Command(l.RIE, fn, "127.0.0.1:"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(apiPort))
		cmd.Env = append(cmd.Env, l.env(port, env)...)
		emu = lambdaemu.NewLog(logf)
		cmd.Stdout, cmd.Stderr = emu.Stdout(), emu.Stderr()
		// The emulator's output goes through pipes; should its bootstrap outlive
		// it holding them, Wait gives up on them after this.
		cmd.WaitDelay = 2 * time.Second
	} else {
		cmd.Env = append(os.Environ(), l.env(port, env)...)
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	// Its own process group, so Stop reaches anything it spawns; and killed with
	// us if we die without running Stop (Pdeathsig), so no instance is orphaned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Process{Name: name, URL: "http://127.0.0.1:" + strconv.Itoa(port), Log: logPath, cmd: cmd, lambda: emu,
		gateway: lambdaemu.Gateway{Timeout: l.Function.Timeout}, exited: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("launch %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		_ = logf.Close()
		close(p.exited)
	}()
	limit := l.Ready
	if limit == 0 {
		limit = 60 * time.Second
	}
	if err := p.waitReady(ctx, limit); err != nil {
		p.Stop()
		return nil, fmt.Errorf("launch %s: %w%s", name, err, logTail(logPath))
	}
	p.Ready = time.Since(p.Started)
	return p, nil
}

// waitReady waits until the server answers /healthz, or an emulator takes
// connections: it starts its bootstrap only on the first invoke, as Lambda does.
func (p *Process) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.lambda != nil {
			var d net.Dialer
			if c, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(p.URL, "http://")); err == nil {
				_ = c.Close()
				return nil
			}
		} else {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/healthz", nil)
			if resp, err := client.Do(req); err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited before it was healthy: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("not healthy after %s: %w", limit, ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop ends the instance: SIGTERM to its process group, SIGKILL after two seconds.
// An emulator's bootstrap runs in a process group of its own, which the emulator
// kills on SIGTERM; it is killed here too, should the emulator not have.
func (p *Process) Stop() {
	p.stop.Do(func() {
		pgid := p.cmd.Process.Pid
		kids := children(pgid)
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(2 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.exited
		}
		for _, k := range kids {
			_ = syscall.Kill(-k, syscall.SIGKILL)
		}
	})
}

// children lists the processes pid started (the emulator's bootstrap), from
// /proc/PID/task/*/children: the thread that forked may be any of a Go program's.
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if k, err := strconv.Atoi(f); err == nil {
				out = append(out, k)
			}
		}
	}
	return out
}

// pids are the instance's processes: itself and, under the emulator, the bootstrap.
func (p *Process) pids() []int {
	if p.lambda == nil {
		return []int{p.Pid()}
	}
	return append([]int{p.Pid()}, children(p.Pid())...)
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// CPUTime is the CPU the instance's processes have used (user + system), from
// /proc/<pid>/stat.
func (p *Process) CPUTime() (time.Duration, error) {
	var sum time.Duration
	for i, pid := range p.pids() {
		d, err := cpuTime(pid)
		if err != nil && i == 0 {
			return 0, err
		}
		sum += d // a bootstrap gone between listing and reading counts 0
	}
	return sum, nil
}

func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces: fields
	// are counted after the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cpu of pid %d: malformed /proc stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu of pid %d: short /proc stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// RSS is the resident memory of the instance's processes.
func (p *Process) RSS() (int64, error) {
	var sum int64
	for i, pid := range p.pids() {
		n, err := procstat.Of(pid).RSS()
		if err != nil && i == 0 {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// peakRSS is the peak resident memory of the emulator's bootstrap, in MB: what
// Lambda reports as Max Memory Used. 0 when there is no bootstrap yet.
func (p *Process) peakRSS() float64 {
	var sum int64
	for _, pid := range children(p.Pid()) {
		if n, err := procstat.Of(pid).PeakRSS(); err == nil {
			sum += n
		}
	}
	return float64(sum) / (1 << 20)
}

// Invoke sends r to an emulated instance as API Gateway would and returns the
// gateway's answer and the invocation's REPORT figures, Max Memory Used measured
// (the emulator prints the configured size there).
func (p *Process) Invoke(ctx context.Context, r *http.Request) (*http.Response, *results.PlatformReport, error) {
	if p.lambda == nil {
		return nil, nil, fmt.Errorf("invoke %s: not under the Lambda emulator", p.Name)
	}
	resp, err := p.gateway.Invoke(ctx, p.URL, r)
	if err != nil {
		return nil, nil, fmt.Errorf("invoke %s: %w", p.Name, err)
	}
	// The emulator prints REPORT before it answers; reading its output may lag
	// by a moment, never by this much.
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rep, err := p.lambda.Report(rctx, resp.Header.Get(lambdaemu.RequestIDHeader))
	if err != nil {
		return resp, nil, fmt.Errorf("invoke %s: %w", p.Name, err)
	}
	return resp, &results.PlatformReport{DurationMS: rep.DurationMS, BilledMS: rep.BilledMS, InitMS: rep.InitMS, MaxMemoryMB: p.peakRSS()}, nil
}

// freePort hands out a loopback port for an instance. Not one the kernel picks for
// 127.0.0.1:0: those come from the ephemeral range, where the load generator's own
// connections (a new one per request without keep-alive) take their source ports
// too, and the emulator binds its Runtime API port only at the first invoke, by when
// a client connection may hold it ("bind: address already in use": the emulator
// panics and the invoke's connection is reset). So ports come from just below the
// ephemeral range, round robin from a random start (other test processes launch
// instances too), each checked free when handed out.
func freePort() (int, error) {
	lo, hi := instancePorts()
	n := int64(hi - lo)
	for range n {
		p := lo + int(portNext.Add(1)%n)
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			_ = ln.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free loopback port in %d..%d", lo, hi-1)
}

// portNext is where freePort looks next, from a random start.
var portNext = func() *atomic.Int64 {
	var n atomic.Int64
	n.Store(rand.Int64N(1 << 20))
	return &n
}()

// instancePorts is the range freePort takes from: the 10,000 ports below the kernel's
// ephemeral range (net.ipv4.ip_local_port_range; Linux's default starts at 32768).
func instancePorts() (lo, hi int) {
	hi = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var first, last int
		if _, err := fmt.Sscan(string(b), &first, &last); err == nil && first > 11024 {
			hi = first
		}
	}
	return hi - 10000, hi
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "; log " + path + " ends:\n" + string(b)
}
