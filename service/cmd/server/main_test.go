package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/storage"
)

var binary struct {
	once sync.Once
	path string
	err  error
}

// build compiles this command once per test binary, without cgo, as the images
// and Cloud Functions build it: both detector backends are always in, and the
// native libraries load at start through purego.
func build(tb testing.TB) string {
	tb.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "servebench-server")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "server")
		binary.err = apitest.BuildNoCgo(".", binary.path)
	})
	if binary.err != nil {
		tb.Fatal(binary.err)
	}
	return binary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

func freePort(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

type proc struct {
	cmd    *exec.Cmd
	base   string
	stderr *bytes.Buffer
	done   chan error
}

// start runs the server binary with file:// buckets and env added.
func start(tb testing.TB, bs apitest.Buckets, env ...string) *proc {
	tb.Helper()
	port := freePort(tb)
	cmd := exec.Command(build(tb))
	cmd.Env = append(os.Environ(), "PORT="+port, "SERVEBENCH_INPUT_BUCKET="+bs.InURL, "SERVEBENCH_OUTPUT_BUCKET="+bs.OutURL,
		"SERVEBENCH_PUBLIC_URL=http://127.0.0.1:"+port)
	cmd.Env = append(cmd.Env, env...)
	p := &proc{cmd: cmd, base: "http://127.0.0.1:" + port, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// predictWhenUp posts dog.jpg until the server answers (connection refused
// while it starts) and returns the answer.
func (p *proc) predictWhenUp(tb testing.TB) (*http.Response, map[string]any) {
	tb.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		resp, err := client.Post(p.base+"/predict", "application/json", strings.NewReader(`{"filename":"images/dog.jpg"}`))
		if err != nil {
			select {
			case err := <-p.done:
				tb.Fatalf("the server exited: %v\n%s", err, p.stderr)
			case <-time.After(2 * time.Millisecond):
			}
			continue
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			tb.Fatal(err)
		}
		return resp, m
	}
	tb.Fatalf("the server did not answer within 2 minutes\n%s", p.stderr)
	return nil, nil
}

// client gives up on a request the server never answers, so a hung server fails
// the test instead of hanging it.
var client = &http.Client{Timeout: 2 * time.Minute}

func seeded(tb testing.TB) apitest.Buckets {
	bs := apitest.Open(tb, "file", storage.Options{})
	apitest.Seed(tb, bs.In, "dog.jpg")
	return bs
}

// TestServer runs the built binary (without cgo) on ONNX Runtime: it answers
// /predict with the dog, serves the signed file URL, and on SIGTERM finishes a
// request in flight, then exits 0.
func TestServer(t *testing.T) {
	bs := seeded(t)
	p := start(t, bs, "SERVEBENCH_BACKEND=onnxruntime")
	resp, m := p.predictWhenUp(t)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %v\n%s", resp.StatusCode, m, p.stderr)
	}
	var a api.PredictResponse
	b, _ := json.Marshal(m)
	_ = json.Unmarshal(b, &a)
	apitest.CheckDetections(t, a.Detections, apitest.Dog)
	if a.Server.Backend != detect.BackendONNXRuntime {
		t.Errorf("server.backend %q, want %s (SERVEBENCH_ONNXRUNTIME_LIB names the library; scripts/setup-onnxruntime fetches it)\n%s",
			a.Server.Backend, detect.BackendONNXRuntime, p.stderr)
	}
	if !a.Server.Cold || !strings.HasPrefix(a.Location, p.base+"/files?") {
		t.Errorf("server %+v location %q", a.Server, a.Location)
	}
	img := get(t, a.Location)
	apitest.CheckAnnotated(t, apitest.Read(t, "images/dog.jpg"), img, a.Detections)

	// A request in flight: headers and half the body sent before SIGTERM.
	pr, pw := io.Pipe()
	answered := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("POST", p.base+"/predict", pr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("in-flight request: %v", err)
		}
		answered <- resp
	}()
	_, _ = pw.Write([]byte(`{"filename":`))
	time.Sleep(300 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(p.base, "http://"), time.Second); err == nil {
		t.Errorf("the server still accepts connections after SIGTERM")
	}
	_, _ = pw.Write([]byte(` "images/dog.jpg"}`))
	pw.Close()
	if r := <-answered; r == nil || r.StatusCode != 200 {
		t.Errorf("the in-flight request was not finished: %v", r)
	} else {
		var a api.PredictResponse
		_ = json.NewDecoder(r.Body).Decode(&a)
		r.Body.Close()
		apitest.CheckDetections(t, a.Detections, apitest.Dog)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.stderr)
		}
		p.done <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not exit after SIGTERM\n%s", p.stderr)
	}
	for _, want := range []string{`"msg":"listening"`, `"msg":"shutting down`, `"msg":"stopped"`} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, p.stderr)
		}
	}
}

// TestDebugListener: by default the server listens on its port alone; with
// SERVEBENCH_DEBUG_ADDR it also serves net/http/pprof there, and only there —
// the service's port never answers /debug/pprof/.
func TestDebugListener(t *testing.T) {
	bs := seeded(t)
	off := start(t, bs)
	off.waitHealthy(t)
	if got, want := listeningPorts(t, off.cmd.Process.Pid), []int{off.port(t)}; !slices.Equal(got, want) {
		t.Errorf("default: listening on ports %v, want only the service's %v", got, want)
	}
	notServed(t, off.base+"/debug/pprof/goroutine?debug=1")

	debugPort := freePort(t)
	on := start(t, bs, "SERVEBENCH_DEBUG_ADDR=127.0.0.1:"+debugPort)
	on.waitHealthy(t)
	want := []int{on.port(t), atoi(t, debugPort)}
	slices.Sort(want)
	if got := listeningPorts(t, on.cmd.Process.Pid); !slices.Equal(got, want) {
		t.Errorf("SERVEBENCH_DEBUG_ADDR set: listening on ports %v, want %v", got, want)
	}
	notServed(t, on.base+"/debug/pprof/goroutine?debug=1")
	b := get(t, "http://127.0.0.1:"+debugPort+"/debug/pprof/goroutine?debug=1")
	if !bytes.HasPrefix(b, []byte("goroutine profile: total ")) {
		t.Errorf("debug listener's goroutine profile begins %q", b[:min(len(b), 80)])
	}
}

// notServed checks the service's port answers u with 404, as any unknown route.
func notServed(t *testing.T, u string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s: %d, want 404: the service's port must not serve profiles", u, resp.StatusCode)
	}
}

// waitHealthy polls /healthz until it answers 200.
func (p *proc) waitHealthy(tb testing.TB) {
	tb.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if resp, err := client.Get(p.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			tb.Fatalf("the server exited: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	tb.Fatalf("the server was not healthy within a minute")
}

// port is the service's port, from its base URL.
func (p *proc) port(tb testing.TB) int {
	return atoi(tb, p.base[strings.LastIndexByte(p.base, ':')+1:])
}

func atoi(tb testing.TB, s string) int {
	tb.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// listeningPorts lists, ascending, the TCP ports pid listens on: its sockets
// (links socket:[inode] under /proc/pid/fd) that /proc/pid/net/tcp{,6} lists
// in state LISTEN (0A), whatever address they are bound to.
func listeningPorts(tb testing.TB, pid int) []int {
	tb.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		tb.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			tb.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			port, err := strconv.ParseInt(f[1][strings.LastIndexByte(f[1], ':')+1:], 16, 32)
			if err != nil {
				tb.Fatalf("/proc/%d/net/%s: %q: %v", pid, table, line, err)
			}
			ports = append(ports, int(port))
		}
	}
	slices.Sort(ports)
	return ports
}

func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return b
}

// TestServerConfigError: a bad variable stops the server before it listens, with
// a message naming the variable, its value and what is allowed; so does a native
// library that a variable names and that does not load.
func TestServerConfigError(t *testing.T) {
	bs := seeded(t)
	notALib := filepath.Join(t.TempDir(), "libnot.so.0")
	if err := os.WriteFile(notALib, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A debug address another process holds stops the server, as its own port would.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct {
		env  []string
		want []string
	}{
		{[]string{"SERVEBENCH_MAX_IMAGE_PIXELS=many"}, []string{`SERVEBENCH_MAX_IMAGE_PIXELS="many"`, "whole number"}},
		{[]string{"SERVEBENCH_DEBUG_ADDR=:6060"}, []string{`SERVEBENCH_DEBUG_ADDR=":6060"`, "loopback"}},
		{[]string{"SERVEBENCH_DEBUG_ADDR=" + taken.Addr().String()}, []string{"SERVEBENCH_DEBUG_ADDR=" + taken.Addr().String(), "address already in use"}},
		{[]string{"SERVEBENCH_TURBOJPEG_LIB=" + notALib}, []string{"SERVEBENCH_TURBOJPEG_LIB", notALib}},
		{[]string{"SERVEBENCH_BACKEND=onnxruntime", "SERVEBENCH_ONNXRUNTIME_LIB=" + notALib}, []string{"SERVEBENCH_ONNXRUNTIME_LIB", notALib}},
	} {
		p := start(t, bs, c.env...)
		select {
		case err := <-p.done:
			p.done <- err
			if err == nil {
				t.Fatalf("%v: the server exited 0", c.env)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%v: the server did not stop", c.env)
		}
		for _, want := range c.want {
			if msg := p.stderr.String(); !strings.Contains(msg, want) {
				t.Errorf("%v: stderr %q should name %s", c.env, msg, want)
			}
		}
	}
}

// BenchmarkColdStart measures, per detector backend, process start → first
// /predict answered (dog.jpg, file:// buckets, model loaded lazily), and reports
// the median over b.N fresh processes with the median server stages of the cold
// answer. Run: go test -run '^$' -bench ColdStart -benchtime 5x ./cmd/server
func BenchmarkColdStart(b *testing.B) {
	for _, backend := range detect.Backends() {
		b.Run(backend, func(b *testing.B) {
			bs := seeded(b)
			build(b)
			var cold []float64
			stages, warm := map[string][]float64{}, map[string][]float64{}
			for b.Loop() {
				t0 := time.Now()
				p := start(b, bs, "SERVEBENCH_BACKEND="+backend)
				resp, m := p.predictWhenUp(b)
				cold = append(cold, float64(time.Since(t0).Microseconds())/1000)
				if resp.StatusCode != 200 {
					b.Fatalf("status %d: %v\n%s", resp.StatusCode, m, p.stderr)
				}
				for k, v := range m["timings_ms"].(map[string]any) {
					stages[k] = append(stages[k], v.(float64))
				}
				if resp, m := p.predictWhenUp(b); resp.StatusCode != 200 {
					b.Errorf("warm request: status %d: %v", resp.StatusCode, m)
				} else {
					for k, v := range m["timings_ms"].(map[string]any) {
						warm[k] = append(warm[k], v.(float64))
					}
				}
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
				p.done <- <-p.done
			}
			b.ReportMetric(median(cold), "ms-to-first-answer")
			b.Logf("%s: start→first answer median %.0f ms over %d runs %v", backend, median(cold), len(cold), cold)
			b.Logf("%s: cold answer stages (median ms): %s", backend, medians(stages))
			b.Logf("%s: warm answer stages (median ms): %s", backend, medians(warm))
		})
	}
}

// medians renders the median of each stage, in name order.
func medians(stages map[string][]float64) string {
	var names []string
	for k := range stages {
		names = append(names, k)
	}
	sort.Strings(names)
	var line []string
	for _, k := range names {
		line = append(line, fmt.Sprintf("%s=%.1f", k, median(stages[k])))
	}
	return strings.Join(line, " ")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
