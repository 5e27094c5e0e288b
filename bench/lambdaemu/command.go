package lambdaemu

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Function is what Lambda knows of a function: its bootstrap, memory and timeout.
type Function struct {
	Bootstrap string        // path of the executable the emulator runs as the runtime
	MemoryMB  int           // AWS_LAMBDA_FUNCTION_MEMORY_SIZE; 0 leaves the emulator's 3008
	Timeout   time.Duration // AWS_LAMBDA_FUNCTION_TIMEOUT, whole seconds; 0 leaves its 300 s
}

// Command returns the emulator rie running f, taking invokes on addr and serving
// the Runtime API to the bootstrap on apiAddr (host:port each). Every emulator on a
// host needs its own apiAddr: the default, 127.0.0.1:9001, would be shared. The
// command's environment is this process's (the emulator hands it on to the
// function) with f's settings; append the function's own after it. The caller sets
// its output (a Log's writers) and process attributes and starts it.
//
// The emulator starts the bootstrap on the first invoke, in a process group of its
// own, and kills it when it gets SIGTERM.
func Command(rie string, f Function, addr, apiAddr string) *exec.Cmd {
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", apiAddr,
		// Info is the level that prints the INIT REPORT lines Log reads.
		"--log-level", "info",
		f.Bootstrap)
	var env []string
	for _, kv := range os.Environ() {
		// Set, it would switch the emulator to its Lambda Managed Instances mode,
		// which serves several invocations at once and logs otherwise.
		if !strings.HasPrefix(kv, "AWS_LAMBDA_MAX_CONCURRENCY=") {
			env = append(env, kv)
		}
	}
	if f.MemoryMB > 0 {
		env = append(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(f.MemoryMB))
	}
	if f.Timeout > 0 {
		env = append(env, "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(f.Timeout.Round(time.Second)/time.Second)))
	}
	cmd.Env = env
	return cmd
}
