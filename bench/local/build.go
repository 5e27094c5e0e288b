// Package local stands up the service on this machine, with no cloud, two ways:
// a serverful deployment (long-running instances behind a round-robin proxy with a
// CPU autoscaler, as ECS behind an ALB) and a serverless one (a front door that gives
// every in-flight request its own instance and starts one when none is idle, as
// Lambda). Both run the real service as child processes over file:// buckets
// seeded from the shared assets — the HTTP server serverful, the Lambda bootstrap
// under the Lambda Runtime Interface Emulator serverless — and both are plain base
// URLs to the scenarios.
package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/servebench/servebench/assets"
)

// Binary is the built service: its commands (server, lambda) in one directory,
// and what its processes run with. Built without cgo, the binaries carry both
// detector backends and load the native libraries at start from the paths given.
type Binary struct {
	Dir          string
	Backend      string // "onnxruntime" when the library was found, else "gomlx"
	ORTLib       string // path of libonnxruntime.so.1 (onnxruntime backend only)
	TurboJPEGLib string // path of libturbojpeg.so.0; "" leaves the service to Go's image/jpeg
}

// Path is the executable of one of the service's commands (service/cmd/NAME).
func (b Binary) Path(cmd string) string { return filepath.Join(b.Dir, cmd) }

// Commands the local deployments run: the HTTP server (serverful) and the Lambda
// bootstrap (serverless, under the emulator).
const (
	ServerCmd = "server"
	LambdaCmd = "lambda"
)

// Environment variables that name a tool instead of its setup script.
const (
	ORTLibEnv       = "SERVEBENCH_ONNXRUNTIME_LIB" // path of libonnxruntime.so.1
	TurboJPEGLibEnv = "SERVEBENCH_TURBOJPEG_LIB"   // path of libturbojpeg.so.0
	RIEEnv          = "SERVEBENCH_LAMBDA_RIE"      // path of aws-lambda-rie
)

// findORTLib returns the ONNX Runtime library: the one SERVEBENCH_ONNXRUNTIME_LIB
// names, else what scripts/setup-onnxruntime prints (its cache, or a one-time fetch
// with npm), so a fresh checkout runs the fast backend without a separate step. It
// returns "" and the reason when neither gives a library.
func findORTLib(ctx context.Context, root string) (string, error) {
	return setupTool(ctx, root, ORTLibEnv, "setup-onnxruntime")
}

// findTurboJPEGLib returns libjpeg-turbo's TurboJPEG library as findORTLib does
// ONNX Runtime's: the one SERVEBENCH_TURBOJPEG_LIB names, else what
// scripts/setup-turbojpeg prints (the system's copy, or its cache).
func findTurboJPEGLib(ctx context.Context, root string) (string, error) {
	return setupTool(ctx, root, TurboJPEGLibEnv, "setup-turbojpeg")
}

// FindRIE returns the AWS Lambda Runtime Interface Emulator: the one
// SERVEBENCH_LAMBDA_RIE names, else what scripts/setup-lambda-rie prints (one on
// PATH, its cache, or a one-time build from the Go module proxy).
func FindRIE(ctx context.Context, root string) (string, error) {
	return setupTool(ctx, root, RIEEnv, "setup-lambda-rie")
}

// setupTool returns the file the variable env names, else the path the setup
// script prints on its standard output.
func setupTool(ctx context.Context, root, env, script string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, p, err)
		}
		return p, nil
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", script))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/%s: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Build compiles the service's commands (service/cmd/NAME; by default the server
// and the Lambda bootstrap) from the checkout at root into dir, in one go build
// without cgo, as the images and Cloud Functions build them. With the ONNX Runtime
// library present the processes run on it; otherwise on the pure-Go backend, and
// it says so. Likewise libjpeg-turbo, else Go's image/jpeg.
func Build(ctx context.Context, log *slog.Logger, root, dir string, cmds ...string) (Binary, error) {
	if len(cmds) == 0 {
		cmds = []string{ServerCmd, LambdaCmd}
	}
	svc := filepath.Join(root, "service")
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Binary{}, fmt.Errorf("build service: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return Binary{}, fmt.Errorf("build service: %w", err)
	}
	b := Binary{Dir: abs, Backend: "gomlx"}
	// A trailing separator makes -o a directory even for one command.
	args := []string{"build", "-o", abs + string(filepath.Separator)}
	if lib, err := findORTLib(ctx, root); err == nil {
		b.Backend, b.ORTLib = "onnxruntime", lib
		log.Info("local: the service runs the ONNX Runtime backend", "lib", b.ORTLib, "commands", cmds)
	} else {
		log.Warn("local: no ONNX Runtime library; the service runs the pure-Go backend, which is much slower per image", "why", err)
	}
	if lib, err := findTurboJPEGLib(ctx, root); err == nil {
		b.TurboJPEGLib = lib
		log.Info("local: the service decodes and encodes JPEG with libjpeg-turbo", "lib", lib)
	} else {
		log.Warn("local: no libjpeg-turbo; the service uses Go's image/jpeg, which is slower per image", "why", err)
	}
	for _, c := range cmds {
		if _, err := os.Stat(filepath.Join(svc, "cmd", c)); err != nil {
			return Binary{}, fmt.Errorf("build service: no service/cmd/%s under %s: %w", c, root, err)
		}
		args = append(args, "./cmd/"+c)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = svc
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		return Binary{}, fmt.Errorf("build service (go %s in %s): %w: %s", strings.Join(args, " "), svc, err, strings.TrimSpace(stderr.String()))
	}
	return b, nil
}

// FindRoot walks up from start to the checkout root: the directory holding
// service/go.mod.
func FindRoot(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "service", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no servebench checkout (a directory with service/go.mod) at or above %s", start)
		}
		dir = parent
	}
}

// Buckets are the file:// input and output buckets of a local deployment.
type Buckets struct {
	Input, Output string // directories
	// SigningKey is the file holding the secret every instance signs the output
	// bucket's URLs with, so that any instance verifies a URL another signed.
	SigningKey string
}

// InputURL is the input bucket as a gocloud blob URL.
func (b Buckets) InputURL() string { return "file://" + filepath.ToSlash(b.Input) }

// OutputURL is the output bucket as a gocloud blob URL.
func (b Buckets) OutputURL() string { return "file://" + filepath.ToSlash(b.Output) }

// SignedOutputURL is the output bucket as the instances of one deployment open
// it: URLs signed with the shared key, served by publicURL's /files route.
func (b Buckets) SignedOutputURL(publicURL string) string {
	q := url.Values{"base_url": {publicURL + "/files"}, "secret_key_path": {b.SigningKey}}
	return b.OutputURL() + "?" + q.Encode()
}

// ModelURL is the model object's blob URL.
func (b Buckets) ModelURL() string { return b.InputURL() + "/" + assets.ModelPath }

// FacesURL is the seeded ORL faces, the data-set source faces/download_data reads.
func (b Buckets) FacesURL() string { return b.InputURL() + "/" + assets.FacesORL }

// HasFaces reports whether the faces were seeded.
func (b Buckets) HasFaces() bool {
	_, err := os.Stat(filepath.Join(b.Input, assets.FacesORL))
	return err == nil
}

// Seed makes the input and output buckets under dir and copies the model, the
// images and (when present) the ORL faces into the input bucket. Copies, not
// symlinks: the file:// driver lists prefixes with a walk that does not follow
// symlinked directories, and the copy is about 10 MB.
func Seed(dir string, data assets.Dir) (Buckets, error) {
	b := Buckets{Input: filepath.Join(dir, "input"), Output: filepath.Join(dir, "output"), SigningKey: filepath.Join(dir, "signing.key")}
	for _, d := range []string{b.Input, b.Output} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return b, fmt.Errorf("seed buckets: %w", err)
		}
	}
	if err := os.WriteFile(b.SigningKey, []byte(rand.Text()), 0o600); err != nil {
		return b, fmt.Errorf("seed buckets: signing key: %w", err)
	}
	copies := [][2]string{{assets.ModelPath, assets.ModelPath}}
	for _, img := range assets.Images {
		p := assets.ImagesDir + "/" + img
		copies = append(copies, [2]string{p, p})
	}
	for _, c := range copies {
		if err := copyFile(filepath.Join(data.Path, c[0]), filepath.Join(b.Input, c[1])); err != nil {
			return b, fmt.Errorf("seed buckets: %w", err)
		}
	}
	if data.HasFaces() {
		src := filepath.Join(data.Path, assets.FacesORL)
		err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(src, p)
			if err != nil {
				return err
			}
			return copyFile(p, filepath.Join(b.Input, assets.FacesORL, rel))
		})
		if err != nil {
			return b, fmt.Errorf("seed buckets with faces: %w", err)
		}
	}
	return b, nil
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return errors.Join(out.Close())
}
