// Package onnxrt is ONNX Runtime's C API through purego, the part the detector needs: it
// loads libonnxruntime.so.1 at run time and calls the entries of its OrtApi function
// table, so the service builds without cgo (CGO_ENABLED=0) and one binding serves every
// platform.
//
// Every C object the package creates is released exactly once: a Session and a Value by
// their Release/Close, everything else before the function that made it returns. The
// Runtime (library, environment, CPU memory info) lives as long as the process.
package onnxrt

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/servebench/servebench/service/nativelib"
)

// Version is the ONNX Runtime release scripts/setup-onnxruntime fetches and the container
// images carry.
const Version = "1.30.0"

// Library is libonnxruntime as the service looks for it: SERVEBENCH_ONNXRUNTIME_LIB, else
// the container images' path, the usual system directories, then the setup script's cache.
func Library() nativelib.Library {
	return nativelib.Library{
		Name: "libonnxruntime.so.1",
		Env:  "SERVEBENCH_ONNXRUNTIME_LIB",
		Candidates: nativelib.WithCache(nativelib.CacheDir(), "onnxruntime-"+Version, "libonnxruntime.so.1",
			"/opt/onnxruntime/lib/libonnxruntime.so.1",
			"/usr/local/lib/libonnxruntime.so.1",
			"/usr/local/lib/libonnxruntime.so",
			"/usr/lib/libonnxruntime.so.1",
			"/usr/lib/libonnxruntime.so"),
		Setup: "scripts/setup-onnxruntime",
	}
}

// Runtime is one loaded libonnxruntime with its environment. It is safe for concurrent
// use and never released.
type Runtime struct {
	path    string
	version string
	api     []uintptr // the OrtApi function table, in C memory
	env     uintptr   // OrtEnv*
	cpu     uintptr   // OrtMemoryInfo* of CPU memory, for tensors over Go slices
	alloc   uintptr   // OrtAllocator*, the default one (owned by the library, never released)
}

var (
	loadMu sync.Mutex
	loaded = map[string]*Runtime{} // by path
)

// Load loads the library at path ("" finds it: see Library) and creates its environment,
// once per process and path: later calls return the same Runtime. A failure is not
// remembered, so a corrected path can be tried again.
//
// The environment (OrtEnv: logging, global thread state) is created once and never
// released: every session refers to it, ONNX Runtime wants one per process, and the
// process keeps it until exit, when releasing it could only race with sessions still in
// use on other goroutines.
func Load(path string) (*Runtime, error) {
	if path == "" {
		p, err := Library().Find()
		if err != nil {
			return nil, err
		}
		path = p
	}
	loadMu.Lock()
	defer loadMu.Unlock()
	if r, ok := loaded[path]; ok {
		return r, nil
	}
	r, err := load(path)
	if err != nil {
		return nil, err
	}
	loaded[path] = r
	return r, nil
}

func load(path string) (*Runtime, error) {
	lib := Library()
	handle, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("load %s (set %s to a libonnxruntime.so.1 of release %s, or run %s): %w",
			path, lib.Env, Version, lib.Setup, err)
	}
	// The handle is never closed: the Runtime, which lives as long as the process, uses it.
	getAPIBase, err := purego.Dlsym(handle, "OrtGetApiBase")
	if err != nil {
		return nil, fmt.Errorf("%s is not ONNX Runtime (set %s to a libonnxruntime.so.1 of release %s): %w",
			path, lib.Env, Version, err)
	}
	base, _, _ := purego.SyscallN(getAPIBase)
	baseFns := unsafe.Slice((*uintptr)(cPointer(base)), 2)
	r := &Runtime{path: path}
	v, _, _ := purego.SyscallN(baseFns[apiBaseGetVersionString])
	r.version = goString(v)
	table, _, _ := purego.SyscallN(baseFns[apiBaseGetAPI], apiVersion)
	if table == 0 {
		return nil, fmt.Errorf("ONNX Runtime %s at %s does not provide API version %d (release 1.%d or later): set %s to a libonnxruntime.so.1 of release %s",
			r.version, path, apiVersion, apiVersion, lib.Env, Version)
	}
	r.api = unsafe.Slice((*uintptr)(cPointer(table)), apiLen)

	logID := cString("servebench")
	if err := r.call(fnCreateEnv, loggingLevelError, uintptr(unsafe.Pointer(&logID[0])), uintptr(unsafe.Pointer(&r.env))); err != nil {
		return nil, fmt.Errorf("ONNX Runtime %s at %s: %w", r.version, path, err)
	}
	// Like the environment, the CPU memory info is used for the life of the process.
	if err := r.call(fnCreateCpuMemoryInfo, arenaAllocator, memTypeDefault, uintptr(unsafe.Pointer(&r.cpu))); err != nil {
		r.release(fnReleaseEnv, r.env)
		return nil, fmt.Errorf("ONNX Runtime %s at %s: %w", r.version, path, err)
	}
	if err := r.call(fnGetAllocatorWithDefaultOptions, uintptr(unsafe.Pointer(&r.alloc))); err != nil {
		r.release(fnReleaseMemoryInfo, r.cpu)
		r.release(fnReleaseEnv, r.env)
		return nil, fmt.Errorf("ONNX Runtime %s at %s: %w", r.version, path, err)
	}
	return r, nil
}

// Path is the file the library was loaded from.
func (r *Runtime) Path() string { return r.path }

// Version is the library's release, as it reports it (e.g. "1.30.0").
func (r *Runtime) Version() string { return r.version }

// call calls a table entry that returns an OrtStatus* and turns that status into an
// error. Like purego.SyscallN, it keeps the memory behind arguments written as
// uintptr(unsafe.Pointer(p)) in the call alive and in place until it returns.
//
//go:uintptrescapes
func (r *Runtime) call(f fn, args ...uintptr) error {
	st, _, _ := purego.SyscallN(r.api[f.index], args...)
	return r.statusError(f.name, st)
}

// statusError turns an OrtStatus* (nil meaning success) into an *Error, releasing the
// status.
func (r *Runtime) statusError(op string, st uintptr) error {
	if st == 0 {
		return nil
	}
	code, _, _ := purego.SyscallN(r.api[fnGetErrorCode.index], st)
	msg, _, _ := purego.SyscallN(r.api[fnGetErrorMessage.index], st)
	err := &Error{Op: op, Code: ErrorCode(int32(code)), Message: goString(msg)} // copied before the release frees it
	purego.SyscallN(r.api[fnReleaseStatus.index], st)
	return err
}

// release calls a Release entry (void, takes the object).
func (r *Runtime) release(f fn, p uintptr) {
	purego.SyscallN(r.api[f.index], p)
}

// Error is a failed ONNX Runtime call: the OrtStatus's code and message.
type Error struct {
	Op      string // the OrtApi function, e.g. "CreateSessionFromArray"
	Code    ErrorCode
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("onnxruntime %s: %s (%s)", e.Op, e.Message, e.Code)
}

// ErrorCode is an OrtErrorCode.
type ErrorCode int32

// The OrtErrorCode values, in the header's order.
const (
	OK ErrorCode = iota
	Fail
	InvalidArgument
	NoSuchFile
	NoModel
	EngineError
	RuntimeException
	InvalidProtobuf
	ModelLoaded
	NotImplemented
	InvalidGraph
	EPFail
	ModelLoadCanceled
	ModelRequiresCompilation
	NotFound
)

var errorCodeNames = [...]string{"ORT_OK", "ORT_FAIL", "ORT_INVALID_ARGUMENT", "ORT_NO_SUCHFILE",
	"ORT_NO_MODEL", "ORT_ENGINE_ERROR", "ORT_RUNTIME_EXCEPTION", "ORT_INVALID_PROTOBUF",
	"ORT_MODEL_LOADED", "ORT_NOT_IMPLEMENTED", "ORT_INVALID_GRAPH", "ORT_EP_FAIL",
	"ORT_MODEL_LOAD_CANCELED", "ORT_MODEL_REQUIRES_COMPILATION", "ORT_NOT_FOUND"}

func (c ErrorCode) String() string {
	if c >= 0 && int(c) < len(errorCodeNames) {
		return errorCodeNames[c]
	}
	return fmt.Sprintf("OrtErrorCode(%d)", int32(c))
}

// IsCode reports whether err is an ONNX Runtime error with the given code.
func IsCode(err error, code ErrorCode) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
