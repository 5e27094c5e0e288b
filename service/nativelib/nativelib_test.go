package nativelib

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testLibrary describes a library with two candidates under a fresh directory; each test
// creates the files it needs.
func testLibrary(t *testing.T) (Library, string) {
	dir := t.TempDir()
	return Library{
		Name:       "libtest.so.1",
		Env:        "SERVEBENCH_TEST_LIB",
		Candidates: []string{filepath.Join(dir, "a", "libtest.so.1"), filepath.Join(dir, "b", "libtest.so.1")},
		Setup:      "scripts/setup-test",
	}, dir
}

func touch(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindEnvWins(t *testing.T) {
	l, dir := testLibrary(t)
	touch(t, l.Candidates[0])
	chosen := filepath.Join(dir, "chosen.so")
	touch(t, chosen)
	t.Setenv(l.Env, chosen)
	if got, err := l.Find(); err != nil || got != chosen {
		t.Errorf("Find() = %q, %v with %s set: want %q, the variable's path over the candidates", got, err, l.Env, chosen)
	}
}

func TestFindEnvMustExist(t *testing.T) {
	l, dir := testLibrary(t)
	touch(t, l.Candidates[0]) // present, but must not be used: the variable was set on purpose
	missing := filepath.Join(dir, "missing.so")
	t.Setenv(l.Env, missing)
	got, err := l.Find()
	if err == nil {
		t.Fatalf("Find() = %q with %s naming a missing file, want an error", got, l.Env)
	}
	for _, want := range []string{l.Env, missing, l.Setup} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}

	t.Setenv(l.Env, dir) // a directory is not a library either
	if got, err := l.Find(); err == nil {
		t.Errorf("Find() = %q with %s naming a directory, want an error", got, l.Env)
	}
}

func TestFindCandidatesInOrder(t *testing.T) {
	l, _ := testLibrary(t)
	t.Setenv(l.Env, "")
	touch(t, l.Candidates[1])
	if got, err := l.Find(); err != nil || got != l.Candidates[1] {
		t.Errorf("Find() = %q, %v with only the second candidate present, want it", got, err)
	}
	touch(t, l.Candidates[0])
	if got, err := l.Find(); err != nil || got != l.Candidates[0] {
		t.Errorf("Find() = %q, %v with both candidates present, want the first", got, err)
	}
}

func TestFindNotFoundNamesWhatToDo(t *testing.T) {
	l, _ := testLibrary(t)
	t.Setenv(l.Env, "")
	_, err := l.Find()
	if err == nil {
		t.Fatal("Find() with no candidate present: want an error")
	}
	for _, want := range append([]string{l.Name, l.Env, l.Setup}, l.Candidates...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestOpenNotALibrary(t *testing.T) {
	l, dir := testLibrary(t)
	bogus := filepath.Join(dir, "bogus.so")
	touch(t, bogus)
	t.Setenv(l.Env, bogus)
	h, path, err := l.Open()
	if err == nil {
		t.Fatalf("Open() of a text file = handle %#x, want an error", h)
	}
	if path != bogus {
		t.Errorf("Open() path = %q, want %q (the file it tried)", path, bogus)
	}
	for _, want := range []string{bogus, l.Env} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestOpenLibc(t *testing.T) {
	// A real shared library every Linux machine the service runs on has (purego needs it).
	var libc string
	for _, p := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6", "/lib64/libc.so.6", "/usr/lib64/libc.so.6"} {
		if _, err := os.Stat(p); err == nil {
			libc = p
			break
		}
	}
	if libc == "" {
		t.Fatal("no libc.so.6 in the usual places: add this system's path to the test")
	}
	l, _ := testLibrary(t)
	t.Setenv(l.Env, libc)
	h, path, err := l.Open()
	if err != nil || h == 0 || path != libc {
		t.Errorf("Open() = %#x, %q, %v: want a handle to %s", h, path, err, libc)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("SERVEBENCH_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := CacheDir(); got != "/xdg/servebench" {
		t.Errorf("CacheDir() = %q with XDG_CACHE_HOME=/xdg, want /xdg/servebench", got)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/someone")
	if got := CacheDir(); got != "/home/someone/.cache/servebench" {
		t.Errorf("CacheDir() = %q with HOME=/home/someone, want /home/someone/.cache/servebench", got)
	}
	t.Setenv("HOME", "")
	if got := CacheDir(); got != "" {
		t.Errorf("CacheDir() = %q with neither XDG_CACHE_HOME nor HOME, want \"\"", got)
	}
	t.Setenv("SERVEBENCH_CACHE", "/override")
	if got := CacheDir(); got != "/override" {
		t.Errorf("CacheDir() = %q with SERVEBENCH_CACHE=/override, want it (the setup scripts use it)", got)
	}
}
