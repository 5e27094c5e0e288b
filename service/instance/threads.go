package instance

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/servebench/servebench/service/config"
)

// Host is what the thread rule reads about the machine an instance runs on.
type Host struct {
	Platform string // as New detects it: lambda, cloudfunctions, ecs, local, …
	MemoryMB int    // the platform's memory size; 0 when unknown
	Cgroup   fs.FS  // the cgroup file system (/sys/fs/cgroup); nil when there is none
	NumCPU   int    // CPUs the process may run on (runtime.NumCPU)
	MaxProcs int    // runtime.GOMAXPROCS(0): the answer when nothing limits the CPU
}

// lambdaMBPerVCPU is the memory size at which a Lambda function gets one vCPU of
// CPU time: "At 1,769 MB, a function has the equivalent of one vCPU"
// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
const lambdaMBPerVCPU = 1769

// lambdaExposed are the vCPUs a Lambda function sees, by memory size: 2 up to
// 3008 MB, then one more from each step. AWS documents only the end point (6
// vCPUs at 10,240 MB); the steps are measured in
// https://github.com/rwnx/lambda-cpuinfo (README, "vCPU Count").
var lambdaExposed = []struct{ fromMB, vcpus int }{
	{0, 2}, {3009, 3}, {5308, 4}, {7077, 5}, {8846, 6},
}

// lambdaVCPUs is how many vCPUs a Lambda function of mb MB sees.
func lambdaVCPUs(mb int) int {
	n := 0
	for _, r := range lambdaExposed {
		if mb >= r.fromMB {
			n = r.vcpus
		}
	}
	return n
}

// gcfMilliCPU is the CPU of a Cloud Run function (2nd gen) by memory size when the
// deployment sets no CPU (infra/gcpfunctions sets none), in thousandths of a vCPU
// (https://cloud.google.com/functions/docs/configuring/memory).
var gcfMilliCPU = []struct{ fromMB, milli int }{
	{0, 83}, {256, 167}, {512, 333}, {1024, 583}, {2048, 1000},
	{4096, 2000}, {8192, 2000}, {16384, 4000}, {32768, 8000},
}

// ThreadsFor is how many threads CPU-bound work (the detector's intra-op pool)
// should use on h, and why, in words for the log. The rule is one for every
// platform: as many threads as the CPU time the instance is granted rounds up
// to, never more than the CPUs it can run on, at least one. Fewer threads would
// leave granted CPU time unused; more than the grant only take turns on it, and
// an ONNX Runtime pool whose threads are throttled waits at every barrier for
// the one that is descheduled.
//
//   - lambda: memory/1769 MB of vCPU time, capped by the vCPUs Lambda exposes at
//     that size (1024 MB → 1, 3008 MB → 2, 10240 MB → 6).
//   - cloudfunctions: the CPU Google pairs with the memory size (1 GiB → 0.583
//     vCPU → 1, 4 GiB → 2); a size between two rows gets the smaller row's CPU,
//     so the pool never outnumbers what is surely granted.
//   - anything else (containers): the cgroup CPU quota (v2 cpu.max, else v1
//     cpu.cfs_quota_us / cpu.cfs_period_us); no quota → MaxProcs. A lambda or
//     cloudfunctions platform whose memory is unknown falls back to this too.
//
// Go's own GOMAXPROCS is not the answer: it never goes below 2 under a quota,
// and counts Go's scheduler slots, not the native threads ONNX Runtime starts.
func ThreadsFor(h Host) (int, string) {
	switch {
	case h.Platform == "lambda" && h.MemoryMB > 0:
		exposed := lambdaVCPUs(h.MemoryMB)
		share := ceilDiv(int64(h.MemoryMB), lambdaMBPerVCPU)
		return fit(min(share, exposed), h.NumCPU), fmt.Sprintf("lambda %d MB: %.3g vCPU of CPU time, %d vCPUs exposed, %d CPUs seen",
			h.MemoryMB, float64(h.MemoryMB)/lambdaMBPerVCPU, exposed, h.NumCPU)
	case h.Platform == "cloudfunctions" && h.MemoryMB > 0:
		milli := 0
		for _, r := range gcfMilliCPU {
			if h.MemoryMB >= r.fromMB {
				milli = r.milli
			}
		}
		return fit(ceilDiv(int64(milli), 1000), h.NumCPU), fmt.Sprintf("cloudfunctions %d MB: %.3g vCPU, %d CPUs seen",
			h.MemoryMB, float64(milli)/1000, h.NumCPU)
	}
	quota, period, err := cgroupQuota(h.Cgroup)
	switch {
	case err != nil:
		return max(h.MaxProcs, 1), fmt.Sprintf("GOMAXPROCS %d: the cgroup CPU quota is unreadable: %v", h.MaxProcs, err)
	case quota == 0:
		return max(h.MaxProcs, 1), fmt.Sprintf("GOMAXPROCS %d: no cgroup CPU quota", h.MaxProcs)
	}
	return fit(ceilDiv(quota, period), h.NumCPU), fmt.Sprintf("cgroup CPU quota %d/%d µs (%.3g CPUs), %d CPUs seen",
		quota, period, float64(quota)/float64(period), h.NumCPU)
}

// fit keeps n within 1 and the CPUs seen (when known).
func fit(n, numCPU int) int {
	if numCPU > 0 {
		n = min(n, numCPU)
	}
	return max(n, 1)
}

func ceilDiv(a, b int64) int {
	return int((a + b - 1) / b)
}

// cgroupQuota reads the CPU quota and its period, in µs, from the cgroup file
// system: v2's cpu.max ("max 100000" or "200000 100000"), else v1's
// cpu/cpu.cfs_quota_us and cpu/cpu.cfs_period_us (quota -1: none). quota is 0
// when there is no quota or no cgroup file at all.
func cgroupQuota(fsys fs.FS) (quota, period int64, err error) {
	if fsys == nil {
		return 0, 0, nil
	}
	b, err := fs.ReadFile(fsys, "cpu.max")
	if err == nil {
		f := strings.Fields(string(b))
		if len(f) != 2 {
			return 0, 0, fmt.Errorf("cpu.max %q: want \"max PERIOD\" or \"QUOTA PERIOD\"", b)
		}
		if period, err = positive("cpu.max period", f[1]); err != nil {
			return 0, 0, err
		}
		if f[0] == "max" {
			return 0, period, nil
		}
		quota, err = positive("cpu.max quota", f[0])
		return quota, period, err
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return 0, 0, err
	}
	// v1 mounts the controller as cpu (often a link to cpu,cpuacct).
	for _, dir := range []string{"cpu", "cpu,cpuacct"} {
		b, err := fs.ReadFile(fsys, dir+"/cpu.cfs_quota_us")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		if strings.TrimSpace(string(b)) == "-1" {
			return 0, 0, nil
		}
		if quota, err = positive(dir+"/cpu.cfs_quota_us", string(b)); err != nil {
			return 0, 0, err
		}
		p, err := fs.ReadFile(fsys, dir+"/cpu.cfs_period_us")
		if err != nil {
			return 0, 0, err
		}
		period, err = positive(dir+"/cpu.cfs_period_us", string(p))
		return quota, period, err
	}
	return 0, 0, nil
}

func positive(what, s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive whole number", what, strings.TrimSpace(s))
	}
	return n, nil
}

// cgroupRoot is where the cgroup file system is mounted; inside a container
// (cgroup namespace) it shows the container's own limits.
const cgroupRoot = "/sys/fs/cgroup"

// Threads is how many threads the detector should run with on this instance, and
// why: override when it is above zero (config.EnvThreads), else ThreadsFor this
// process's platform, memory, cgroup and CPUs. The service's start calls it once.
func (in *Instance) Threads(override int) (int, string) {
	if override > 0 {
		return override, config.EnvThreads
	}
	return ThreadsFor(Host{Platform: in.platform, MemoryMB: in.memoryMB, Cgroup: os.DirFS(cgroupRoot),
		NumCPU: runtime.NumCPU(), MaxProcs: runtime.GOMAXPROCS(0)})
}
