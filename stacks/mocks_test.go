package stacks_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/servebench/servebench/infra/serviceenv"
	"github.com/servebench/servebench/internal/assetstest"
	"github.com/servebench/servebench/internal/pulumimock"
	"github.com/servebench/servebench/stacks"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// stackConfig reads a stack file the way the Pulumi engine hands it to the
// program: every value a string, structured values as JSON.
func stackConfig(t *testing.T, stack string) map[string]string {
	t.Helper()
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	b, err := os.ReadFile(filepath.Join("..", "Pulumi."+stack+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("Pulumi.%s.yaml: %v", stack, err)
	}
	cfg := map[string]string{}
	for k, v := range f.Config {
		switch v := v.(type) {
		case string:
			cfg[k] = v
		case int:
			cfg[k] = strconv.Itoa(v)
		case bool, float64:
			cfg[k] = fmt.Sprint(v)
		default:
			j, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("Pulumi.%s.yaml %s: %v", stack, k, err)
			}
			cfg[k] = string(j)
		}
	}
	return cfg
}

// deployment is one mocked run of the program.
type deployment struct {
	*pulumimock.Recorder
	stack   string
	outputs map[string]any
	err     error
}

// fakeLib writes an ELF header for machine (a shared object when typ is ET_DYN)
// and nothing else: the program reads only the header and hands the path to the
// engine, so a small fixture keeps these tests independent of the real libraries.
func fakeLib(t testing.TB, dir, name string, machine elf.Machine, typ elf.Type) string {
	t.Helper()
	h := elf.Header64{Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64, Phentsize: 56, Shentsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// libEnv names a fixture of each native library in its variable, where the
// program looks when the config does not name one.
func libEnv(t testing.TB) map[string]string {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{}
	for _, l := range []serviceenv.NativeLib{serviceenv.ONNXRuntimeLib, serviceenv.TurboJPEGLib} {
		env[l.Env] = fakeLib(t, dir, l.Name, elf.EM_X86_64, elf.ET_DYN)
	}
	return env
}

// run runs stacks.Deploy (what stacks.Program runs) under mocks, with a stack file's
// configuration changed by overrides ("" deletes a key). The configuration goes
// through PULUMI_CONFIG, as the engine passes it. The native libraries are
// fixtures named by their variables.
func run(t *testing.T, stack string, overrides map[string]string) deployment {
	t.Helper()
	return runWith(t, stack, overrides, libEnv(t))
}

// runWith is run with the environment variables env set ("" unsets one).
func runWith(t *testing.T, stack string, overrides, env map[string]string) deployment {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	// The program only checks the assets exist and hands their paths to the
	// engine; a small fixture keeps these tests independent of the real data.
	t.Setenv(stackconfig.EnvData, assetstest.Dir(t))
	cfg := stackConfig(t, stack)
	for k, v := range overrides {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	j, _ := json.Marshal(cfg)
	t.Setenv(pulumi.EnvConfig, string(j))
	d := deployment{Recorder: &pulumimock.Recorder{}, stack: stack, outputs: map[string]any{}}
	var mu sync.Mutex
	var pending sync.WaitGroup // outputs not tied to a resource resolve outside the context's wait
	d.err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		outs, err := stacks.Deploy(ctx)
		for k, v := range outs {
			pending.Add(1)
			pulumi.ToOutput(v).ApplyT(func(x any) any {
				mu.Lock()
				d.outputs[k] = x
				mu.Unlock()
				pending.Done()
				return x
			})
		}
		return err
	}, pulumi.WithMocks("servebench", stack, d.Recorder))
	done := make(chan struct{})
	go func() { pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("stack outputs did not resolve")
	}
	return d
}

// mustRun is run that fails the test on a program error.
func mustRun(t *testing.T, stack string, overrides map[string]string) deployment {
	t.Helper()
	d := run(t, stack, overrides)
	if d.err != nil {
		t.Fatalf("program failed: %v", d.err)
	}
	return d
}

// archiveFile is the local file the Cloud Functions source archive carries at name.
func archiveFile(t *testing.T, d deployment, name string) string {
	t.Helper()
	for _, o := range d.ByType("gcp:storage/bucketObject:BucketObject") {
		if src := o.Raw["source"]; strings.HasPrefix(fmt.Sprint(o.Inputs["name"]), "service-") && src.IsArchive() {
			if a, ok := src.ArchiveValue().Assets[name].(*asset.Asset); ok {
				return a.Path
			}
			t.Fatalf("the source archive holds %v at %s, want a file", src.ArchiveValue().Assets[name], name)
		}
	}
	t.Fatal("no source archive")
	return ""
}
