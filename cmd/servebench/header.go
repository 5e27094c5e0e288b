package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/servebench/servebench/bench/results"
)

// header describes the run for the first line of its results file; deployments
// says what each target (by name) runs on, where known (nil when none is).
func header(ctx context.Context, started time.Time, config map[string]any, versions map[string]string, targets map[string]string,
	deployments map[string]results.Deployment, scenarios []string) results.Header {
	v := map[string]string{"go": runtime.Version(), "servebench": selfVersion(ctx)}
	for k, x := range versions {
		v[k] = x
	}
	return results.Header{
		Started:     started.UTC(),
		Command:     os.Args,
		Config:      config,
		Versions:    v,
		Machine:     machine(),
		Targets:     targets,
		Deployments: deployments,
		Scenarios:   scenarios,
	}
}

// selfVersion is the module version or VCS revision this binary was built from,
// else the checkout's git revision.
func selfVersion(ctx context.Context) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "(devel)"
	}
	return strings.TrimSpace(string(out))
}

func machine() results.Machine {
	host, _ := os.Hostname()
	m := results.Machine{Hostname: host, OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		if n, err := strconv.Atoi(strings.Fields(kb)[0]); err == nil {
			m.MemoryMB = n / 1024
		}
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
