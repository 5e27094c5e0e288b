package instance

import (
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

func TestThreadsOnLambda(t *testing.T) {
	for _, c := range []struct{ mb, cpus, want int }{
		{128, 2, 1},
		{1024, 2, 1},   // 0.58 vCPU of time
		{1768, 2, 1},   // just under one vCPU
		{1769, 2, 1},   // exactly one
		{1770, 2, 2},   // just over: the second thread uses the rest
		{3008, 2, 2},   // last size with 2 vCPUs exposed
		{3009, 3, 2},   // 3 exposed, 1.70 vCPU of time
		{3538, 3, 2},   // exactly two
		{3539, 3, 3},   //
		{5307, 3, 3},   // exactly three
		{5308, 4, 4},   // 4 exposed
		{7076, 4, 4},   // exactly four
		{7077, 5, 5},   // 5 exposed
		{8845, 5, 5},   // exactly five
		{8846, 6, 6},   // 6 exposed
		{10240, 6, 6},  // the largest size
		{10240, 2, 2},  // a local Lambda emulator on a 2-CPU machine
		{1770, 1, 1},   // never more than the CPUs seen
		{20000, 64, 6}, // beyond Lambda's range: the exposed vCPUs still cap it
	} {
		n, why := ThreadsFor(Host{Platform: "lambda", MemoryMB: c.mb, NumCPU: c.cpus, MaxProcs: 99})
		if n != c.want || !strings.Contains(why, "lambda") {
			t.Errorf("lambda %d MB on %d CPUs: %d threads (%s), want %d", c.mb, c.cpus, n, why, c.want)
		}
	}
}

// TestLambdaExposedVCPUs pins the vCPUs Lambda exposes at each boundary; within
// Lambda's sizes the CPU-time share is the tighter limit, so ThreadsFor alone
// would not show a wrong row.
func TestLambdaExposedVCPUs(t *testing.T) {
	for _, c := range []struct{ mb, want int }{
		{128, 2}, {3008, 2}, {3009, 3}, {5307, 3}, {5308, 4}, {7076, 4}, {7077, 5}, {8845, 5}, {8846, 6}, {10240, 6},
	} {
		if got := lambdaVCPUs(c.mb); got != c.want {
			t.Errorf("lambda %d MB: %d vCPUs exposed, want %d", c.mb, got, c.want)
		}
	}
}

func TestThreadsOnCloudFunctions(t *testing.T) {
	for _, c := range []struct{ mb, cpus, want int }{
		{128, 8, 1},   // .083
		{256, 8, 1},   // .167
		{512, 8, 1},   // .333
		{1024, 8, 1},  // .583
		{2048, 8, 1},  // 1
		{3072, 8, 1},  // between 2 and 4 GiB: the smaller row's 1 vCPU
		{4095, 8, 1},  //
		{4096, 8, 2},  // 2
		{8192, 8, 2},  // 2
		{16383, 8, 2}, //
		{16384, 8, 4}, // 4
		{32768, 8, 8}, // 8
		{32768, 2, 2}, // capped by the CPUs seen
		{64, 8, 1},    // below the table: still one thread
	} {
		n, why := ThreadsFor(Host{Platform: "cloudfunctions", MemoryMB: c.mb, NumCPU: c.cpus, MaxProcs: 99})
		if n != c.want || !strings.Contains(why, "cloudfunctions") {
			t.Errorf("cloudfunctions %d MB on %d CPUs: %d threads (%s), want %d", c.mb, c.cpus, n, why, c.want)
		}
	}
}

func TestThreadsFromCgroup(t *testing.T) {
	v2 := func(s string) fstest.MapFS { return fstest.MapFS{"cpu.max": {Data: []byte(s)}} }
	v1 := func(dir, quota, period string) fstest.MapFS {
		fs := fstest.MapFS{dir + "/cpu.cfs_quota_us": {Data: []byte(quota)}}
		if period != "" {
			fs[dir+"/cpu.cfs_period_us"] = &fstest.MapFile{Data: []byte(period)}
		}
		return fs
	}
	for _, c := range []struct {
		name     string
		fs       fstest.MapFS
		platform string
		want     int
		why      string // a word the reason must carry
	}{
		{"v2 no quota", v2("max 100000\n"), "ecs", 3, "no cgroup CPU quota"},
		{"v2 two CPUs", v2("200000 100000\n"), "ecs", 2, "quota"},
		{"v2 one and a half", v2("150000 100000\n"), "local", 2, "quota"},
		{"v2 half a CPU", v2("50000 100000\n"), "local", 1, "quota"},
		{"v2 just over one", v2("100001 100000\n"), "local", 2, "quota"},
		{"v2 above the CPUs seen", v2("800000 100000\n"), "ecs", 4, "quota"},
		{"v1 two CPUs", v1("cpu", "200000\n", "100000\n"), "ecs", 2, "quota"},
		{"v1 cpu,cpuacct", v1("cpu,cpuacct", "300000\n", "100000\n"), "ecs", 3, "quota"},
		{"v1 no quota", v1("cpu", "-1\n", "100000\n"), "ecs", 3, "no cgroup CPU quota"},
		{"no cgroup files", fstest.MapFS{}, "local", 3, "no cgroup CPU quota"},
		{"lambda without memory", v2("100000 100000"), "lambda", 1, "quota"},
		{"cloudfunctions without memory", v2("max 100000"), "cloudfunctions", 3, "no cgroup CPU quota"},
		// Malformed files: the quota is unknown, so GOMAXPROCS, and the reason says why.
		{"v2 empty", v2(""), "ecs", 3, "cpu.max"},
		{"v2 one field", v2("200000"), "ecs", 3, "cpu.max"},
		{"v2 three fields", v2("200000 100000 1"), "ecs", 3, "cpu.max"},
		{"v2 words", v2("lots 100000"), "ecs", 3, "cpu.max quota"},
		{"v2 zero quota", v2("0 100000"), "ecs", 3, "cpu.max quota"},
		{"v2 negative quota", v2("-5 100000"), "ecs", 3, "cpu.max quota"},
		{"v2 zero period", v2("200000 0"), "ecs", 3, "cpu.max period"},
		{"v2 max with bad period", v2("max x"), "ecs", 3, "cpu.max period"},
		{"v1 bad quota", v1("cpu", "abc", "100000"), "ecs", 3, "cfs_quota_us"},
		{"v1 no period", v1("cpu", "200000", ""), "ecs", 3, "cfs_period_us"},
		{"v1 zero period", v1("cpu", "200000", "0"), "ecs", 3, "cfs_period_us"},
	} {
		n, why := ThreadsFor(Host{Platform: c.platform, Cgroup: c.fs, NumCPU: 4, MaxProcs: 3})
		if n != c.want || !strings.Contains(why, c.why) {
			t.Errorf("%s: %d threads (%s), want %d and a reason naming %q", c.name, n, why, c.want, c.why)
		}
	}
	if n, _ := ThreadsFor(Host{Platform: "local", MaxProcs: 5, NumCPU: 8}); n != 5 {
		t.Errorf("no cgroup file system: %d threads, want GOMAXPROCS 5", n)
	}
}

// TestThreadsOverrideAndEnvironment: the instance applies the rule to the
// platform and memory it read from the environment, and an override wins.
func TestThreadsOverrideAndEnvironment(t *testing.T) {
	for _, k := range []string{"SERVEBENCH_MEMORY_MB", "AWS_LAMBDA_FUNCTION_NAME", "ECS_CONTAINER_METADATA_URI_V4", "K_SERVICE", "FUNCTION_TARGET"} {
		t.Setenv(k, "")
	}
	t.Setenv("SERVEBENCH_PLATFORM", "lambda")
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
	in := New()
	if n, why := in.Threads(0); n != 1 || !strings.Contains(why, "lambda 1024 MB") {
		t.Errorf("lambda 1024 MB: %d threads (%s), want 1", n, why)
	}
	if n, why := in.Threads(3); n != 3 || !strings.Contains(why, "SERVEBENCH_THREADS") {
		t.Errorf("override 3: %d threads (%s), want 3 from SERVEBENCH_THREADS", n, why)
	}
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3538")
	if n, _ := New().Threads(0); n != min(2, runtime.NumCPU()) {
		t.Errorf("lambda 3538 MB: %d threads, want %d", n, min(2, runtime.NumCPU()))
	}
}
