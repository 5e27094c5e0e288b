package containerimage

import (
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"path"
	"path/filepath"
	"slices"
	"testing"

	"github.com/servebench/servebench/internal/predicttest"
)

// Where each image keeps its binary and the native libraries it loads, and the
// variables that tell the binary so (service/Dockerfile).
const (
	ortLib       = "/opt/onnxruntime/lib/libonnxruntime.so.1"
	turbojpegLib = "/opt/turbojpeg/lib/libturbojpeg.so.0"
)

// TestImagesNative: each image's binary was built without cgo and without build tags
// (both detector backends compiled in, native libraries loaded through purego), and
// the image carries both libraries as linux/x64 shared objects where its environment
// says they are.
func TestImagesNative(t *testing.T) {
	for _, c := range []struct{ env, binary string }{
		{EnvServerImage, "/usr/local/bin/server"},
		{EnvLambdaImage, "/var/runtime/bootstrap"},
	} {
		t.Run(path.Base(c.binary), func(t *testing.T) {
			img := imageName(t, c.env)
			info, err := buildinfo.ReadFile(copyOut(t, img, c.binary))
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			if settings["CGO_ENABLED"] != "0" || settings["-tags"] != "" {
				t.Errorf("%s in %s built with CGO_ENABLED=%q -tags=%q, want CGO_ENABLED=0 and no tags", c.binary, img, settings["CGO_ENABLED"], settings["-tags"])
			}
			var env []string
			if err := json.Unmarshal([]byte(docker(t, "image", "inspect", "-f", "{{json .Config.Env}}", img)), &env); err != nil {
				t.Fatal(err)
			}
			for v, lib := range map[string]string{"SERVEBENCH_ONNXRUNTIME_LIB": ortLib, "SERVEBENCH_TURBOJPEG_LIB": turbojpegLib} {
				if !slices.Contains(env, v+"="+lib) {
					t.Errorf("%s: environment %v, want %s=%s", img, env, v, lib)
				}
				f, err := elf.Open(copyOut(t, img, lib))
				if err != nil {
					t.Errorf("%s: %s: %v", img, lib, err)
					continue
				}
				if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_DYN {
					t.Errorf("%s: %s is %v %v %v, want an x86-64 shared object", img, lib, f.Class, f.Machine, f.Type)
				}
				f.Close()
			}
		})
	}
}

// copyOut copies the file at p in img (a regular file, not a symlink) to a
// temporary directory and returns its path there.
func copyOut(t *testing.T, img, p string) string {
	t.Helper()
	id := docker(t, "create", img)
	t.Cleanup(func() { docker(t, "rm", id) })
	dst := filepath.Join(t.TempDir(), path.Base(p))
	docker(t, "cp", "-L", id+":"+p, dst)
	return dst
}

// checkRunsOn fails t unless a /predict answer says it came from ONNX Runtime with
// JPEG through libjpeg-turbo (its server object's backend and codec).
func checkRunsOn(t *testing.T, body []byte) {
	t.Helper()
	var a predicttest.Answer
	if err := json.Unmarshal(body, &a); err != nil || a.Server.Backend != "onnxruntime" || a.Server.Codec != "turbojpeg" {
		t.Errorf("answer's server backend %q, codec %q (%v), want onnxruntime and turbojpeg: %s", a.Server.Backend, a.Server.Codec, err, body)
	}
}
