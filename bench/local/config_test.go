package local

import (
	"testing"
	"time"

	"github.com/servebench/servebench/study"
)

// Unset, the local serverful side scales as the study's ECS service did (package
// study); set, a field keeps its value.
func TestServerfulDefaultsAreTheStudys(t *testing.T) {
	got := ServerfulConfig{}.WithDefaults()
	want := ServerfulConfig{
		Min: study.MinInstances, Max: study.MaxInstances, ScaleOutCPU: study.CPUTargetPercent,
		ScaleInIdle: study.ScaleInCooldownSeconds * time.Second, Interval: DefaultScaleInterval,
	}
	if got.Min != want.Min || got.Max != want.Max || got.ScaleOutCPU != want.ScaleOutCPU || got.ScaleInIdle != want.ScaleInIdle || got.Interval != want.Interval {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	set := ServerfulConfig{Min: 2, Max: 3, ScaleOutCPU: 5, ScaleInIdle: time.Second, Interval: time.Millisecond}.WithDefaults()
	if set.Min != 2 || set.Max != 3 || set.ScaleOutCPU != 5 || set.ScaleInIdle != time.Second || set.Interval != time.Millisecond {
		t.Errorf("set fields replaced: %+v", set)
	}
	sl := ServerlessConfig{}.WithDefaults()
	if sl.MaxInstances != DefaultServerlessMax || sl.KeepAlive != DefaultKeepAlive || sl.Interval != DefaultSampleInterval {
		t.Errorf("serverless defaults %+v", sl)
	}
}
