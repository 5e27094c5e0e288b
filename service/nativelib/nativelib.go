// Package nativelib finds and opens the shared libraries the service calls through
// purego (ONNX Runtime, libjpeg-turbo), one way for all of them: an environment variable
// names the file, or else a list of usual places is searched, ending with the cache that
// the project's setup scripts fill.
package nativelib

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ebitengine/purego"
)

// Library describes one shared library the service may load.
type Library struct {
	Name       string   // file name, e.g. "libonnxruntime.so.1"
	Env        string   // environment variable naming its path; when set, only it is tried
	Candidates []string // paths tried in order when Env is unset
	Setup      string   // script that fetches it, e.g. "scripts/setup-onnxruntime" (named in errors)
}

// Find returns the library's path: Env's value when set (the file must exist: a path
// someone set on purpose is never silently replaced by another copy), else the first
// candidate that exists.
func (l Library) Find() (string, error) {
	if p := os.Getenv(l.Env); p != "" {
		if err := isFile(p); err != nil {
			return "", fmt.Errorf("%s %s=%s: %w (unset it to search %s, or run %s)",
				l.Name, l.Env, p, err, strings.Join(l.Candidates, ", "), l.Setup)
		}
		return p, nil
	}
	for _, p := range l.Candidates {
		if isFile(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s: set %s to its path (%s fetches it)",
		l.Name, strings.Join(l.Candidates, ", "), l.Env, l.Setup)
}

func isFile(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	return nil
}

// Open finds the library and loads it. RTLD_NOW makes a library with unresolvable
// symbols fail here, at start, rather than at its first call; RTLD_LOCAL keeps its
// symbols out of the global namespace, which other libraries the process loads share.
// The handle is never closed: the service keeps its libraries for its whole life.
func (l Library) Open() (handle uintptr, path string, err error) {
	path, err = l.Find()
	if err != nil {
		return 0, "", err
	}
	handle, err = purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return 0, path, fmt.Errorf("load %s from %s (set %s to a working copy, or run %s): %w",
			l.Name, path, l.Env, l.Setup, err)
	}
	return handle, path, nil
}

// WithCache is fixed followed by the setup script's copy, cache/dir/name, when there is
// a cache directory (cache is CacheDir()'s answer; "" leaves the fixed places only).
func WithCache(cache, dir, name string, fixed ...string) []string {
	if cache == "" {
		return fixed
	}
	return append(fixed, filepath.Join(cache, dir, name))
}

// CacheDir is where the setup scripts keep what they fetch: $SERVEBENCH_CACHE if set
// (the scripts honour it too), else ${XDG_CACHE_HOME:-$HOME/.cache}/servebench. It is
// "" when none of these is known (no $HOME, as in some sandboxes): then there is no cache
// to search, and callers leave it out of their candidates.
func CacheDir() string {
	if c := os.Getenv("SERVEBENCH_CACHE"); c != "" {
		return c
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "servebench")
}
