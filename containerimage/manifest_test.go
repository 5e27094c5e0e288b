package containerimage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/infra/image"
)

// Manifest media types a registry may hold under a tag.
const (
	dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	ociManifest    = "application/vnd.oci.image.manifest.v1+json"
	dockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	ociIndex       = "application/vnd.oci.image.index.v1+json"
)

// singleImage checks that a pushed manifest is one image's, which is what Lambda
// takes: it rejects an image index ("The image manifest, config or layer media type
// for the source image … is not supported", aws/aws-lambda-roadmap#82), which
// BuildKit's attestations and the containerd image store produce even for one
// platform. It returns the image's config digest.
func singleImage(m manifest) (string, error) {
	if m.MediaType != dockerManifest && m.MediaType != ociManifest {
		return "", fmt.Errorf("manifest media type %q: Lambda takes one image manifest (%s or %s), not an index or a list", m.MediaType, dockerManifest, ociManifest)
	}
	var body struct {
		MediaType string `json:"mediaType"`
		Config    struct {
			Digest string `json:"digest"`
		} `json:"config"`
		Layers    []json.RawMessage `json:"layers"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(m.Body, &body); err != nil {
		return "", fmt.Errorf("manifest %s: %w", m.Body, err)
	}
	switch {
	case body.MediaType != "" && body.MediaType != m.MediaType:
		return "", fmt.Errorf("manifest pushed as %s says it is %s", m.MediaType, body.MediaType)
	case len(body.Manifests) > 0:
		return "", fmt.Errorf("manifest lists %d manifests: an index, not an image", len(body.Manifests))
	case body.Config.Digest == "" || len(body.Layers) == 0:
		return "", fmt.Errorf("manifest has config %q and %d layers: not an image", body.Config.Digest, len(body.Layers))
	}
	return body.Config.Digest, nil
}

// TestLambdaImageManifest pushes the Lambda image as the program's docker.Image does
// (pulumi-docker v4: the daemon pushes the image it built, no platform chosen at
// push) to a registry on the loopback, and checks that the registry got a single
// image manifest for the program's platform.
func TestLambdaImageManifest(t *testing.T) {
	img := imageName(t, EnvLambdaImage)
	reg := newRegistry(t)
	const repo, tag = "servebench/lambda", "manifest-check"
	ref := reg.host() + "/" + repo + ":" + tag
	docker(t, "tag", img, ref)
	t.Cleanup(func() { _ = exec.Command(dockerCLI(), "rmi", ref).Run() })
	start := time.Now()
	docker(t, "push", ref)
	t.Logf("pushed %s in %v", ref, time.Since(start).Round(time.Millisecond))

	m, ok := reg.manifest(repo, tag)
	if !ok {
		t.Fatalf("the registry holds no manifest for %s", ref)
	}
	t.Logf("manifest %s, %s", m.MediaType, m.Digest)
	cfgDigest, err := singleImage(m)
	if err != nil {
		t.Fatal(err)
	}
	cfgJSON, ok := reg.blob(cfgDigest)
	if !ok {
		t.Fatalf("config %s was not pushed", cfgDigest)
	}
	var cfg struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	}
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatalf("config %s: %v", cfgJSON, err)
	}
	if got := cfg.OS + "/" + cfg.Architecture; got != image.DefaultPlatform {
		t.Errorf("image platform %s, want %s (the program's)", got, image.DefaultPlatform)
	}
}

// TestSingleImage: the check and the registry without docker. An image manifest
// passes; an OCI index with an attestation manifest beside the image (what BuildKit
// pushes with provenance) and a Docker manifest list fail.
func TestSingleImage(t *testing.T) {
	reg := newRegistry(t)
	cfg := []byte(`{"os":"linux","architecture":"amd64"}`)
	cfgDigest := pushBlob(t, reg, "r", cfg)
	if got, ok := reg.blob(cfgDigest); !ok || !bytes.Equal(got, cfg) {
		t.Fatalf("blob %s: %q, %v", cfgDigest, got, ok)
	}
	layer := `{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:` + strings.Repeat("1", 64) + `","size":1}`
	img := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cfgDigest + `","size":38},"layers":[` + layer + `]}`
	imgDigest := digestOf([]byte(img))
	index := `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[` +
		`{"mediaType":"` + ociManifest + `","digest":"` + imgDigest + `","size":1,"platform":{"os":"linux","architecture":"amd64"}},` +
		`{"mediaType":"` + ociManifest + `","digest":"sha256:` + strings.Repeat("2", 64) + `","size":1,"platform":{"os":"unknown","architecture":"unknown"},` +
		`"annotations":{"vnd.docker.reference.type":"attestation-manifest","vnd.docker.reference.digest":"` + imgDigest + `"}}]}`
	list := `{"schemaVersion":2,"mediaType":"` + dockerList + `","manifests":[{"mediaType":"` + dockerManifest + `","digest":"` + imgDigest + `","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}`
	for _, c := range []struct {
		tag, mediaType, body string
		ok                   bool
	}{
		{"image", ociManifest, img, true},
		{"index", ociIndex, index, false},
		{"list", dockerList, list, false},
		{"mislabelled", ociManifest, index, false},
	} {
		putManifest(t, reg, "r", c.tag, c.mediaType, c.body)
		m, ok := reg.manifest("r", c.tag)
		if !ok || m.MediaType != c.mediaType {
			t.Fatalf("%s: stored %+v, %v", c.tag, m, ok)
		}
		got, err := singleImage(m)
		if (err == nil) != c.ok || (c.ok && got != cfgDigest) {
			t.Errorf("%s: singleImage = %q, %v; want accepted %v", c.tag, got, err, c.ok)
		}
	}
}

// pushBlob uploads b as docker does (POST, PATCH, PUT ?digest=) and returns its digest.
func pushBlob(t *testing.T, reg *registry, repo string, b []byte) string {
	t.Helper()
	res := do(t, http.MethodPost, reg.srv.URL+"/v2/"+repo+"/blobs/uploads/", "", nil, http.StatusAccepted)
	loc := reg.srv.URL + res.Header.Get("Location")
	half := len(b) / 2
	do(t, http.MethodPatch, loc, "application/octet-stream", b[:half], http.StatusAccepted)
	do(t, http.MethodPatch, loc, "application/octet-stream", b[half:], http.StatusAccepted)
	d := digestOf(b)
	do(t, http.MethodPut, loc+"?digest="+d, "", nil, http.StatusCreated)
	do(t, http.MethodHead, reg.srv.URL+"/v2/"+repo+"/blobs/"+d, "", nil, http.StatusOK)
	return d
}

func putManifest(t *testing.T, reg *registry, repo, tag, mediaType, body string) {
	t.Helper()
	do(t, http.MethodPut, reg.srv.URL+"/v2/"+repo+"/manifests/"+tag, mediaType, []byte(body), http.StatusCreated)
}

func do(t *testing.T, method, url, ctype string, body []byte, want int) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("%s %s: %s, want %d", method, url, res.Status, want)
	}
	return res
}
