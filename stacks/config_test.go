package stacks_test

import (
	"debug/elf"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/servebench/servebench/stacks/stackconfig"
)

// Every bad value fails the program before any resource is registered, with a
// message naming the key (and the value, and what is allowed).
func TestBadConfig(t *testing.T) {
	tmp := t.TempDir()
	cases := []struct {
		stack     string
		key, val  string
		wantInErr string
	}{
		{"serverful", "servebench:mode", "kubernetes", "valid modes: serverful, serverless"},
		{"serverful", "servebench:mode", "", "not set; valid modes: serverful, serverless"},
		{"serverful", "servebench:minSize", "zero", "not an integer"},
		{"serverful", "servebench:minSize", "0", "want 1 to 100"},
		{"serverful", "servebench:maxSize", "0", "want 1 to 100"},
		{"serverful", "servebench:minSize", "6", "below servebench:minSize (6)"},
		{"serverful", "servebench:outputBucket", strings.Repeat("a", 64), "not an S3 bucket name"},
		{"serverful", "servebench:cpuTarget", "150", "want 1 to 100"},
		{"serverful", "servebench:scaleInCooldown", "-1", "want 0 to 3600"},
		{"serverful", "servebench:instanceType", "t3a xlarge", "not an EC2 instance type"},
		{"serverful", "servebench:listenerPort", "70000", "want 1 to 65535"},
		{"serverful", "servebench:ingressCidrs", `["0.0.0.0/0","10.0.0.1/8"]`, "not a CIDR block"},
		{"serverful", "servebench:ingressCidrs", `"0.0.0.0/0"`, "not a list of strings"},
		{"serverful", "servebench:ingressCidrs", `[]`, "empty"},
		{"serverful", "servebench:vpcId", "vpc-0123456789abcdef0", "servebench:subnetIds: not set"},
		{"serverful", "servebench:subnetIds", `["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]`, "servebench:vpcId: not set"},
		{"serverful", "servebench:vpcCidr", "10.0.0.0/8", "want an IPv4 block"},
		{"serverful", "servebench:taskMemoryMb", "64", "want 128 to"},
		{"serverful", "servebench:logRetentionDays", "10", "CloudWatch keeps logs for one of"},
		{"serverful", "servebench:inputBucket", "Bad_Bucket", "not an S3 bucket name"},
		{"serverful", "servebench:imageKeep", "0", "want 1 to 1000"},
		{"serverful", "servebench:lambdaMemoryMb", "2048", "applies to mode serverless, not serverful"},
		{"serverful", "servebench:instanceTyp", "t3a.large", "unknown key (a typo?)"},
		{"serverful", "aws:region", "", "aws:region: not set"},
		{"serverful", "aws:region", "mars", "not an AWS region name"},
		{"serverful", "servebench:assetsDir", tmp, "no model at models/yolox_nano.onnx"},
		{"serverful", "servebench:assetsDir", filepath.Join(tmp, "missing"), "no such file or directory"},
		{"serverless", "servebench:lambdaTimeout", "60", "above the 30 s an API Gateway HTTP API waits"},
		{"serverless", "servebench:lambdaTimeout", "0", "want 4 to 900"},
		{"serverless", "servebench:lambdaTimeout", "3", "want 4 to 900"},
		{"serverless", "servebench:lambdaMemoryMb", "64", "want 128 to 10240"},
		{"serverless", "servebench:lambdaReservedConcurrency", "0", "want 1 to"},
		{"serverless", "servebench:throttleRateLimit", "0", "want 1 to 10000"},
		{"serverless", "servebench:throttleBurstLimit", "many", "not an integer"},
		{"serverless", "servebench:gcpMemoryMb", "[1000]", "Cloud Functions offers"},
		{"serverless", "servebench:gcpMemoryMb", "[1024,1024]", "listed twice"},
		{"serverless", "servebench:gcpMemoryMb", "1024", "not a list of integers"},
		{"serverless", "servebench:gcpTimeout", "4000", "want 1 to 3600"},
		{"serverless", "servebench:gcpPublic", "yes please", "not a boolean"},
		{"serverless", "servebench:gcpInvokers", `["bench@example.com"]`, "not an IAM member"},
		{"serverless", "servebench:gcpInputBucket", "UPPER", "not a GCS bucket name"},
		{"serverless", "gcp:project", "Not_A_Project", "not a GCP project id"},
		{"serverless", "servebench:minSize", "2", "applies to mode serverful, not serverless"},
	}
	for _, c := range cases {
		t.Run(c.key+"="+c.val, func(t *testing.T) {
			d := run(t, c.stack, map[string]string{c.key: c.val})
			if d.err == nil {
				t.Fatalf("%s = %q accepted", c.key, c.val)
			}
			msg := d.err.Error()
			if !strings.Contains(msg, c.key) || !strings.Contains(msg, c.wantInErr) {
				t.Errorf("error %q: want it to name %s and say %q", msg, c.key, c.wantInErr)
			}
			aboutValue := !strings.Contains(c.wantInErr, "not set") && !strings.Contains(c.wantInErr, "unknown key") && !strings.Contains(c.wantInErr, "applies to mode")
			if aboutValue && !strings.Contains(msg, c.val) && !strings.HasPrefix(c.val, "[") && !strings.HasPrefix(c.val, "\"") {
				t.Errorf("error %q does not quote the value %q", msg, c.val)
			}
			if len(d.Resources) != 0 {
				t.Errorf("%d resources registered before the error, want 0", len(d.Resources))
			}
		})
	}
}

// The two buckets must differ.
func TestSameBuckets(t *testing.T) {
	d := run(t, "serverful", map[string]string{"servebench:inputBucket": "sb-bucket", "servebench:outputBucket": "sb-bucket"})
	if d.err == nil || !strings.Contains(d.err.Error(), `servebench:outputBucket = "sb-bucket": same as servebench:inputBucket`) {
		t.Errorf("error %v", d.err)
	}
}

// Several bad values are all reported at once.
func TestBadConfigReportsAll(t *testing.T) {
	d := run(t, "serverless", map[string]string{
		"servebench:lambdaTimeout": "31", "servebench:gcpMemoryMb": "[3]", "servebench:imageKeep": "x",
	})
	if d.err == nil {
		t.Fatal("accepted")
	}
	for _, k := range []string{"servebench:lambdaTimeout", "servebench:gcpMemoryMb", "servebench:imageKeep"} {
		if !strings.Contains(d.err.Error(), k) {
			t.Errorf("error %q does not name %s", d.err, k)
		}
	}
}

// Pulumi.yaml and the stack files: the project name is the namespace of the keys,
// every key a stack file sets is one the program reads (a typo is caught here, not
// at deploy time), and each stack file picks its own mode.
func TestProjectAndStackFiles(t *testing.T) {
	var proj struct {
		Name    string
		Runtime any
		Config  map[string]struct {
			Type    string
			Default any
		}
	}
	b, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &proj); err != nil {
		t.Fatalf("Pulumi.yaml: %v", err)
	}
	if proj.Name != "servebench" || proj.Runtime != "go" {
		t.Errorf("Pulumi.yaml name %q runtime %v: the keys' namespace is servebench:", proj.Name, proj.Runtime)
	}
	known := stackconfig.KeyNames()
	for k, decl := range proj.Config {
		full := k
		if !strings.Contains(k, ":") {
			full = proj.Name + ":" + k
		}
		if !slices.Contains(known, full) {
			t.Errorf("Pulumi.yaml declares %s, which the program does not read", full)
		}
		// A declared key without a default is required by Pulumi: only mode is.
		if decl.Default == nil && full != stackconfig.KeyMode {
			t.Errorf("Pulumi.yaml declares %s without a default: Pulumi would require it", full)
		}
	}
	providerKeys := []string{stackconfig.KeyAWSRegion, stackconfig.KeyGCPProject, stackconfig.KeyGCPRegion, stackconfig.KeyAWSDefaultTags}
	for _, stack := range []string{"serverful", "serverless"} {
		cfg := stackConfig(t, stack)
		if cfg[stackconfig.KeyMode] != stack {
			t.Errorf("Pulumi.%s.yaml: mode %q", stack, cfg[stackconfig.KeyMode])
		}
		for k := range cfg {
			if !slices.Contains(known, k) && !slices.Contains(providerKeys, k) {
				t.Errorf("Pulumi.%s.yaml sets %s, which the program does not read", stack, k)
			}
		}
		if cfg[stackconfig.KeyAWSRegion] == "" {
			t.Errorf("Pulumi.%s.yaml: no aws:region", stack)
		}
		// The leftover check of `servebench cloud` finds resources by these tags.
		var tags struct{ Tags map[string]string }
		if err := json.Unmarshal([]byte(cfg[stackconfig.KeyAWSDefaultTags]), &tags); err != nil {
			t.Errorf("Pulumi.%s.yaml: aws:defaultTags %q: %v", stack, cfg[stackconfig.KeyAWSDefaultTags], err)
		} else if !maps.Equal(tags.Tags, stackconfig.DefaultTags(proj.Name, stack)) {
			t.Errorf("Pulumi.%s.yaml: aws:defaultTags %v, want tags %v", stack, tags.Tags, stackconfig.DefaultTags(proj.Name, stack))
		}
	}
	// The key table and the constants agree, and every key is documented.
	seen := map[string]bool{}
	for _, k := range stackconfig.Keys {
		if seen[k.Name] || !strings.HasPrefix(k.Name, "servebench:") || k.Doc == "" || k.Default == "" {
			t.Errorf("key %+v: duplicate, outside servebench: or undocumented", k)
		}
		seen[k.Name] = true
	}
}

// Every cloud resource belongs to one of the components, and its name is derived
// from the component's, so two instances of a component never collide.
func TestComponentsOwnTheirChildren(t *testing.T) {
	for _, c := range []struct {
		stack string
		over  map[string]string
	}{
		{"serverful", nil},
		{"serverless", map[string]string{"gcp:project": "servebench-test"}},
	} {
		d := mustRun(t, c.stack, c.over)
		components := map[string]bool{}
		for _, r := range d.Resources {
			if strings.HasPrefix(r.Type, "servebench:infra:") {
				components[r.Name] = true
				if !strings.HasPrefix(r.Name, "servebench-"+c.stack+"-") {
					t.Errorf("component %s does not carry the stack name", r.Name)
				}
			}
		}
		if len(components) < 3 {
			t.Fatalf("%s: components %v", c.stack, components)
		}
		for _, r := range d.Resources {
			if strings.HasPrefix(r.Type, "servebench:infra:") {
				continue
			}
			i := strings.LastIndex(r.Parent, "::")
			parent := r.Parent[i+2:]
			if i < 0 || !strings.Contains(r.Parent, "servebench:infra:") || !components[parent] {
				t.Errorf("%s %s: parent %q is not a component", r.Type, r.Name, r.Parent)
				continue
			}
			if !strings.HasPrefix(r.Name, parent+"-") {
				t.Errorf("%s %s: name not derived from its component %s", r.Type, r.Name, parent)
			}
		}
	}
}

// The libraries the Cloud Functions source archive carries: read only when GCP is
// deployed, from the key, else the library's variable, else the setup script's
// cache; a missing file or one Cloud Functions cannot load fails before any
// resource exists, naming the key, the path and the script that fetches it.
func TestNativeLibConfig(t *testing.T) {
	gcp := map[string]string{"gcp:project": "servebench-test"}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(gcp)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a library\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	arm := fakeLib(t, dir, "arm/libonnxruntime.so.1", elf.EM_AARCH64, elf.ET_DYN)
	exe := fakeLib(t, dir, "exe/libturbojpeg.so.0", elf.EM_X86_64, elf.ET_EXEC)
	missing := filepath.Join(dir, "missing", "libonnxruntime.so.1")
	for _, c := range []struct {
		key, path string
		want      []string
	}{
		{"servebench:onnxRuntimeLib", missing, []string{"no such file", "scripts/setup-onnxruntime", "SERVEBENCH_ONNXRUNTIME_LIB"}},
		{"servebench:turbojpegLib", text, []string{"not an ELF x86-64 shared object", "scripts/setup-turbojpeg"}},
		{"servebench:onnxRuntimeLib", arm, []string{"not an ELF x86-64 shared object", "EM_AARCH64"}},
		{"servebench:turbojpegLib", exe, []string{"not an ELF x86-64 shared object", "ET_EXEC"}},
	} {
		t.Run(c.key+"="+filepath.Base(filepath.Dir(c.path)), func(t *testing.T) {
			d := run(t, "serverless", with(c.key, c.path))
			if d.err == nil {
				t.Fatalf("%s = %s accepted", c.key, c.path)
			}
			for _, w := range append([]string{c.key, c.path}, c.want...) {
				if !strings.Contains(d.err.Error(), w) {
					t.Errorf("error %q does not say %q", d.err, w)
				}
			}
			if len(d.Resources) != 0 {
				t.Errorf("%d resources registered before the error, want 0", len(d.Resources))
			}
		})
	}

	// Neither key nor variable: the setup scripts' cache, named when empty.
	cache := t.TempDir()
	unset := map[string]string{"SERVEBENCH_ONNXRUNTIME_LIB": "", "SERVEBENCH_TURBOJPEG_LIB": "", "SERVEBENCH_CACHE": cache}
	d := runWith(t, "serverless", gcp, unset)
	for _, w := range []string{
		`servebench:onnxRuntimeLib = "` + filepath.Join(cache, "onnxruntime-1.30.0", "libonnxruntime.so.1") + `"`, "scripts/setup-onnxruntime",
		`servebench:turbojpegLib = "` + filepath.Join(cache, "turbojpeg-2.1.5", "libturbojpeg.so.0") + `"`, "scripts/setup-turbojpeg",
	} {
		if d.err == nil || !strings.Contains(d.err.Error(), w) {
			t.Errorf("empty cache: error %v, want it to say %q", d.err, w)
		}
	}
	ort := fakeLib(t, cache, "onnxruntime-1.30.0/libonnxruntime.so.1", elf.EM_X86_64, elf.ET_DYN)
	fakeLib(t, cache, "turbojpeg-2.1.5/libturbojpeg.so.0", elf.EM_X86_64, elf.ET_DYN)
	if d := runWith(t, "serverless", gcp, unset); d.err != nil {
		t.Errorf("libraries in the cache: %v", d.err)
	} else if got := archiveFile(t, d, "lib/libonnxruntime.so.1"); got != ort {
		t.Errorf("the archive carries %q, want the cached %s", got, ort)
	}
	// The key wins over the variable.
	env := libEnv(t)
	own := fakeLib(t, t.TempDir(), "libonnxruntime.so.1", elf.EM_X86_64, elf.ET_DYN)
	if d := runWith(t, "serverless", with("servebench:onnxRuntimeLib", own), env); d.err != nil {
		t.Errorf("servebench:onnxRuntimeLib set: %v", d.err)
	} else if got := archiveFile(t, d, "lib/libonnxruntime.so.1"); got != own {
		t.Errorf("the archive carries %q, want the key's %s over %s's %s", got, own, "SERVEBENCH_ONNXRUNTIME_LIB", env["SERVEBENCH_ONNXRUNTIME_LIB"])
	}

	// Without Cloud Functions nothing reads them: a Lambda-only stack deploys
	// without the libraries.
	gone := map[string]string{"SERVEBENCH_ONNXRUNTIME_LIB": missing, "SERVEBENCH_TURBOJPEG_LIB": missing}
	if d := runWith(t, "serverless", nil, gone); d.err != nil {
		t.Errorf("no gcp:project, libraries missing: %v", d.err)
	}
}
