package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"

	"github.com/servebench/servebench/service/onnxrt"
)

// Backend names accepted by New (and by the service's SERVEBENCH_BACKEND).
const (
	BackendAuto        = "auto"
	BackendONNXRuntime = "onnxruntime"
	BackendGoMLX       = "gomlx"
)

// LibraryEnv names the environment variable holding the path of libonnxruntime.so.1 for
// the onnxruntime backend.
const LibraryEnv = "SERVEBENCH_ONNXRUNTIME_LIB"

// LoadOptions say how New loads a detector.
type LoadOptions struct {
	// Threads is how many threads one Detect spreads the network over (ONNX Runtime's
	// intra-op threads; gomlx's parallelism); 0 means runtime.GOMAXPROCS(0).
	Threads int
	// Library is the path of libonnxruntime.so.1; "" finds it (LibraryEnv, then the
	// usual places: see onnxrt.Library).
	Library string
	// Log receives auto's warning when it falls back to gomlx; nil means slog.Default().
	Log *slog.Logger
}

func (o LoadOptions) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}

// threads resolves Threads' default.
func (o LoadOptions) threads() int {
	if o.Threads > 0 {
		return o.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// Backends lists the backends, preferred first. Both are always compiled in: ONNX
// Runtime is loaded at run time (through purego, no cgo), so whether it runs is known
// only then.
func Backends() []string {
	return []string{BackendONNXRuntime, BackendGoMLX}
}

// New loads a YOLOX-nano ONNX model (the file's bytes) on the named backend: "onnxruntime",
// "gomlx", or "auto" or "" (ONNX Runtime when its library loads, else gomlx, logging
// why). A file that is not a YOLOX-nano ONNX model gives an error wrapping
// ErrInvalidModel. Build one Detector per process and share it: it is safe for
// concurrent use, and loading is part of every cold start.
func New(ctx context.Context, backend string, model []byte, opt LoadOptions) (Detector, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(model) == 0 {
		return nil, fmt.Errorf("%w: the model file is empty", ErrInvalidModel)
	}
	switch backend {
	case BackendONNXRuntime:
		return newONNXRuntime(ctx, model, opt)
	case BackendGoMLX:
		return newGoMLX(ctx, model, opt)
	case BackendAuto, "":
		return preferFirst(ctx, model, opt, newONNXRuntime, newGoMLX)
	default:
		return nil, unknownBackend(backend)
	}
}

func unknownBackend(backend string) error {
	return fmt.Errorf("unknown detector backend %q: want one of %s, %s",
		backend, BackendAuto, strings.Join(Backends(), ", "))
}

// CheckBackend tells at start-up whether New could run the named backend here, without
// a model: for onnxruntime it loads the library and creates ONNX Runtime's environment
// (once per process, which New then reuses), so that a bad LibraryEnv is an error when
// the service starts rather than on its first request. Under auto a library that does
// not load is no error: the fallback to gomlx is logged, with why.
func CheckBackend(ctx context.Context, backend string, opt LoadOptions) error {
	switch backend {
	case BackendONNXRuntime:
		_, err := loadONNXRuntime(opt)
		return err
	case BackendAuto, "":
		if _, err := loadONNXRuntime(opt); err != nil {
			warnFallback(ctx, opt, err)
		}
		return nil
	case BackendGoMLX:
		return nil
	default:
		return unknownBackend(backend)
	}
}

type constructor func(context.Context, []byte, LoadOptions) (Detector, error)

// preferFirst builds the detector with first, or with fallback when first cannot run here
// (ONNX Runtime's library does not load). A bad model is an error either way: the
// fallback would reject it too, only more slowly.
func preferFirst(ctx context.Context, model []byte, opt LoadOptions, first, fallback constructor) (Detector, error) {
	d, err := first(ctx, model, opt)
	if err == nil || errors.Is(err, ErrInvalidModel) || ctx.Err() != nil {
		return d, err
	}
	warnFallback(ctx, opt, err)
	return fallback(ctx, model, opt)
}

func warnFallback(ctx context.Context, opt LoadOptions, err error) {
	opt.log().WarnContext(ctx, "preferred detector backend unavailable, falling back to gomlx (about 100 times slower than ONNX Runtime)",
		"backend", BackendONNXRuntime, "error", err)
}

// loadONNXRuntime loads the library (once per process and path: see onnxrt.Load).
func loadONNXRuntime(opt LoadOptions) (*onnxrt.Runtime, error) {
	rt, err := onnxrt.Load(opt.Library)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime backend: %w", err)
	}
	return rt, nil
}
