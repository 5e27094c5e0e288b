package gcpfunctions

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/infra/serviceenv"
)

func TestSourceArchive(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"go.mod": "module example.com/svc\n", "go.sum": "", "funcs.go": "package svc\n",
		"funcs_test.go": "package svc\n", "detect/detect.go": "package detect\n",
		"detect/testdata/x.jpg": "jpeg", ".git/HEAD": "ref", "Dockerfile": "FROM scratch\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	arch, digest, err := SourceArchive(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range arch.Assets() {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"detect/detect.go", "funcs.go", "go.mod", "go.sum"}; !slices.Equal(names, want) {
		t.Errorf("archive holds %v, want %v", names, want)
	}
	if p := arch.Assets()["go.mod"].(pulumi.Asset).Path(); p != filepath.Join(dir, "go.mod") {
		t.Errorf("go.mod asset path %q", p)
	}
	// The digest follows the content, not the excluded files.
	if err := os.WriteFile(filepath.Join(dir, "funcs_test.go"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, d2, _ := SourceArchive(dir); d2 != digest {
		t.Error("digest changed with a test file")
	}
	if err := os.WriteFile(filepath.Join(dir, "funcs.go"), []byte("package svc // v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, d3, _ := SourceArchive(dir); d3 == digest {
		t.Error("digest did not change with the source")
	}
	if _, _, err := SourceArchive(t.TempDir()); err == nil {
		t.Error("a directory without go.mod was accepted")
	}
}

func TestMemoryAndKey(t *testing.T) {
	for mb, want := range map[int]string{1024: "1Gi", 2048: "2Gi", 512: "512Mi", 256: "256Mi"} {
		if got := Memory(mb); got != want {
			t.Errorf("Memory(%d) = %q, want %q", mb, got, want)
		}
	}
	if got := Key("faces_download_data", 2048); got != "faces-download-data-2048" {
		t.Errorf("Key = %q", got)
	}
}

// The libraries ride in the archive under lib/, where RunPath points at run time,
// and a changed library changes the digest (so the functions redeploy).
func TestSourceArchiveLibraries(t *testing.T) {
	dir, libs := t.TempDir(), t.TempDir()
	write := func(p, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "go.mod"), "module example.com/svc\n")
	ort := Library{NativeLib: serviceenv.ONNXRuntimeLib, Path: filepath.Join(libs, "ort-copy.so")}
	tj := Library{NativeLib: serviceenv.TurboJPEGLib, Path: filepath.Join(libs, "tj-copy.so")}
	write(ort.Path, "ort v1")
	write(tj.Path, "tj v1")
	arch, digest, err := SourceArchive(dir, ort, tj)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []Library{ort, tj} {
		a, ok := arch.Assets()[l.ArchivePath()].(pulumi.Asset)
		if !ok || a.Path() != l.Path {
			t.Errorf("archive %s: %v, want the file %s", l.ArchivePath(), arch.Assets()[l.ArchivePath()], l.Path)
		}
		if want := "/workspace/serverless_function_source_code/lib/" + l.Name; l.RunPath() != want {
			t.Errorf("%s RunPath %s, want %s", l.Name, l.RunPath(), want)
		}
	}
	if _, d, _ := SourceArchive(dir); d == digest {
		t.Error("the digest does not cover the libraries")
	}
	write(tj.Path, "tj v2")
	if _, d, _ := SourceArchive(dir, ort, tj); d == digest {
		t.Error("the digest did not change with a library")
	}
	// A file of the module already at lib/NAME is refused, not silently replaced.
	write(filepath.Join(dir, "lib", "libturbojpeg.so.0"), "mine")
	if _, _, err := SourceArchive(dir, ort, tj); err == nil || !strings.Contains(err.Error(), "lib/libturbojpeg.so.0") {
		t.Errorf("a module file where a library goes: %v, want an error naming lib/libturbojpeg.so.0", err)
	}
}
