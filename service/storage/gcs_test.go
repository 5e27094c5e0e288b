package storage_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/reply"
	"github.com/servebench/servebench/service/storage"
)

// TestGCSSignsThroughIAM signs as on Cloud Functions: no private key, the account
// from the metadata server, the signature from IAM Credentials SignBlob.
func TestGCSSignsThroughIAM(t *testing.T) {
	ctx := context.Background()
	bs := apitest.Open(t, "gcs", storage.Options{})
	g := bs.GCP
	if err := bs.Out.Write(ctx, "dir/a.txt", "text/plain", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	u, _, err := bs.Out.SignedURL(ctx, "dir/a.txt", 15*time.Minute)
	if err != nil {
		t.Fatalf("SignedURL: %v", err)
	}
	exp := g.CheckSignedURL(t, u, "out", "dir/a.txt")
	calls := g.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d SignBlob calls, want 1: %+v", len(calls), calls)
	}
	c := calls[0]
	// The resource name in the documented form, the call authenticated with the
	// metadata server's token, the payload the V2 string to sign of this URL.
	if want := "/v1/projects/-/serviceAccounts/" + g.Email + ":signBlob"; c.Path != want {
		t.Errorf("SignBlob path %q, want %q", c.Path, want)
	}
	if c.Authorization != "Bearer "+g.Token {
		t.Errorf("SignBlob authorization %q, want the metadata server's token", c.Authorization)
	}
	if want := fmt.Sprintf("GET\n\n\n%d\n/out/dir/a.txt", exp.Unix()); string(c.Payload) != want {
		t.Errorf("SignBlob payload %q, want %q", c.Payload, want)
	}

	// A passing 503 is retried.
	g.Unavailable(1)
	if _, _, err := bs.Out.SignedURL(ctx, "dir/a.txt", time.Minute); err != nil {
		t.Errorf("SignedURL after one 503: %v", err)
	}
	if n := len(g.Calls()); n != 3 {
		t.Errorf("%d SignBlob calls after a 503 and a retry, want 3", n)
	}

	// Refusals say what to change, in the reply contract, and are not "cannot sign".
	for _, c := range []struct {
		name, want string
		set        func()
	}{
		{"no role", "roles/iam.serviceAccountTokenCreator", g.Deny},
		{"API disabled", "iamcredentials.googleapis.com", g.Disabled},
	} {
		c.set()
		_, _, err := bs.Out.SignedURL(ctx, "dir/a.txt", time.Minute)
		e := reply.As(err)
		if err == nil || errors.Is(err, storage.ErrCannotSign) || e.Status != http.StatusInternalServerError || !strings.Contains(e.Message, c.want) {
			t.Errorf("%s: SignedURL = %v (answer %d %q), want a 500 naming %s", c.name, err, e.Status, e.Message, c.want)
		}
		if !strings.Contains(err.Error(), g.Email) {
			t.Errorf("%s: the logged cause %q does not name the account", c.name, err)
		}
	}
}

// TestGCSKeyFile: with a service account key as Application Default Credentials
// the URL is signed locally with its key, and IAM is not called.
func TestGCSKeyFile(t *testing.T) {
	ctx := context.Background()
	bs := apitest.Open(t, "gcs", storage.Options{})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "servebench-test", "private_key_id": "1",
		"client_email": "key-holder@servebench-test.iam.gserviceaccount.com", "token_uri": "http://127.0.0.1:1/token",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
	})
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	b, err := storage.Open(ctx, "gs://out", storage.Options{IAMCredentialsEndpoint: bs.GCP.IAMURL})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	u, _, err := b.SignedURL(ctx, "dir/a.txt", time.Minute)
	if err != nil || !strings.Contains(u, "GoogleAccessId=key-holder%40servebench-test.iam.gserviceaccount.com") {
		t.Fatalf("SignedURL = %q, %v; want one by the key's account", u, err)
	}
	if n := len(bs.GCP.Calls()); n != 0 {
		t.Errorf("%d SignBlob calls with a private key at hand, want 0", n)
	}
	if _, err := storage.Open(ctx, "gs://out?universe_domain=example.com", storage.Options{}); err == nil {
		t.Errorf("universe_domain accepted")
	}
}
