package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/instance"
)

// TestOpenChecksDetectorLibrary: Open finds out at start whether the configured backend's
// library loads, although the model itself loads on first use.
func TestOpenChecksDetectorLibrary(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(bad, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(t *testing.T, backend, lib string) (string, error) {
		t.Helper()
		env := map[string]string{config.EnvInputBucket: "mem://", config.EnvOutputBucket: "mem://",
			config.EnvBackend: backend, config.EnvONNXRuntimeLib: lib}
		if lib == "" {
			env[config.EnvONNXRuntimeLib] = os.Getenv(config.EnvONNXRuntimeLib)
		}
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		a, err := api.Open(context.Background(), api.Options{Config: cfg,
			Log: slog.New(slog.NewJSONHandler(&log, nil)), Instance: instance.New()})
		if err == nil {
			a.Close()
		}
		return log.String(), err
	}

	t.Run("onnxruntime, bad library", func(t *testing.T) {
		_, err := open(t, detect.BackendONNXRuntime, bad)
		if err == nil {
			t.Fatal("Open succeeded")
		}
		for _, want := range []string{config.EnvONNXRuntimeLib, config.EnvBackend, bad} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
	})
	t.Run("auto, bad library", func(t *testing.T) {
		log, err := open(t, detect.BackendAuto, bad)
		if err != nil {
			t.Fatalf("Open: %v, want a logged fallback", err)
		}
		if !strings.Contains(log, `"level":"WARN"`) || !strings.Contains(log, "falling back") || !strings.Contains(log, bad) {
			t.Errorf("log %q: want a warning of the fallback with the library's error", log)
		}
	})
	t.Run("gomlx, bad library", func(t *testing.T) {
		if _, err := open(t, detect.BackendGoMLX, bad); err != nil {
			t.Errorf("Open: %v, want no error (gomlx needs no library)", err)
		}
	})
	t.Run("onnxruntime, library from the environment", func(t *testing.T) {
		log, err := open(t, detect.BackendONNXRuntime, "")
		if err != nil {
			t.Fatalf("Open: %v (set %s to libonnxruntime.so.1: scripts/setup-onnxruntime fetches it)", err, config.EnvONNXRuntimeLib)
		}
		if strings.Contains(log, "falling back") {
			t.Errorf("log %q: a fallback with a working library", log)
		}
	})
}
