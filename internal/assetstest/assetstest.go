// Package assetstest writes a small assets directory for tests of the Pulumi
// program, which only checks the assets exist and hands their paths to the engine:
// a small fixture keeps those tests independent of the real data.
package assetstest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Files are the fixture's files, relative to its root: a model, two images and
// two ORL people.
var Files = []string{"models/yolox_nano.onnx", "images/dog.jpg", "images/bus.jpg", "faces/orl/s1/1.pgm", "faces/orl/s2/1.pgm"}

// Write writes the fixture into dir.
func Write(dir string) error { return write(dir, Files) }

func write(dir string, files []string) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("assets fixture: %w", err)
		}
		if err := os.WriteFile(p, []byte("fixture "+f), 0o644); err != nil {
			return fmt.Errorf("assets fixture: %w", err)
		}
	}
	return nil
}

// Dir writes the fixture into a new temporary directory and returns it.
func Dir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// DirWithoutFaces is Dir without faces/: what `servebench assets` left before it
// fetched a face set, and all a deployment needs whose functions fetch one.
func DirWithoutFaces(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for _, f := range Files {
		if !strings.HasPrefix(f, "faces/") {
			files = append(files, f)
		}
	}
	if err := write(dir, files); err != nil {
		t.Fatal(err)
	}
	return dir
}
