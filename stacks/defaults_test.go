package stacks_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/internal/assetstest"
	"github.com/servebench/servebench/internal/pulumimock"
	"github.com/servebench/servebench/stacks"
	"github.com/servebench/servebench/stacks/stackconfig"
	"github.com/servebench/servebench/study"
)

// load runs stacks.Load on a configuration of only a mode and a region.
func load(t *testing.T, mode string) *stacks.Config {
	t.Helper()
	t.Setenv(stackconfig.EnvData, assetstest.Dir(t))
	j, _ := json.Marshal(map[string]string{stackconfig.KeyMode: mode, stackconfig.KeyAWSRegion: "us-east-1"})
	t.Setenv(pulumi.EnvConfig, string(j))
	var cfg *stacks.Config
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		var err error
		cfg, err = stacks.Load(ctx)
		return err
	}, pulumi.WithMocks("servebench", mode, &pulumimock.Recorder{}))
	if err != nil {
		t.Fatalf("Load %s: %v", mode, err)
	}
	return cfg
}

// Unset keys take the study's values (package study), and each key's documented
// default (stackconfig.Keys, the README's table) is the value Load applies.
func TestConfigDefaultsAreTheStudys(t *testing.T) {
	sf, sl := load(t, stackconfig.ModeServerful), load(t, stackconfig.ModeServerless)
	s, l := sf.Serverful, sl.Serverless
	for key, c := range map[string]struct{ got, want any }{
		stackconfig.KeyImageKeep:        {sf.ImageKeep, study.ImagesKept},
		stackconfig.KeyLogRetentionDays: {sf.LogRetentionDays, study.LogRetentionDays},
		stackconfig.KeyVpcCIDR:          {s.VpcCIDR, study.VpcCIDR},
		stackconfig.KeyInstanceType:     {s.InstanceType, study.InstanceType},
		stackconfig.KeyMinSize:          {s.MinSize, study.MinInstances},
		stackconfig.KeyMaxSize:          {s.MaxSize, study.MaxInstances},
		stackconfig.KeyCPUTarget:        {s.CPUTarget, study.CPUTargetPercent},
		stackconfig.KeyScaleInCooldown:  {s.ScaleInCooldown, study.ScaleInCooldownSeconds},
		stackconfig.KeyScaleOutCooldown: {s.ScaleOutCooldown, study.ScaleOutCooldownSeconds},
		stackconfig.KeyTaskCPU:          {s.TaskCPU, study.TaskCPU},
		stackconfig.KeyTaskMemoryMB:     {s.TaskMemoryMB, study.TaskMemoryMB},
		stackconfig.KeyListenerPort:     {s.ListenerPort, study.ListenerPort},
		stackconfig.KeyIngressCIDRs:     {s.IngressCIDRs, []string{study.IngressCIDR}},
		stackconfig.KeyLambdaMemoryMB:   {l.LambdaMemoryMB, study.LambdaMemoryMB},
		stackconfig.KeyLambdaTimeout:    {l.LambdaTimeout, study.LambdaTimeoutSeconds},
		stackconfig.KeyThrottleRate:     {l.ThrottleRate, study.ThrottleRate},
		stackconfig.KeyThrottleBurst:    {l.ThrottleBurst, study.ThrottleBurst},
		stackconfig.KeyGCPMemoriesMB:    {l.GCPMemoriesMB, []int{study.GCFMemoryMB}},
		stackconfig.KeyGCPTimeout:       {l.GCPTimeout, study.GCFTimeoutSeconds},
		stackconfig.KeyGCPMaxInstances:  {l.GCPMaxInstances, study.GCFMaxInstances},
		stackconfig.KeyGCPPublic:        {l.GCPPublic, study.GCFPublic},
	} {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s unset: %v, want the study's %v", key, c.got, c.want)
		}
		if doc := documented(t, key); doc != documentedForm(c.got) {
			t.Errorf("%s: documented default %q, but Load applies %v", key, doc, c.got)
		}
	}
}

// documented is a key's default as stackconfig.Keys (and so the README) states it.
func documented(t *testing.T, key string) string {
	t.Helper()
	for _, k := range stackconfig.Keys {
		if k.Name == key {
			return k.Default
		}
	}
	t.Fatalf("%s is not in stackconfig.Keys", key)
	return ""
}

// documentedForm writes a loaded value as the key table does: lists as JSON.
func documentedForm(v any) string {
	switch v := v.(type) {
	case []string, []int:
		b, _ := json.Marshal(v)
		return string(b)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}
