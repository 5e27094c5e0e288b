package storage_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/reply"
	"github.com/servebench/servebench/service/storage"
)

func TestValidKey(t *testing.T) {
	for _, k := range []string{"images/dog.jpg", "a", "predictions/20260101T000000.000Z-ab12-dog.jpg", "ünïcode/ключ.png"} {
		if err := storage.ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range []string{"", "/etc/passwd", "../x", "a/../b", "a/./b", "a//b", "a/", "a\\b", "a\x00b", "a\nb", "\xff", strings.Repeat("k", 1025)} {
		err := storage.ValidKey(k)
		if e := reply.As(err); err == nil || e.Status != http.StatusBadRequest || e.Code != reply.CodeBadRequest {
			t.Errorf("ValidKey(%q) = %v, want a 400", k, err)
		}
	}
}

func TestSplitObjectURL(t *testing.T) {
	for _, c := range []struct{ in, bucket, key string }{
		{"s3://b/models/m.onnx?region=us-east-1", "s3://b?region=us-east-1", "models/m.onnx"},
		{"gs://b/models/m.onnx", "gs://b", "models/m.onnx"},
		{"file:///srv/in/models/m.onnx", "file:///srv/in/models", "m.onnx"},
		{"mem:///models/m.onnx", "mem://", "models/m.onnx"},
	} {
		b, k, err := storage.SplitObjectURL(c.in)
		if err != nil || b != c.bucket || k != c.key {
			t.Errorf("SplitObjectURL(%q) = %q, %q, %v; want %q, %q", c.in, b, k, err, c.bucket, c.key)
		}
	}
	for _, bad := range []string{"s3://b", "s3://b/", "file:///", "s3://b/../x"} {
		if _, _, err := storage.SplitObjectURL(bad); err == nil {
			t.Errorf("SplitObjectURL(%q) accepted", bad)
		}
	}
	for _, c := range []struct {
		bucket, obj, key string
		ok               bool
	}{
		{"file:///srv/in", "file:///srv/in/models/m.onnx", "models/m.onnx", true},
		{"file:///srv/in/", "file:///srv/in/models/m.onnx", "models/m.onnx", true},
		{"mem://", "mem:///models/m.onnx", "models/m.onnx", true},
		{"s3://b?region=x", "s3://b/models/m.onnx?region=x", "models/m.onnx", true},
		{"s3://b?region=x", "s3://c/models/m.onnx?region=x", "", false},
		{"file:///srv/in", "file:///srv/input/m.onnx", "", false},
	} {
		k, ok := storage.KeyIn(c.bucket, c.obj)
		if ok != c.ok || k != c.key {
			t.Errorf("KeyIn(%q, %q) = %q, %v", c.bucket, c.obj, k, ok)
		}
	}
}

// TestBackends reads, writes, fails writes and signs on every backend.
func TestBackends(t *testing.T) {
	ctx := context.Background()
	for _, backend := range apitest.BackendNames {
		t.Run(backend, func(t *testing.T) {
			bs := apitest.Open(t, backend, storage.Options{FileBaseURL: "http://localhost:8080/files"})
			b := bs.Out
			if err := b.Write(ctx, "dir/a.txt", "text/plain", []byte("hello")); err != nil {
				t.Fatal(err)
			}
			got, err := b.Read(ctx, "dir/a.txt", 5)
			if err != nil || string(got) != "hello" {
				t.Fatalf("Read = %q, %v", got, err)
			}
			if _, err := b.Read(ctx, "dir/a.txt", 4); reply.As(err).Status != http.StatusRequestEntityTooLarge {
				t.Errorf("Read over the limit = %v, want 413", err)
			}
			if _, err := b.Read(ctx, "dir/missing.txt", 0); reply.As(err).Status != http.StatusNotFound || !strings.Contains(err.Error(), "dir/missing.txt") {
				t.Errorf("Read of a missing key = %v, want 404 naming it", err)
			}
			if _, err := b.Read(ctx, "../a.txt", 0); reply.As(err).Status != http.StatusBadRequest {
				t.Errorf("Read of ../a.txt = %v, want 400", err)
			}

			// A write that fails half way leaves no object, whatever was written.
			boom := errors.New("encoder failed")
			err = b.WriteWith(ctx, "dir/partial.jpg", "image/jpeg", func(w io.Writer) error {
				if _, err := w.Write(make([]byte, 300<<10)); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Errorf("WriteWith = %v, want the fill's error", err)
			}
			if keys := apitest.Keys(t, b); len(keys) != 1 || keys[0] != "dir/a.txt" {
				t.Errorf("after a failed write the bucket holds %v, want only dir/a.txt", keys)
			}
			if backend == "file" {
				entries, _ := os.ReadDir(filepath.Join(bs.OutDir, "dir"))
				for _, e := range entries {
					if strings.Contains(e.Name(), "partial") {
						t.Errorf("a failed write left %s on disk", e.Name())
					}
				}
			}
			// A cancelled context during the write: nothing either.
			cctx, cancel := context.WithCancel(ctx)
			err = b.WriteWith(cctx, "dir/cancelled.jpg", "image/jpeg", func(w io.Writer) error {
				_, _ = w.Write([]byte("half"))
				cancel()
				return cctx.Err()
			})
			if err == nil {
				t.Errorf("WriteWith with a cancelled context succeeded")
			}
			if ok, _ := b.Exists(ctx, "dir/cancelled.jpg"); ok {
				t.Errorf("a cancelled write left dir/cancelled.jpg")
			}

			u, expires, err := b.SignedURL(ctx, "dir/a.txt", 10*time.Minute)
			if left := time.Until(expires); err == nil && (left < 9*time.Minute || left > 10*time.Minute) {
				t.Errorf("%s SignedURL expires in %v, want 10m", backend, left)
			}
			switch backend {
			case "mem":
				if !errors.Is(err, storage.ErrCannotSign) {
					t.Errorf("mem SignedURL = %q, %v; want ErrCannotSign", u, err)
				}
			case "file":
				if err != nil || !strings.HasPrefix(u, "http://localhost:8080/files?") {
					t.Errorf("file SignedURL = %q, %v", u, err)
				}
			case "gcs":
				if err != nil {
					t.Fatalf("gcs SignedURL: %v", err)
				}
				if exp := bs.GCP.CheckSignedURL(t, u, "out", "dir/a.txt"); exp.Sub(expires).Abs() > time.Second {
					t.Errorf("the URL expires at %v, SignedURL said %v", exp, expires)
				}
			default:
				if err != nil || !strings.Contains(u, "dir/a.txt") || !strings.Contains(strings.ToLower(u), "signature=") {
					t.Errorf("%s SignedURL = %q, %v", backend, u, err)
				}
			}
		})
	}
}

// TestFileSignerFromURL: base_url and secret_key_path in a file:// URL set the
// signer, and a URL signed by one bucket verifies with another of the same key.
func TestFileSignerFromURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keyPath := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyPath, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	u := "file://" + dir + "?base_url=http://example.test/files&secret_key_path=" + keyPath
	b1, err := storage.Open(ctx, u, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b1.Close()
	b2, err := storage.Open(ctx, u, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	s, _, err := b1.SignedURL(ctx, "x.jpg", time.Minute)
	if err != nil || !strings.HasPrefix(s, "http://example.test/files?") {
		t.Fatalf("SignedURL = %q, %v", s, err)
	}
	parsed, _ := url.Parse(s)
	if key, err := b2.LocalSigner().KeyFromURL(ctx, parsed); err != nil || key != "x.jpg" {
		t.Errorf("the other bucket verifies %q as %q, %v", s, key, err)
	}
	if _, err := storage.Open(ctx, "file://"+dir+"?base_url=http://x", storage.Options{}); err == nil {
		t.Errorf("base_url without secret_key_path accepted")
	}
	if b, err := storage.Open(ctx, "file://"+dir, storage.Options{}); err != nil {
		t.Fatal(err)
	} else if _, _, err := b.SignedURL(ctx, "x.jpg", time.Minute); !errors.Is(err, storage.ErrCannotSign) {
		t.Errorf("a file bucket without a signer: %v, want ErrCannotSign", err)
	}
}
