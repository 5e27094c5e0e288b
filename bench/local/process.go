package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
)

// Launcher starts service instances: child processes of the built binary, each on
// its own loopback port, with the deployment's environment and a log file.
type Launcher struct {
	Bin     Binary
	Buckets Buckets
	LogDir  string
	Env     []string      // extra KEY=VALUE, after the defaults
	Ready   time.Duration // how long an instance may take to answer /healthz (default 60 s)

	seq atomic.Int64
}

func (l *Launcher) env(port int, extra []string) []string {
	env := append(os.Environ(),
		"PORT="+strconv.Itoa(port),
		"SERVEBENCH_INPUT_BUCKET="+l.Buckets.InputURL(),
		"SERVEBENCH_OUTPUT_BUCKET="+l.Buckets.OutputURL(),
		"SERVEBENCH_MODEL="+l.Buckets.ModelURL(),
		"SERVEBENCH_BACKEND="+l.Bin.Backend,
	)
	if l.Bin.ORTLib != "" {
		env = append(env, ORTLibEnv+"="+l.Bin.ORTLib)
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

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // exit status, valid after exited is closed
	stop   sync.Once
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
	// Not CommandContext: the process must outlive the request that started it.
	cmd := exec.Command(l.Bin.Path)
	cmd.Env = l.env(port, env)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so Stop reaches anything it spawns; and killed with
	// us if we die without running Stop (Pdeathsig), so no instance is orphaned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Process{Name: name, URL: "http://127.0.0.1:" + strconv.Itoa(port), Log: logPath, cmd: cmd, exited: make(chan struct{})}
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
	if err := p.waitHealthy(ctx, limit); err != nil {
		p.Stop()
		return nil, fmt.Errorf("launch %s: %w%s", name, err, logTail(logPath))
	}
	p.Ready = time.Since(p.Started)
	return p, nil
}

func (p *Process) waitHealthy(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/healthz", nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
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
func (p *Process) Stop() {
	p.stop.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(2 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.exited
		}
	})
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

// CPUTime is the CPU the process has used (user + system), from /proc/<pid>/stat.
func (p *Process) CPUTime() (time.Duration, error) { return cpuTime(p.Pid()) }

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

// RSS is the process's resident memory, from /proc/<pid>/statm.
func (p *Process) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", p.Pid()))
	if err != nil {
		return 0, fmt.Errorf("memory of pid %d: %w", p.Pid(), err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("memory of pid %d: short /proc statm", p.Pid())
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory of pid %d: %w", p.Pid(), err)
	}
	return pages * int64(os.Getpagesize()), nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
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
