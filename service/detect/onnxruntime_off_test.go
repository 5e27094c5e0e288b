//go:build !onnxruntime

package detect

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestONNXRuntimeNotCompiledIn(t *testing.T) {
	if !slices.Equal(Backends(), []string{BackendGoMLX}) {
		t.Errorf("Backends() = %v, want only gomlx without the onnxruntime tag", Backends())
	}
	_, err := New(context.Background(), BackendONNXRuntime, testModel(t))
	if err == nil || !strings.Contains(err.Error(), "-tags onnxruntime") || !strings.Contains(err.Error(), LibraryEnv) {
		t.Errorf("New(onnxruntime) without the tag: %v, want an error naming the build tag and %s", err, LibraryEnv)
	}
}
