package apitest

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
)

// BuildNoCgo compiles the main package in dir into out with CGO_ENABLED=0 and no
// build tags, as the container images and Cloud Functions build the service, and
// checks that the binary's build information says so.
func BuildNoCgo(dir, out string) error {
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("CGO_ENABLED=0 go build in %s: %v\n%s", dir, err, b)
	}
	info, err := buildinfo.ReadFile(out)
	if err != nil {
		return err
	}
	cgo := ""
	for _, s := range info.Settings {
		switch s.Key {
		case "CGO_ENABLED":
			cgo = s.Value
		case "-tags":
			return fmt.Errorf("%s built with -tags=%s, want no tags", out, s.Value)
		}
	}
	if cgo != "0" {
		return fmt.Errorf("%s built with CGO_ENABLED=%q, want 0", out, cgo)
	}
	return nil
}
