package stacks_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/internal/assetstest"
	"github.com/servebench/servebench/internal/pulumimock"
	"github.com/servebench/servebench/stacks"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// FuzzStackConfig runs stacks.Load under Pulumi's mocks on a stack's minimal
// configuration (its mode and region, as the committed stack files set, and for
// the third variant a gcp:project, which turns the Cloud Functions keys on) with
// one key, picked by the fuzzer, set to any value. What must hold: no panic; either
// a Config, the value being of the key's type (a bad value is reported, never
// replaced by the default), or an error every line of which names that key (a
// value that breaks a rule between two keys names both), and names the value
// where there is one to name.
func FuzzStackConfig(f *testing.F) {
	keys := stackconfig.ReadKeys()
	// The environment Load consults: the assets fixture, fixture libraries for
	// the Cloud Functions archive, and no engine configuration beyond the mock's.
	f.Setenv(stackconfig.EnvData, assetstest.Dir(f))
	for k, v := range libEnv(f) {
		f.Setenv(k, v)
	}
	f.Setenv(pulumi.EnvConfig, "")
	for i, k := range keys {
		for _, doc := range stackconfig.Keys {
			if doc.Name == k && doc.Default != "" && !strings.HasPrefix(doc.Default, "$") {
				f.Add(uint8(i), variantOf(doc.Mode), doc.Default)
			}
		}
	}
	for _, s := range []struct {
		key     string
		variant uint8
		value   string
	}{
		{stackconfig.KeyMode, 0, "kubernetes"},
		{stackconfig.KeyMinSize, 0, " 3 "},
		{stackconfig.KeyMinSize, 0, "99999999999999999999"},
		{stackconfig.KeyMaxSize, 0, "0x10"},
		{stackconfig.KeyVpcID, 0, "vpc-0123456789abcdef0"},
		{stackconfig.KeySubnetIDs, 0, `["subnet-0123456789abcdef0"]`},
		{stackconfig.KeyIngressCIDRs, 0, `[null, 1, "10.0.0.1/8"]`},
		{stackconfig.KeyVpcCIDR, 0, "10.0.0.0/28"},
		{stackconfig.KeyAssetsDir, 0, "../../etc"},
		{stackconfig.KeyAssetsDir, 0, "a\nb"},
		{stackconfig.KeyFacesSource, 1, "https://example.com/orl.zip"},
		{stackconfig.KeyFacesSource, 1, "file:///etc/passwd"},
		{stackconfig.KeyLambdaTimeout, 1, "31"},
		{stackconfig.KeyLambdaReservedConcurrency, 1, ""},
		{stackconfig.KeyGCPPublic, 1, "yes please"},
		{stackconfig.KeyGCPInvokers, 1, `["user:a@example.com", ""]`},
		{stackconfig.KeyGCPMemoriesMB, 1, "[1024,1024]"},
		{stackconfig.KeyGCPMemoriesMB, 1, "[]"},
		{stackconfig.KeyGCPProject, 1, "servebench-1"},
		{stackconfig.KeyONNXRuntimeLib, 2, "/nonexistent/lib.so"},
		{stackconfig.KeyTurboJPEGLib, 2, "go.mod"}, // there, but no shared object
		{stackconfig.KeyGCPRegion, 2, "us-central1 "},
		{stackconfig.KeyAWSRegion, 0, "us-east-1\x00"},
		{stackconfig.KeyGCPRegion, 1, "europe-west1"},
		{stackconfig.KeyInputBucket, 0, "a..b"},
	} {
		f.Add(uint8(slices.Index(keys, s.key)), s.variant, s.value)
	}
	f.Fuzz(func(t *testing.T, keyIndex, variant uint8, value string) {
		key := keys[int(keyIndex)%len(keys)]
		// The engine hands the program its configuration as JSON (PULUMI_CONFIG),
		// where bytes that are not UTF-8 arrive as U+FFFD: so here.
		if b, err := json.Marshal(value); err != nil || json.Unmarshal(b, &value) != nil {
			t.Fatalf("%q does not go through JSON: %v", value, err)
		}
		cfg := baseConfig(variant)
		mode := cfg[stackconfig.KeyMode]
		cfg[key] = value
		var (
			got     *stacks.Config
			loadErr error
		)
		err := pulumi.RunErr(func(ctx *pulumi.Context) error {
			got, loadErr = stacks.Load(ctx)
			return loadErr
		}, pulumi.WithMocks("servebench", mode, &pulumimock.Recorder{}), func(info *pulumi.RunInfo) { info.Config = cfg })
		switch {
		case loadErr != nil:
			checkConfigError(t, key, value, loadErr)
		case err != nil:
			t.Fatalf("%s = %q: Load passed, the run failed: %v", key, value, err)
		case got == nil:
			t.Fatalf("%s = %q: no Config and no error", key, value)
		case !ofType(key, value):
			t.Fatalf("%s = %q accepted, not of the key's type: a bad value must be reported, never replaced", key, value)
		}
	})
}

// baseConfig is the configuration a fuzzed key is added to: serverful (variant
// 0), serverless (1), or serverless with Cloud Functions (2), as the committed
// stack files set them (plus gcp:project).
func baseConfig(variant uint8) map[string]string {
	cfg := map[string]string{stackconfig.KeyMode: stackconfig.ModeServerful, stackconfig.KeyAWSRegion: "us-east-1"}
	if variant%3 > 0 {
		cfg[stackconfig.KeyMode] = stackconfig.ModeServerless
	}
	if variant%3 == 2 {
		cfg[stackconfig.KeyGCPProject] = "servebench-test"
	}
	return cfg
}

// variantOf is the base configuration for a key of mode.
func variantOf(mode string) uint8 {
	if mode == stackconfig.ModeServerless {
		return 2
	}
	return 0
}

// ofType reports whether value reads as key's type (stackconfig.Keys; the
// provider keys are strings), as Pulumi hands it over: a string, structured
// values as JSON.
func ofType(key, value string) bool {
	v := strings.TrimSpace(value)
	for _, k := range stackconfig.Keys {
		if k.Name != key {
			continue
		}
		switch k.Type {
		case "integer":
			_, err := strconv.Atoi(v)
			return err == nil
		case "boolean":
			_, err := strconv.ParseBool(v)
			return err == nil
		case "array":
			var list []json.RawMessage
			return json.Unmarshal([]byte(value), &list) == nil
		}
	}
	return true
}

// pathKeys name files or directories: an error names the path as resolved
// against the project root (the directory above stacks/, where Pulumi.yaml is).
var pathKeys = []string{stackconfig.KeyAssetsDir, stackconfig.KeyONNXRuntimeLib, stackconfig.KeyTurboJPEGLib}

// checkConfigError checks every line of Load's error names key. A line about
// key itself ("config key = "v": why") names the value given, a part of it (one
// element of a list) or, for a path, the path it resolves to; one without a
// value ("config key: why") is for a blank value or a key of the other mode.
// Other lines are another key's, in a rule between the two.
func checkConfigError(t *testing.T, key, value string, err error) {
	msg := err.Error()
	lines, ok := strings.CutPrefix(msg, "invalid stack configuration:\n")
	if !ok {
		t.Fatalf("%s = %q: error %q is not Load's", key, value, msg)
	}
	v := strings.TrimSpace(value)
	for _, line := range strings.Split(lines, "\n") {
		if !strings.Contains(line, key) {
			t.Fatalf("%s = %q: error line %q does not name the key (whole error %q)", key, value, line, msg)
		}
		if rest, ok := strings.CutPrefix(line, "config "+key+" = "); ok {
			q, err := strconv.QuotedPrefix(rest)
			named, _ := strconv.Unquote(q)
			if err != nil || !strings.Contains(value, named) && named != resolve(key, v) {
				t.Fatalf("%s = %q: error line %q names another value", key, value, line)
			}
		} else if strings.HasPrefix(line, "config "+key+": ") && v != "" && !strings.Contains(line, "applies to mode") {
			t.Fatalf("%s = %q: error line %q does not name the value", key, value, line)
		}
	}
}

// resolve is the path a path key's value v names, as Load resolves it.
func resolve(key, v string) string {
	if !slices.Contains(pathKeys, key) || filepath.IsAbs(v) {
		return v
	}
	root, _ := filepath.Abs("..")
	return filepath.Join(root, v)
}
