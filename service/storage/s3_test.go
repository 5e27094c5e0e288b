package storage_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/storage"
)

// containerCreds fakes the container credentials endpoint ECS (and a SnapStart
// Lambda) gives a task: each call hands out the next credentials of issue, the
// last one again once they run out.
type containerCreds struct {
	mu      sync.Mutex
	issue   []fakeCreds
	calls   int
	expires map[string]time.Time // access key → expiry, of all handed out
}

type fakeCreds struct {
	key     string
	expires time.Time
}

func (c *containerCreds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "container-token" {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	c.mu.Lock()
	i := min(c.calls, len(c.issue)-1)
	c.calls++
	cr := c.issue[i]
	c.expires[cr.key] = cr.expires
	c.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": cr.key, "SecretAccessKey": "secret-" + cr.key,
		"Token": "session-" + cr.key, "Expiration": cr.expires.UTC().Format(time.RFC3339)})
}

func (c *containerCreds) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// openWithContainerCreds opens the test's S3 output bucket with credentials from
// the endpoint only, through the SDK's default chain as on ECS.
func openWithContainerCreds(t *testing.T, issue ...fakeCreds) (*storage.Bucket, *containerCreds) {
	t.Helper()
	bs := apitest.Open(t, "s3", storage.Options{})
	cc := &containerCreds{issue: issue, expires: map[string]time.Time{}}
	srv := httptest.NewServer(cc)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-token")
	b, err := storage.Open(context.Background(), bs.OutURL, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Write(context.Background(), "dir/a.txt", "text/plain", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	return b, cc
}

// signed signs dir/a.txt for ttl and returns the URL's access key and lifetime,
// checking that the credentials that signed it outlive it and that SignedURL
// reported its real expiry.
func signed(t *testing.T, b *storage.Bucket, cc *containerCreds, ttl time.Duration) (key string, lifetime time.Duration) {
	t.Helper()
	start := time.Now()
	s, expires, err := b.SignedURL(context.Background(), "dir/a.txt", ttl)
	if err != nil {
		t.Fatalf("SignedURL: %v", err)
	}
	u, _ := url.Parse(s)
	q := u.Query()
	key, _, _ = strings.Cut(q.Get("X-Amz-Credential"), "/")
	secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil {
		t.Fatalf("URL %s has no X-Amz-Expires", s)
	}
	lifetime = time.Duration(secs) * time.Second
	cc.mu.Lock()
	credsExpire, ok := cc.expires[key]
	cc.mu.Unlock()
	if !ok {
		t.Fatalf("URL signed with %q, which the endpoint never handed out", key)
	}
	if end := start.Add(lifetime); end.After(credsExpire) {
		t.Errorf("URL valid %v (until %v), signed by %s expiring at %v", lifetime, end, key, credsExpire)
	}
	if d := expires.Sub(start.Add(lifetime)).Abs(); d > 2*time.Second {
		t.Errorf("SignedURL reported expiry %v; the URL says %v", expires, start.Add(lifetime))
	}
	resp, err := http.Get(s)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello" {
		t.Errorf("GET the signed URL: %d %q", resp.StatusCode, body)
	}
	return key, lifetime
}

// TestS3URLOutlivesItsCredentials: credentials about to expire are refreshed
// before signing, so the URL lives its whole TTL.
func TestS3URLOutlivesItsCredentials(t *testing.T) {
	now := time.Now()
	b, cc := openWithContainerCreds(t, fakeCreds{"AKIDSHORT", now.Add(8 * time.Minute)}, fakeCreds{"AKIDROTATED", now.Add(6 * time.Hour)})
	key, lifetime := signed(t, b, cc, 15*time.Minute)
	if key != "AKIDROTATED" || lifetime != 15*time.Minute {
		t.Errorf("signed by %s for %v, want the rotated credentials for 15m", key, lifetime)
	}
	// Fresh credentials are not fetched again for each URL.
	calls := cc.count()
	signed(t, b, cc, 15*time.Minute)
	if n := cc.count(); n != calls {
		t.Errorf("the credentials endpoint was called %d more times for a second URL", n-calls)
	}
}

// TestS3URLCappedByCredentials: when even fresh credentials expire within the
// TTL, the URL lives only as long as they do and says so. (The SDK reports their
// expiry 5 minutes early, its refresh window, so the URL ends up to 5 minutes
// before they do.)
func TestS3URLCappedByCredentials(t *testing.T) {
	b, cc := openWithContainerCreds(t, fakeCreds{"AKIDSHORT", time.Now().Add(10 * time.Minute)})
	key, lifetime := signed(t, b, cc, 15*time.Minute)
	if key != "AKIDSHORT" || lifetime < 4*time.Minute || lifetime >= 15*time.Minute {
		t.Errorf("signed by %s for %v, want AKIDSHORT for 5m to 10m", key, lifetime)
	}
	// The endpoint had nothing newer: it is not asked again for every URL.
	calls := cc.count()
	signed(t, b, cc, 15*time.Minute)
	if n := cc.count(); n != calls {
		t.Errorf("the credentials endpoint was called %d more times for a second URL", n-calls)
	}
	// A TTL within the credentials' life is left alone.
	if _, lifetime := signed(t, b, cc, 3*time.Minute); lifetime != 3*time.Minute {
		t.Errorf("a 3m URL lives %v", lifetime)
	}
}
