//go:build onnxruntime

package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

const ortCompiled = true

// ortVersion is the ONNX Runtime release scripts/setup-onnxruntime fetches.
const ortVersion = "1.30.0"

// ortLibraryCandidates are where the library is looked for when LibraryEnv is unset: the
// container images, the usual system directories, then the setup script's cache.
func ortLibraryCandidates() []string {
	c := []string{
		"/opt/onnxruntime/lib/libonnxruntime.so.1",
		"/usr/local/lib/libonnxruntime.so.1",
		"/usr/local/lib/libonnxruntime.so",
		"/usr/lib/libonnxruntime.so.1",
		"/usr/lib/libonnxruntime.so",
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	if cache != "" {
		c = append(c, filepath.Join(cache, "servebench", "onnxruntime-"+ortVersion, "libonnxruntime.so.1"))
	}
	return c
}

// ortLibrary finds libonnxruntime: LibraryEnv if set (and then nothing else), else the
// first candidate that exists.
func ortLibrary() (string, error) {
	if p := os.Getenv(LibraryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", LibraryEnv, p, err)
		}
		return p, nil
	}
	candidates := ortLibraryCandidates()
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("libonnxruntime.so.1 not found in %v: set %s to its path (scripts/setup-onnxruntime fetches it)",
		candidates, LibraryEnv)
}

// ortInit loads the library and creates the ONNX Runtime environment, once per process
// (the environment is global to the library and never destroyed: sessions share it).
var ortInit = sync.OnceValues(func() (string, error) {
	lib, err := ortLibrary()
	if err != nil {
		return "", err
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return lib, fmt.Errorf("load ONNX Runtime from %s (set %s to a libonnxruntime.so.1 of release %s): %w",
			lib, LibraryEnv, ortVersion, err)
	}
	return lib, nil
})

// ortNet runs the model in one ONNX Runtime session. Session.Run is safe to call from
// several goroutines; each call brings its own input and output tensors, wrapped around
// the caller's buffers without copying.
type ortNet struct {
	session *ort.DynamicAdvancedSession
}

func newONNXRuntime(ctx context.Context, model []byte) (Detector, error) {
	lib, err := ortInit()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime backend: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("%w: not a valid ONNX file: %v", ErrInvalidModel, err)
	}
	if err := checkShapes(ortDims(ins), ortDims(outs)); err != nil {
		return nil, err
	}
	if ins[0].DataType != ort.TensorElementDataTypeFloat || outs[0].DataType != ort.TensorElementDataTypeFloat {
		return nil, fmt.Errorf("%w: input %s and output %s, want float32 tensors",
			ErrInvalidModel, ins[0].DataType, outs[0].DataType)
	}
	opts, err := ortSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	session, err := ort.NewDynamicAdvancedSessionWithONNXData(model,
		[]string{ins[0].Name}, []string{outs[0].Name}, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: create ONNX Runtime session: %v", ErrInvalidModel, err)
	}
	slog.DebugContext(ctx, "onnxruntime session ready", "library", lib, "version", ort.GetVersion())
	return newDetector(BackendONNXRuntime, &ortNet{session: session}), nil
}

// ortSessionOptions turns off the spinning of ONNX Runtime's idle worker threads. Spinning
// wins a little on an idle machine and loses a lot when cores are shared (other
// processes, container CPU limits). dog.jpg on 2 cores, median per image, one call at a
// time: idle, 24 ms without spinning against 22 ms with it; under load (other jobs
// running), 48 ms against 87 ms, and with four concurrent calls 35 ms against 53 ms.
func ortSessionOptions() (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime session options: %w", err)
	}
	if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		opts.Destroy()
		return nil, fmt.Errorf("onnxruntime session options: %w", err)
	}
	return opts, nil
}

func ortDims(infos []ort.InputOutputInfo) [][]int64 {
	dims := make([][]int64, len(infos))
	for i, info := range infos {
		dims[i] = info.Dimensions
	}
	return dims
}

func (n *ortNet) run(ctx context.Context, in, out []float32) (err error) {
	input, err := ort.NewTensor(ort.NewShape(inputShape...), in)
	if err != nil {
		return fmt.Errorf("onnxruntime input tensor: %w", err)
	}
	defer destroy(&err, input)
	output, err := ort.NewTensor(ort.NewShape(outputShape...), out)
	if err != nil {
		return fmt.Errorf("onnxruntime output tensor: %w", err)
	}
	defer destroy(&err, output)

	// A cancelled context stops the run between kernels instead of letting it finish.
	opts, err := ort.NewRunOptions()
	if err != nil {
		return fmt.Errorf("onnxruntime run options: %w", err)
	}
	defer destroy(&err, opts)
	stop := context.AfterFunc(ctx, func() { _ = opts.Terminate() })
	defer stop()

	if err := n.session.RunWithOptions([]ort.Value{input}, []ort.Value{output}, opts); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("onnxruntime run: %w", err)
	}
	return nil
}

func destroy(err *error, v interface{ Destroy() error }) {
	*err = errors.Join(*err, v.Destroy())
}

func (n *ortNet) close() error {
	return n.session.Destroy()
}
