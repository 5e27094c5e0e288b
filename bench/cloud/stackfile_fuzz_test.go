package cloud

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/scenario"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// FuzzStackFile reads a committed stack file as `servebench cloud`'s preflight
// does (readStackFile) and prices it as its estimate does, the file being a
// stack's minimal one (mode and region, and for the third variant a gcp:project)
// with one key, picked by the fuzzer, set to any YAML. What must hold: no panic; a file that does not read is an error
// naming the file and the key, or what is wrong with its YAML (the parser's
// message, with the line where it has one); a file that reads either prices or
// fails naming the file and the key (or, for an instance type the price list
// lacks, the type and what to do), never for a whole number above 0 as the
// program reads it (trimmed).
func FuzzStackFile(f *testing.F) {
	keys := stackconfig.ReadKeys()
	for _, s := range []struct {
		key     string
		variant uint8
		value   string
	}{
		{stackconfig.KeyMaxSize, 0, "4"},
		{stackconfig.KeyMaxSize, 0, "' 4'"},
		{stackconfig.KeyMaxSize, 0, "4.5"},
		{stackconfig.KeyMaxSize, 0, "-1"},
		{stackconfig.KeyMaxSize, 0, "99999999999999999999999"},
		{stackconfig.KeyMaxSize, 0, ".inf"},
		{stackconfig.KeySubnetIDs, 0, "[subnet-0123456789abcdef0, subnet-0123456789abcdef1]"},
		{stackconfig.KeySubnetIDs, 0, "{a: 1}"},
		{stackconfig.KeyInstanceType, 0, "m7i.large"},
		{stackconfig.KeyLambdaMemoryMB, 1, "2048"},
		{stackconfig.KeyLambdaTimeout, 1, "null"},
		{stackconfig.KeyGCPProject, 1, "servebench-1"},
		{stackconfig.KeyGCPMemoriesMB, 2, "[1024, 2048]"},
		{stackconfig.KeyGCPMemoriesMB, 2, "1024"},
		{stackconfig.KeyGCPMemoriesMB, 2, "[]"},
		{stackconfig.KeyGCPMemoriesMB, 2, "[0, 1024]"},
		{stackconfig.KeyGCPTimeout, 2, "[540]"},
		{stackconfig.KeyGCPTimeout, 2, "0"},
		{stackconfig.KeySubnetIDs, 0, "[]"},
		{stackconfig.KeyInstanceType, 0, "' '"},
		{stackconfig.KeyInstanceType, 0, "' t3a.xlarge'"},
		{stackconfig.KeyMode, 1, "serverful"},
		{stackconfig.KeyAWSRegion, 0, ""},
		{stackconfig.KeyVpcID, 0, "{1: 2}"},  // a map YAML keys by a number
		{stackconfig.KeyVpcID, 0, "&a [*a]"}, // an alias of itself
		{stackconfig.KeyVpcID, 0, "x\n bad: indent"},
		{stackconfig.KeyVpcID, 0, "!!binary aGVsbG8="},
	} {
		f.Add(uint8(slices.Index(keys, s.key)), s.variant, s.value)
	}
	// A small run to price: the estimate reads the stack's sizes and limits.
	o := Options{
		Scenarios: []scenario.Scenario{scenario.Batches{Size: 2, Batches: 1},
			scenario.ColdWarm{Burst: 2, FacesBurst: 1, Functions: []string{"predict", "faces/train"}, FacesTimeout: 540 * time.Second}},
		Timeout: 30 * time.Second, DeployAllowance: 30 * time.Minute, LambdaMemoryMB: []int{1024}, Prices: cost.Default(),
	}
	f.Fuzz(func(t *testing.T, keyIndex, variant uint8, value string) {
		key := keys[int(keyIndex)%len(keys)]
		// Serverful, serverless, or serverless with Cloud Functions, whose
		// keys the estimate reads only with a gcp:project.
		stack := []string{"serverful", "serverless", "serverless"}[variant%3]
		base := map[string]string{stackconfig.KeyMode: stack, stackconfig.KeyAWSRegion: "us-east-1"}
		if variant%3 == 2 {
			base[stackconfig.KeyGCPProject] = "servebench-test"
		}
		var file strings.Builder
		file.WriteString("config:\n")
		for _, k := range slices.Sorted(maps.Keys(base)) {
			if k != key {
				fmt.Fprintf(&file, "  %s: %s\n", k, base[k])
			}
		}
		fmt.Fprintf(&file, "  %s: %s\n", key, value)
		name := "Pulumi." + stack + ".yaml"

		p, err := readStackFile(&fakeEngine{files: map[string]string{stack: file.String()}}, stack)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, name+": ") || !strings.Contains(msg, key) && !strings.HasPrefix(msg, name+": yaml: ") {
				t.Fatalf("%s = %q: error %q names neither the file and the key nor what is wrong with its YAML", key, value, msg)
			}
			return
		}
		if _, err := estimate(o, []stackPlan{p}); err != nil {
			msg := err.Error()
			unpriced := strings.HasPrefix(msg, "estimate: ") && strings.Contains(msg, "-prices") &&
				strings.Contains(msg, fmt.Sprintf("no EC2 price for %q", strings.TrimSpace(p.get(stackconfig.KeyInstanceType))))
			if !unpriced && (!strings.HasPrefix(msg, name+": ") || !strings.Contains(msg, key)) {
				t.Fatalf("%s = %q: estimate error %q does not name the file and the key", key, value, msg)
			}
			// The program trims a whole number; what it reads as one above 0,
			// the estimate prices.
			integer := slices.ContainsFunc(stackconfig.Keys, func(k stackconfig.Key) bool { return k.Name == key && k.Type == "integer" })
			if n, err := strconv.Atoi(strings.TrimSpace(p.config[key])); integer && err == nil && n > 0 && !unpriced {
				t.Fatalf("%s = %q: refused (%q), but the program reads it as %d", key, value, msg, n)
			}
		}
	})
}
