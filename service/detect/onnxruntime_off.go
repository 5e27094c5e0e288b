//go:build !onnxruntime

package detect

import (
	"context"
	"errors"
)

const ortCompiled = false

func newONNXRuntime(context.Context, []byte) (Detector, error) {
	return nil, errors.New("the onnxruntime backend is not compiled into this binary: " +
		"build with -tags onnxruntime (cgo) and point SERVEBENCH_ONNXRUNTIME_LIB at libonnxruntime.so.1, " +
		"or use the gomlx backend")
}
