package containerimage

import (
	"bytes"
	"encoding/json"
	"image"
	_ "image/jpeg" // the annotated output
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/servebench/servebench/internal/predicttest"
)

// nonroot is distroless's nonroot user and group, which the server image runs as.
const nonroot = "65532"

// health is the part of GET /healthz these tests read.
type health struct {
	ModelLoaded bool   `json:"model_loaded"`
	Backend     string `json:"backend"`
}

// startServer runs the server image with the buckets mounted, the output bucket
// opened at the URL out, and waits until it answers /healthz.
func startServer(t *testing.T, img string, b buckets, out string) container {
	t.Helper()
	port := freePort(t)
	args := append(b.mountArgs(),
		"-e", "SERVEBENCH_INPUT_BUCKET="+inURL,
		"-e", "SERVEBENCH_OUTPUT_BUCKET="+out,
		// Signed file:// URLs point at the server's /files as the host reaches it.
		"-e", "SERVEBENCH_PUBLIC_URL=http://127.0.0.1:"+strconv.Itoa(port))
	c := start(t, img, port, args...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(c.url() + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not answer /healthz within 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// post sends POST /predict for images/dog.jpg and returns the answer's status and body.
func post(t *testing.T, c container) (int, []byte) {
	t.Helper()
	resp, err := http.Post(c.url()+"/predict", "application/json", strings.NewReader(`{"filename": "images/dog.jpg"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestServerImage: the server image runs as nonroot, detects dog, bicycle and car on
// dog.jpg with ONNX Runtime cold and then warm, with JPEG through libjpeg-turbo,
// writes the annotated image into the mounted output bucket, and serves it at the
// signed location.
func TestServerImage(t *testing.T) {
	img := imageName(t, EnvServerImage)
	b := newBuckets(t)
	c := startServer(t, img, b, outURL)

	if uids := c.uids(t); len(uids) != 4 || slices.ContainsFunc(uids, func(u string) bool { return u != nonroot }) {
		t.Errorf("the server process runs with uids %v, want %s (nonroot) for all", uids, nonroot)
	}

	var last predicttest.Answer
	for i, wantCold := range []bool{true, false} {
		status, body := post(t, c)
		if status != http.StatusOK {
			t.Fatalf("predict %d: status %d: %s", i, status, body)
		}
		var a predicttest.Answer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("predict %d: %v: %s", i, err, body)
		}
		predicttest.CheckDog(t, a.Detections)
		checkRunsOn(t, body)
		if a.Server.Cold != wantCold {
			t.Errorf("predict %d: server.cold %v, want %v", i, a.Server.Cold, wantCold)
		}
		if _, ok := a.TimingsMS["init"]; ok != wantCold {
			t.Errorf("predict %d: timings_ms.init present %v, want %v", i, ok, wantCold)
		}
		st, err := os.Stat(filepath.Join(b.out, filepath.FromSlash(a.Filename)))
		if err != nil {
			t.Fatalf("predict %d: the output %q is not in the mounted bucket: %v", i, a.Filename, err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != nonroot {
			t.Errorf("predict %d: output written by uid %d, want %s", i, uid, nonroot)
		}
		t.Logf("predict %s: detections %v; server %+v, timings_ms %v", map[bool]string{true: "cold", false: "warm"}[wantCold], a.Detections, a.Server, a.TimingsMS)
		last = a
	}

	resp, err := http.Get(c.url() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h health
	err = json.NewDecoder(resp.Body).Decode(&h)
	_ = resp.Body.Close()
	if err != nil || !h.ModelLoaded || h.Backend != "onnxruntime" {
		t.Errorf("healthz after predict: %+v (%v), want the model loaded on onnxruntime", h, err)
	}

	// The signed location: the annotated JPEG, byte for byte the object in the bucket.
	resp, err = http.Get(last.Location)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET location %s: %d %v", last.Location, resp.StatusCode, err)
	}
	checkAnnotated(t, got, b, last.Filename)
	resp, err = http.Get(strings.Replace(last.Location, "signature=", "signature=x", 1))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a tampered signed URL got %d, want 403", resp.StatusCode)
	}
}

// checkAnnotated fails t unless img, served from a signed location, is byte for byte
// the object key in the output bucket and a JPEG the size of dog.jpg.
func checkAnnotated(t *testing.T, img []byte, b buckets, key string) {
	t.Helper()
	stored, err := os.ReadFile(filepath.Join(b.out, filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img, stored) {
		t.Errorf("location served %d bytes, the bucket holds %d under %s", len(img), len(stored), key)
	}
	src, err := os.ReadFile(filepath.Join(b.in, "images", "dog.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	got, format, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil || format != "jpeg" || got != want {
		t.Errorf("annotated image: %s %dx%d (%v), want a %dx%d JPEG", format, got.Width, got.Height, err, want.Width, want.Height)
	}
}

// TestServerImageMountedBucketNeedsNoTmpDir keeps the proof of why the bucket URLs
// carry ?no_tmp_dir=true: without it fileblob writes to os.TempDir (the container's
// own filesystem) and renames into the mounted bucket, which the kernel refuses
// across mounts (EXDEV), so every predict fails.
func TestServerImageMountedBucketNeedsNoTmpDir(t *testing.T) {
	img := imageName(t, EnvServerImage)
	b := newBuckets(t)
	c := startServer(t, img, b, "file://"+outMount)
	status, body := post(t, c)
	if status != http.StatusInternalServerError {
		t.Fatalf("predict into a mounted bucket without no_tmp_dir: status %d: %s; fileblob no longer renames across devices?", status, body)
	}
	if logs := c.logs(t); !strings.Contains(logs, "invalid cross-device link") {
		t.Errorf("the server's log does not name the cross-device rename:\n%s", logs)
	} else {
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, "invalid cross-device link") {
				t.Logf("without ?no_tmp_dir=true: %s", line)
			}
		}
	}
	// fileblob creates the key's directories before the rename; no object may stay.
	err := filepath.WalkDir(b.out, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("the failed predict left %s in the output bucket", path)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
}
