package enginetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servebench/servebench/enginetest/stubprovider"
	"github.com/servebench/servebench/internal/assetstest"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// EnvRequire makes a missing engine a failure instead of a skip (scripts/test sets it).
const EnvRequire = "SERVEBENCH_REQUIRE_ENGINE"

// commandTimeout bounds one pulumi command, so a hung engine fails the test.
const commandTimeout = 5 * time.Minute

// root is the checkout, seen from this package's directory.
const root = ".."

// scratch holds what every test shares: the stub provider and the program, built
// once per test binary run, and the plugins directory they are installed in.
var scratch string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "servebench-engine-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratch = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// engine is the Pulumi CLI with the stubs installed and the program built.
type engine struct {
	pulumi  string
	plugins string // a PULUMI_HOME/plugins with the stub installed per package
	program string // the program, built once (Pulumi.yaml's runtime.options.binary)
	data    string // the assets fixture
	stubs   []plugin
}

var (
	setupOnce sync.Once
	setupEng  *engine
	setupErr  error
)

// needEngine finds pulumi and pulumi-language-go on PATH (the language host may
// also sit beside pulumi, as an installed CLI ships it), skipping without them, or
// failing with SERVEBENCH_REQUIRE_ENGINE=1, and sets up what the tests share.
func needEngine(t *testing.T) *engine {
	t.Helper()
	var missing []string
	cli, err := exec.LookPath("pulumi")
	if err != nil {
		missing = append(missing, "pulumi")
	}
	if _, err := exec.LookPath("pulumi-language-go"); err != nil && !besideCLI(cli, "pulumi-language-go") {
		missing = append(missing, "pulumi-language-go")
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s not on PATH: run PATH=\"$(scripts/setup-pulumi):$PATH\" first", strings.Join(missing, " and "))
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	setupOnce.Do(func() { setupEng, setupErr = setup() })
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	t.Logf("engine %s; stub providers installed as %v", setupEng.pulumi, setupEng.stubs)
	return setupEng
}

// besideCLI reports whether an executable name sits beside the pulumi at cli
// (symbolic links resolved).
func besideCLI(cli, name string) bool {
	if cli == "" {
		return false
	}
	real, err := filepath.EvalSymlinks(cli)
	if err != nil {
		return false
	}
	info, err := os.Stat(filepath.Join(filepath.Dir(real), name))
	return err == nil && info.Mode()&0o111 != 0
}

func setup() (*engine, error) {
	cli, err := exec.LookPath("pulumi")
	if err != nil {
		return nil, err
	}
	// One go build links the program and the stub side by side. The program's
	// first build takes minutes; built once, every stack runs it.
	bin := filepath.Join(scratch, "bin")
	if _, err := run(root, nil, "go", "build", "-o", bin+string(filepath.Separator), ".", "./enginetest/stubprovider/cmd/stubprovider"); err != nil {
		return nil, err
	}
	e := &engine{pulumi: cli, program: filepath.Join(bin, "servebench")}
	stub := filepath.Join(bin, "stubprovider")
	home := filepath.Join(scratch, "home")
	env := append(hermeticEnv(), "PULUMI_HOME="+home)
	plugins, err := requiredPlugins()
	if err != nil {
		return nil, err
	}
	for _, p := range plugins {
		if _, err := run(scratch, env, cli, "plugin", "install", "resource", p.Name, p.Version, "--file", stub); err != nil {
			return nil, err
		}
	}
	e.plugins, e.stubs = filepath.Join(home, "plugins"), plugins
	e.data = filepath.Join(scratch, "data")
	if err := assetstest.Write(e.data); err != nil {
		return nil, err
	}
	return e, nil
}

// plugin is a resource plugin the program's SDKs ask the engine for.
type plugin struct {
	Resource bool   `json:"resource"`
	Name     string `json:"name"`
	Version  string `json:"version"`
}

// requiredPlugins finds the resource plugins as the Go language host does: the
// pulumi-plugin.json of each module the program requires.
func requiredPlugins() ([]plugin, error) {
	out, err := run(root, nil, "go", "list", "-m", "-f", "{{.Dir}}", "all")
	if err != nil {
		return nil, err
	}
	var plugins []plugin
	for _, dir := range strings.Fields(out) {
		files, _ := filepath.Glob(filepath.Join(dir, "go", "*", "pulumi-plugin.json"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			var p plugin
			if err := json.Unmarshal(b, &p); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if p.Resource {
				plugins = append(plugins, p)
			}
		}
	}
	if len(plugins) == 0 {
		return nil, fmt.Errorf("no pulumi-plugin.json in the program's modules")
	}
	return plugins, nil
}

// hermeticEnv is this process's environment without Pulumi's own variables, so a
// developer's backend, token or home is never touched.
func hermeticEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PULUMI_") && !strings.HasPrefix(kv, stackconfig.EnvData+"=") &&
			!strings.HasPrefix(kv, stubprovider.EnvLog+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// run runs a command and returns its stdout; the error carries both streams.
func run(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// project is a copy of the checkout's Pulumi program with its own backend,
// PULUMI_HOME and stub log.
type project struct {
	t   *testing.T
	e   *engine
	dir string
	env []string
	log string
}

// projectFiles are what the program needs: its module, the stacks, and service/
// (the image build context and the Cloud Functions source).
var projectFiles = []string{"go.mod", "go.sum", "main.go", "Pulumi.yaml", "Pulumi.serverful.yaml", "Pulumi.serverless.yaml", "stacks", "infra", "service"}

// newProject copies the program and logs in to a file:// backend, as a user does.
func newProject(t *testing.T, e *engine) *project {
	t.Helper()
	base := t.TempDir()
	p := &project{t: t, e: e, dir: filepath.Join(base, "servebench"), log: filepath.Join(base, "stub.jsonl")}
	for _, f := range projectFiles {
		if err := copyTree(filepath.Join(root, f), filepath.Join(p.dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	p.useBinary()
	home := filepath.Join(base, "pulumi-home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(e.plugins, filepath.Join(home, "plugins")); err != nil {
		t.Fatal(err)
	}
	backend := filepath.Join(base, "backend")
	if err := os.MkdirAll(backend, 0o755); err != nil {
		t.Fatal(err)
	}
	p.env = append(hermeticEnv(),
		"PULUMI_HOME="+home,
		"PULUMI_CONFIG_PASSPHRASE=servebench engine test",
		"PULUMI_SKIP_UPDATE_CHECK=true",
		// A stub missing for a package fails at once instead of trying a download.
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
		stackconfig.EnvData+"="+e.data,
		stubprovider.EnvLog+"="+p.log,
	)
	p.pulumi("login", "file://"+backend)
	return p
}

// useBinary points Pulumi.yaml's Go runtime at the program built once, so the
// stacks do not each compile it; everything else in the file stays as committed.
func (p *project) useBinary() {
	p.t.Helper()
	path := filepath.Join(p.dir, "Pulumi.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		p.t.Fatal(err)
	}
	const from = "\nruntime: go\n"
	if !bytes.Contains(b, []byte(from)) {
		p.t.Fatalf("Pulumi.yaml has no %q line to point at the prebuilt program", strings.TrimSpace(from))
	}
	to := fmt.Sprintf("\nruntime:\n  name: go\n  options:\n    binary: %s\n", p.e.program)
	if err := os.WriteFile(path, bytes.Replace(b, []byte(from), []byte(to), 1), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// pulumi runs a pulumi command in the project and fails the test if it fails.
func (p *project) pulumi(args ...string) string {
	p.t.Helper()
	out, err := p.try(args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// try runs a pulumi command in the project and returns its stdout and error.
func (p *project) try(args ...string) (string, error) {
	p.t.Helper()
	start := time.Now()
	out, err := run(p.dir, p.env, p.e.pulumi, args...)
	p.t.Logf("pulumi %s (%.1fs)", strings.Join(args, " "), time.Since(start).Seconds())
	return out, err
}

// step runs a pulumi command and returns its stdout and the stub calls it made.
func (p *project) step(args ...string) (string, []stubprovider.Record) {
	p.t.Helper()
	mark := len(p.calls())
	out := p.pulumi(args...)
	return out, p.calls()[mark:]
}

// decode decodes a command's JSON output into v.
func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
}

// readFile reads a file of the project.
func (p *project) readFile(name string) string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, name))
	if err != nil {
		p.t.Fatal(err)
	}
	return string(b)
}

// calls returns the stub log.
func (p *project) calls() []stubprovider.Record {
	p.t.Helper()
	recs, err := stubprovider.ReadLog(p.log)
	if err != nil {
		p.t.Fatal(err)
	}
	return recs
}

// copyTree copies a file or directory, leaving out hidden entries.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != src && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		return os.WriteFile(to, b, info.Mode().Perm())
	})
}

// state is a stack's checkpoint from `pulumi stack export`.
type state struct {
	Deployment struct {
		Resources []stateResource `json:"resources"`
	} `json:"deployment"`
}

type stateResource struct {
	URN                  string              `json:"urn"`
	Custom               bool                `json:"custom"`
	ID                   string              `json:"id"`
	Type                 string              `json:"type"`
	Parent               string              `json:"parent"`
	Dependencies         []string            `json:"dependencies"`
	PropertyDependencies map[string][]string `json:"propertyDependencies"`
	Inputs               map[string]any      `json:"inputs"`
	Outputs              map[string]any      `json:"outputs"`
}

func (p *project) export(stack string) state {
	p.t.Helper()
	var s state
	decode(p.t, p.pulumi("stack", "export", "--stack", stack), &s)
	return s
}

// managed are the resources a provider creates and deletes (not components, not
// the providers themselves), by URN.
func (s state) managed() map[string]stateResource {
	out := map[string]stateResource{}
	for _, r := range s.Deployment.Resources {
		if r.Custom && !strings.HasPrefix(r.Type, "pulumi:providers:") {
			out[r.URN] = r
		}
	}
	return out
}

// byType returns the resources of a type token.
func (s state) byType(typ string) []stateResource {
	var out []stateResource
	for _, r := range s.Deployment.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// edges returns, for each managed resource, the managed resources it depends on:
// its dependencies and property dependencies, a component standing for every
// managed resource beneath it.
func (s state) edges() map[string][]string {
	managed := s.managed()
	children := map[string][]string{}
	for _, r := range s.Deployment.Resources {
		children[r.Parent] = append(children[r.Parent], r.URN)
	}
	var expand func(urn string, into map[string]bool)
	expand = func(urn string, into map[string]bool) {
		if _, ok := managed[urn]; ok {
			into[urn] = true
			return
		}
		for _, c := range children[urn] {
			expand(c, into)
		}
	}
	out := map[string][]string{}
	for urn, r := range managed {
		deps := map[string]bool{}
		all := slices.Clone(r.Dependencies)
		for _, ds := range r.PropertyDependencies {
			all = append(all, ds...)
		}
		for _, d := range all {
			expand(d, deps)
		}
		delete(deps, urn)
		for d := range deps {
			out[urn] = append(out[urn], d)
		}
	}
	return out
}
