package containerimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// registry is the part of the Docker Registry HTTP API v2 that `docker push` uses
// (version check, blob existence, chunked uploads, manifest put), in process on the
// loopback, which dockerd treats as an insecure registry that needs no TLS. It keeps
// each manifest as pushed, with its media type, and only the digest and size of large
// blobs: the tests read manifests and image configs, not layers.
type registry struct {
	srv *httptest.Server

	mu        sync.Mutex
	blobs     map[string]blob     // by digest
	uploads   map[string]*upload  // by upload id
	manifests map[string]manifest // by "name:reference" (tag and digest)
	nextID    int
}

type blob struct {
	size int64
	data []byte // nil beyond keepBlobBytes
}

type upload struct {
	h    hash.Hash
	size int64
	data bytes.Buffer
}

type manifest struct {
	MediaType string
	Body      []byte
	Digest    string
}

// keepBlobBytes bounds the blobs the registry keeps whole: image configs are a few
// KB, layers are not needed.
const keepBlobBytes = 1 << 20

func newRegistry(t *testing.T) *registry {
	t.Helper()
	r := &registry{blobs: map[string]blob{}, uploads: map[string]*upload{}, manifests: map[string]manifest{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// host is the registry's host:port, the first part of an image name pushed to it.
func (r *registry) host() string { return strings.TrimPrefix(r.srv.URL, "http://") }

// manifest returns what was pushed as name:reference.
func (r *registry) manifest(name, ref string) (manifest, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.manifests[name+":"+ref]
	return m, ok
}

// blob returns a blob kept whole.
func (r *registry) blob(digest string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.blobs[digest]
	return b.data, ok && b.data != nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (r *registry) serve(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	p := req.URL.Path
	if p == "/v2/" || p == "/v2" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if !strings.HasPrefix(p, "/v2/") {
		http.NotFound(w, req)
		return
	}
	p = strings.TrimPrefix(p, "/v2/")
	switch {
	case strings.HasSuffix(p, "/blobs/uploads/") && req.Method == http.MethodPost:
		name := strings.TrimSuffix(p, "/blobs/uploads/")
		r.mu.Lock()
		r.nextID++
		id := strconv.Itoa(r.nextID)
		r.uploads[id] = &upload{h: sha256.New()}
		r.mu.Unlock()
		// A cross-repository mount (?mount=&from=) is declined by starting an upload.
		w.Header().Set("Location", "/v2/"+name+"/blobs/uploads/"+id)
		w.Header().Set("Docker-Upload-UUID", id)
		w.Header().Set("Range", "0-0")
		w.WriteHeader(http.StatusAccepted)
	case strings.Contains(p, "/blobs/uploads/"):
		name, id, _ := strings.Cut(p, "/blobs/uploads/")
		r.upload(w, req, name, id)
	case strings.Contains(p, "/blobs/"):
		_, d, _ := strings.Cut(p, "/blobs/")
		r.mu.Lock()
		b, ok := r.blobs[d]
		r.mu.Unlock()
		if !ok {
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Docker-Content-Digest", d)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(b.size, 10))
		if req.Method == http.MethodGet && b.data != nil {
			_, _ = w.Write(b.data)
		}
	case strings.Contains(p, "/manifests/"):
		name, ref, _ := strings.Cut(p, "/manifests/")
		r.manifestRequest(w, req, name, ref)
	default:
		http.NotFound(w, req)
	}
}

// upload takes an upload's chunks (PATCH, or the body of the closing PUT) and, on
// PUT ?digest=, checks the digest and stores the blob.
func (r *registry) upload(w http.ResponseWriter, req *http.Request, name, id string) {
	r.mu.Lock()
	u, ok := r.uploads[id]
	r.mu.Unlock()
	if !ok {
		http.Error(w, `{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}`, http.StatusNotFound)
		return
	}
	if req.Method != http.MethodPatch && req.Method != http.MethodPut {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// One upload is written by one request at a time.
	n, err := io.Copy(io.MultiWriter(u.h, &limitWriter{w: &u.data, n: keepBlobBytes + 1 - int64(u.data.Len())}), req.Body)
	u.size += n
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	loc := "/v2/" + name + "/blobs/uploads/" + id
	if req.Method == http.MethodPatch {
		w.Header().Set("Location", loc)
		w.Header().Set("Docker-Upload-UUID", id)
		w.Header().Set("Range", fmt.Sprintf("0-%d", max(u.size-1, 0)))
		w.WriteHeader(http.StatusAccepted)
		return
	}
	want := req.URL.Query().Get("digest")
	got := "sha256:" + hex.EncodeToString(u.h.Sum(nil))
	if want != got {
		http.Error(w, `{"errors":[{"code":"DIGEST_INVALID"}]}`, http.StatusBadRequest)
		return
	}
	b := blob{size: u.size}
	if u.size <= keepBlobBytes {
		b.data = bytes.Clone(u.data.Bytes())
	}
	r.mu.Lock()
	r.blobs[got] = b
	delete(r.uploads, id)
	r.mu.Unlock()
	w.Header().Set("Location", "/v2/"+name+"/blobs/"+got)
	w.Header().Set("Docker-Content-Digest", got)
	w.WriteHeader(http.StatusCreated)
}

// manifestRequest stores a pushed manifest under its tag and its digest, and serves
// it back with the media type it was pushed with.
func (r *registry) manifestRequest(w http.ResponseWriter, req *http.Request, name, ref string) {
	switch req.Method {
	case http.MethodPut:
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m := manifest{MediaType: req.Header.Get("Content-Type"), Body: body, Digest: digestOf(body)}
		r.mu.Lock()
		r.manifests[name+":"+ref] = m
		r.manifests[name+":"+m.Digest] = m
		r.mu.Unlock()
		w.Header().Set("Location", "/v2/"+name+"/manifests/"+m.Digest)
		w.Header().Set("Docker-Content-Digest", m.Digest)
		w.WriteHeader(http.StatusCreated)
	case http.MethodGet, http.MethodHead:
		m, ok := r.manifest(name, ref)
		if !ok {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", m.MediaType)
		w.Header().Set("Docker-Content-Digest", m.Digest)
		w.Header().Set("Content-Length", strconv.Itoa(len(m.Body)))
		if req.Method == http.MethodGet {
			_, _ = w.Write(m.Body)
		}
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// limitWriter writes at most n more bytes to w and drops the rest.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(int64(len(p)), l.n)
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		l.n -= k
	}
	return len(p), nil
}
