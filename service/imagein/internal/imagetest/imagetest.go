// Package imagetest reads the images imagein's tests share: dog.jpg from the test data,
// and the odd JPEGs (CMYK, progressive, gray, rare subsampling) image/jpeg is tested
// with, from the Go installation that runs the tests.
package imagetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Dog is images/dog.jpg of the test data: $SERVEBENCH_DATA, else shared/data beside
// the checkout.
func Dog(tb testing.TB) []byte {
	tb.Helper()
	d := os.Getenv("SERVEBENCH_DATA")
	if d == "" {
		wd, _ := os.Getwd()
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "..", "shared", "data", "images")); err == nil {
				d = filepath.Join(dir, "..", "shared", "data")
				break
			}
			if dir == filepath.Dir(dir) {
				tb.Fatal("test data not found: set SERVEBENCH_DATA or put it at ../shared/data beside the checkout")
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(d, "images", "dog.jpg"))
	if err != nil {
		tb.Fatalf("dog.jpg: %v", err)
	}
	return b
}

// GoTestdata reads name from $GOROOT/src/image/testdata.
func GoTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	root := os.Getenv("GOROOT")
	if root == "" {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			tb.Fatalf("go env GOROOT: %v", err)
		}
		root = strings.TrimSpace(string(out))
	}
	b, err := os.ReadFile(filepath.Join(root, "src", "image", "testdata", name))
	if err != nil {
		tb.Fatalf("Go's image test data: %v", err)
	}
	return b
}
