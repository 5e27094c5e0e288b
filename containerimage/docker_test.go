package containerimage

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/servebench/servebench/assets"
	"github.com/servebench/servebench/bench/local"
)

// Environment scripts/test-images sets.
const (
	EnvServerImage = "SERVEBENCH_SERVER_IMAGE"
	EnvLambdaImage = "SERVEBENCH_LAMBDA_IMAGE"
	EnvDocker      = "SERVEBENCH_DOCKER" // the docker CLI; default "docker" on PATH
)

// imageName returns the image named by env, or skips t.
func imageName(t *testing.T, env string) string {
	t.Helper()
	name := os.Getenv(env)
	if name == "" {
		t.Skipf("%s is not set: run scripts/test-images, which builds the images and runs these tests", env)
	}
	return name
}

func dockerCLI() string {
	if d := os.Getenv(EnvDocker); d != "" {
		return d
	}
	return "docker"
}

// docker runs the docker CLI and returns its trimmed standard output.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(dockerCLI(), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// buckets are the input bucket, seeded as servebench local seeds it (model, images,
// faces), and an empty output bucket, in directories the container's non-root user
// can read and write.
type buckets struct {
	in, out string
}

func newBuckets(t *testing.T) buckets {
	t.Helper()
	data, err := assets.Locate(context.Background(), slog.New(slog.DiscardHandler), "..", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: its directories are 0700 and the server runs as 65532.
	dir, err := os.MkdirTemp("", "servebench-containerimage-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	seeded, err := local.Seed(dir, data)
	if err != nil {
		t.Fatal(err)
	}
	// Chmod: MkdirTemp makes dir 0700, and 65532 writes into the output bucket.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(seeded.Output, 0o777); err != nil {
		t.Fatal(err)
	}
	return buckets{in: seeded.Input, out: seeded.Output}
}

// Where the buckets appear inside a container. ?no_tmp_dir=true: without it gocloud's
// fileblob writes each object to os.TempDir and renames it into the bucket, which
// fails across the mount (see TestServerImageMountedBucketNeedsNoTmpDir).
const (
	inMount  = "/buckets/in"
	outMount = "/buckets/out"
	inURL    = "file://" + inMount + "?no_tmp_dir=true"
	outURL   = "file://" + outMount + "?no_tmp_dir=true"
)

// mountArgs are docker run's flags mounting b (the input read-only).
func (b buckets) mountArgs() []string {
	return []string{"-v", b.in + ":" + inMount + ":ro", "-v", b.out + ":" + outMount}
}

// freePort returns a TCP port free on the loopback now, for a container's published
// port: the server must know the URL it is reached at before it starts.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// container is a running container whose port 8080 is published on the loopback.
type container struct {
	id   string
	port int
}

// start runs image detached with args (docker run flags) and removes it when t ends,
// first logging its output if t failed.
func start(t *testing.T, image string, port int, args ...string) container {
	t.Helper()
	run := append([]string{"run", "-d", "-p", "127.0.0.1:" + strconv.Itoa(port) + ":8080"}, args...)
	c := container{id: docker(t, append(run, image)...), port: port}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command(dockerCLI(), "logs", c.id).CombinedOutput()
			t.Logf("container %.12s (%s) output:\n%s", c.id, image, out)
		}
		_ = exec.Command(dockerCLI(), "rm", "-f", c.id).Run()
	})
	return c
}

func (c container) url() string { return "http://127.0.0.1:" + strconv.Itoa(c.port) }

// logs returns the container's standard output and error so far.
func (c container) logs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(dockerCLI(), "logs", c.id).CombinedOutput()
	if err != nil {
		t.Fatalf("docker logs: %v\n%s", err, out)
	}
	return string(out)
}

// follow copies the container's standard output and error, as they are written, to
// stdout and stderr until t ends.
func (c container) follow(t *testing.T, stdout, stderr io.Writer) {
	t.Helper()
	cmd := exec.Command(dockerCLI(), "logs", "-f", c.id)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Registered after start's cleanup, so it runs first: the log stream ends before
	// the container is removed.
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

// uids returns the real, effective, saved and filesystem user ids of the container's
// main process, read from the host's /proc (the image may have no shell to ask).
func (c container) uids(t *testing.T) []string {
	t.Helper()
	pid := docker(t, "inspect", "-f", "{{.State.Pid}}", c.id)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("no Uid line in /proc/%s/status", pid)
	return nil
}
