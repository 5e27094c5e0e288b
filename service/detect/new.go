package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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

// Backends lists the backends compiled into this binary, preferred first.
func Backends() []string {
	if ortCompiled {
		return []string{BackendONNXRuntime, BackendGoMLX}
	}
	return []string{BackendGoMLX}
}

// New loads a YOLOX-nano ONNX model (the file's bytes) on the named backend: "onnxruntime",
// "gomlx", or "auto" or "" (ONNX Runtime when compiled in and its library loads, else
// gomlx). A file that is not a YOLOX-nano ONNX model gives an error wrapping
// ErrInvalidModel. Build one Detector per process and share it: it is safe for
// concurrent use, and loading is part of every cold start.
func New(ctx context.Context, backend string, model []byte) (Detector, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(model) == 0 {
		return nil, fmt.Errorf("%w: the model file is empty", ErrInvalidModel)
	}
	switch backend {
	case BackendONNXRuntime:
		return newONNXRuntime(ctx, model)
	case BackendGoMLX:
		return newGoMLX(ctx, model)
	case BackendAuto, "":
		if !ortCompiled {
			return newGoMLX(ctx, model)
		}
		return preferFirst(ctx, model, newONNXRuntime, newGoMLX)
	default:
		return nil, fmt.Errorf("unknown detector backend %q: want one of %s, %s",
			backend, BackendAuto, strings.Join(Backends(), ", "))
	}
}

type constructor func(context.Context, []byte) (Detector, error)

// preferFirst builds the detector with first, or with fallback when first cannot run here
// (ONNX Runtime's library does not load). A bad model is an error either way: the
// fallback would reject it too, only more slowly.
func preferFirst(ctx context.Context, model []byte, first, fallback constructor) (Detector, error) {
	d, err := first(ctx, model)
	if err == nil || errors.Is(err, ErrInvalidModel) || ctx.Err() != nil {
		return d, err
	}
	slog.WarnContext(ctx, "preferred detector backend unavailable, falling back (gomlx is about 100 times slower than ONNX Runtime)",
		"error", err)
	return fallback(ctx, model)
}
