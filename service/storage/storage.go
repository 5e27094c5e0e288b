// Package storage opens the service's buckets from gocloud blob URLs (s3://, gs://,
// file://, mem://) and gives the handlers what they need on top: key checks,
// bounded reads, writes that leave nothing behind on failure, signed URLs and the
// mapping of storage errors to the HTTP error contract.
package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob" // mem://
	_ "gocloud.dev/blob/s3blob"  // s3://
	"gocloud.dev/gcerrors"

	"github.com/servebench/servebench/service/reply"
)

// ErrCannotSign is returned by SignedURL for buckets whose backend has no signed
// URLs (mem://, or file:// opened without a signer).
var ErrCannotSign = errors.New("this bucket cannot sign URLs")

// Bucket is an open bucket with the name the answers report.
type Bucket struct {
	*blob.Bucket
	name   string
	signer *fileblob.URLSignerHMAC // file:// only: the signer, to verify its URLs
	s3     *s3Signer               // s3:// only
	signs  bool
}

// Options tune Open.
type Options struct {
	// FileBaseURL is the base of signed URLs for file:// buckets whose URL has no
	// base_url parameter, e.g. http://localhost:8080/files. Empty: no signing.
	FileBaseURL string
	// FileSecret is the HMAC key for those URLs; empty picks a random key, so the
	// URLs are valid only while this process runs.
	FileSecret []byte
	// IAMCredentialsEndpoint is where gs:// buckets without a private key call
	// SignBlob; empty is Google's (https://iamcredentials.googleapis.com/). Tests
	// point it at a fake.
	IAMCredentialsEndpoint string
}

// Open opens the bucket at rawURL. For file:// URLs the parameters base_url and
// secret_key_path (as fileblob defines them) set the signer; without them the
// signer comes from opt.
func Open(ctx context.Context, rawURL string, opt Options) (*Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open bucket %q: %w", rawURL, err)
	}
	if u.Scheme != "file" {
		var b *blob.Bucket
		if u.Scheme == "gs" {
			b, err = openGCS(ctx, u, opt)
		} else {
			b, err = blob.OpenBucket(ctx, rawURL)
		}
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", Name(rawURL), err)
		}
		return New(b, Name(rawURL), u.Scheme != "mem"), nil
	}
	signer, err := fileSigner(u, opt)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", Name(rawURL), err)
	}
	q := u.Query()
	q.Del("base_url")
	q.Del("secret_key_path")
	u.RawQuery = q.Encode()
	fo := fileblob.Options{Metadata: fileblob.MetadataInSidecar}
	if signer != nil {
		fo.URLSigner = signer
	}
	b, err := (&fileblob.URLOpener{Options: fo}).OpenBucketURL(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", Name(rawURL), err)
	}
	bk := New(b, Name(rawURL), signer != nil)
	bk.signer = signer
	return bk, nil
}

func fileSigner(u *url.URL, opt Options) (*fileblob.URLSignerHMAC, error) {
	q := u.Query()
	base, keyPath := q.Get("base_url"), q.Get("secret_key_path")
	if (base == "") != (keyPath == "") {
		return nil, errors.New("give both base_url and secret_key_path, or neither")
	}
	secret := opt.FileSecret
	if base == "" {
		base = opt.FileBaseURL
	} else {
		b, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, fmt.Errorf("read secret_key_path: %w", err)
		}
		secret = b
	}
	if base == "" {
		return nil, nil
	}
	bu, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("base_url %q: %w", base, err)
	}
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	return fileblob.NewURLSignerHMAC(bu, secret), nil
}

// New wraps an already opened bucket (for example gcsblob.OpenBucket with a client
// of its own). signs says whether the backend can sign URLs.
func New(b *blob.Bucket, name string, signs bool) *Bucket {
	return &Bucket{Bucket: b, name: name, signs: signs, s3: newS3Signer(b)}
}

// Name is the bucket URL without its query (credentials and endpoints stay out of
// answers and logs).
func Name(rawURL string) string {
	if i := strings.IndexByte(rawURL, '?'); i >= 0 {
		return rawURL[:i]
	}
	return rawURL
}

// Name is the bucket's name as answers report it.
func (b *Bucket) Name() string { return b.name }

// SplitObjectURL splits the URL of one object into its bucket URL and key:
// s3://bucket/models/m.onnx?region=x → s3://bucket?region=x, models/m.onnx. A
// file:// URL splits at the last slash: file:///srv/in/models/m.onnx →
// file:///srv/in/models, m.onnx.
func SplitObjectURL(rawURL string) (bucketURL, key string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", fmt.Errorf("object URL %q: %w", rawURL, err)
	}
	p := strings.TrimPrefix(u.Path, "/")
	if u.Scheme == "file" {
		i := strings.LastIndexByte(u.Path, '/')
		p = u.Path[i+1:]
		u.Path = u.Path[:i]
	} else {
		u.Path = ""
	}
	if err := ValidKey(p); err != nil {
		return "", "", fmt.Errorf("object URL %q: %w", rawURL, err)
	}
	// Built by hand: url.URL.String drops the "//" of an empty host ("mem:").
	bucketURL = u.Scheme + "://" + u.Host + u.Path
	if u.RawQuery != "" {
		bucketURL += "?" + u.RawQuery
	}
	return bucketURL, p, nil
}

// KeyIn reports the key of the object URL objURL inside the bucket at bucketURL,
// if it is in that bucket (same scheme, host, query, and path under the bucket's).
func KeyIn(bucketURL, objURL string) (string, bool) {
	b, err1 := url.Parse(bucketURL)
	o, err2 := url.Parse(objURL)
	if err1 != nil || err2 != nil || b.Scheme != o.Scheme || b.Host != o.Host || b.RawQuery != o.RawQuery {
		return "", false
	}
	prefix := strings.TrimSuffix(b.Path, "/") + "/"
	if !strings.HasPrefix(o.Path, prefix) {
		return "", false
	}
	key := strings.TrimPrefix(o.Path, prefix)
	return key, ValidKey(key) == nil
}

// ValidKey rejects keys that could escape a directory bucket or that no backend
// stores alike: empty, a leading slash, "." or ".." segments, backslashes,
// control characters, invalid UTF-8, or over 1024 bytes (the S3 and GCS limit).
func ValidKey(key string) error {
	bad := func(why string) error {
		return reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest, "invalid key %q: %s", key, why)
	}
	switch {
	case key == "":
		return bad("empty")
	case len(key) > 1024:
		return bad("longer than 1024 bytes")
	case strings.HasPrefix(key, "/"):
		return bad("starts with /")
	case strings.HasSuffix(key, "/"):
		return bad("ends with /")
	case strings.ContainsRune(key, '\\'):
		return bad("contains a backslash")
	}
	for _, r := range key {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return bad("contains a control character or invalid UTF-8")
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return bad("has an empty, . or .. segment")
		}
	}
	return nil
}

// Read reads the object at key, at most max bytes (0: no limit). A missing object
// is a 404 and a larger one a 413, both in the reply error contract.
func (b *Bucket) Read(ctx context.Context, key string, max int64) ([]byte, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, b.classify(key, err)
	}
	defer r.Close()
	if max > 0 && r.Size() > max {
		return nil, reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
			"%s is %d bytes, over the limit of %d", key, r.Size(), max)
	}
	var src io.Reader = r
	if max > 0 {
		src = io.LimitReader(r, max+1) // the size can change between stat and read
	}
	data, err := io.ReadAll(src)
	if err != nil {
		return nil, b.classify(key, err)
	}
	if max > 0 && int64(len(data)) > max {
		return nil, reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
			"%s is over the limit of %d bytes", key, max)
	}
	return data, nil
}

// WriteWith writes the object key with the bytes fill writes. The object appears
// only if fill and the upload both succeed. fill writes to memory first, so a
// failing fill never reaches the bucket (a fake GCS server, for one, stores a
// streamed body cut short as if complete). The upload itself commits on Close;
// on any error the writer's context is cancelled before Close, which makes every
// gocloud driver abort it.
func (b *Bucket) WriteWith(ctx context.Context, key, contentType string, fill func(io.Writer) error) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := fill(&buf); err != nil {
		return fmt.Errorf("write %s in %s: %w", key, b.name, err)
	}
	return b.Write(ctx, key, contentType, buf.Bytes())
}

// Write writes data to the object key, all or nothing.
func (b *Bucket) Write(ctx context.Context, key, contentType string, data []byte) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write %s in %s: %w", key, b.name, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return b.classify(key, err)
	}
	if _, err := w.Write(data); err != nil {
		cancel() // abort: Close after a cancel discards the upload
		_ = w.Close()
		return b.classify(key, err)
	}
	if err := w.Close(); err != nil {
		return b.classify(key, err)
	}
	return nil
}

// SignedURL returns a URL that lets anyone holding it GET the object, and when it
// expires: after ttl, or sooner if the credentials that sign it expire sooner (S3
// with temporary role credentials; see s3Signer). ErrCannotSign if the backend has
// no signed URLs. Other failures are in the reply error contract.
func (b *Bucket) SignedURL(ctx context.Context, key string, ttl time.Duration) (string, time.Time, error) {
	if !b.signs {
		return "", time.Time{}, fmt.Errorf("sign %s in %s: %w", key, b.name, ErrCannotSign)
	}
	ttl, err := b.s3.lifetime(ctx, ttl)
	if err != nil {
		return "", time.Time{}, b.signError(key, err)
	}
	expires := time.Now().Add(ttl)
	s, err := b.Bucket.SignedURL(ctx, key, &blob.SignedURLOptions{Expiry: ttl, Method: http.MethodGet})
	if err != nil {
		if gcerrors.Code(err) == gcerrors.Unimplemented {
			return "", time.Time{}, fmt.Errorf("sign %s in %s: %w: %w", key, b.name, ErrCannotSign, err)
		}
		return "", time.Time{}, b.signError(key, err)
	}
	return s, expires, nil
}

// signError keeps a cancelled or timed-out context and an error that already says
// what to do (the IAM signer's) as they are; anything else is a 500.
func (b *Bucket) signError(key string, err error) error {
	err = fmt.Errorf("sign %s in %s: %w", key, b.name, err)
	var re *reply.Error
	if errors.As(err, &re) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	return reply.Wrap(http.StatusInternalServerError, reply.CodeInternal, "could not sign a URL for the object", err)
}

// LocalSigner is the signer of a file:// bucket (nil for other backends): the
// server that owns the bucket uses it to serve the URLs it signed.
func (b *Bucket) LocalSigner() *fileblob.URLSignerHMAC { return b.signer }

// classify maps storage errors to the error contract: missing → 404, a cancelled
// or timed-out context kept as is (reply.As maps it), anything else → 500 with
// the cause logged.
func (b *Bucket) classify(key string, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded), gcerrors.Code(err) == gcerrors.DeadlineExceeded:
		return fmt.Errorf("%s in %s: %w: %w", key, b.name, context.DeadlineExceeded, err)
	case errors.Is(err, context.Canceled), gcerrors.Code(err) == gcerrors.Canceled:
		return fmt.Errorf("%s in %s: %w: %w", key, b.name, context.Canceled, err)
	case gcerrors.Code(err) == gcerrors.NotFound:
		return reply.Wrap(http.StatusNotFound, reply.CodeNotFound, fmt.Sprintf("no object %q in %s", key, b.name), err)
	case gcerrors.Code(err) == gcerrors.PermissionDenied:
		return reply.Wrap(http.StatusInternalServerError, reply.CodeInternal, "the service may not access its bucket", fmt.Errorf("%s in %s: %w", key, b.name, err))
	default:
		return reply.Wrap(http.StatusInternalServerError, reply.CodeInternal, "storage error", fmt.Errorf("%s in %s: %w", key, b.name, err))
	}
}
