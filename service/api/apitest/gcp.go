package apitest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// GCP fakes what a Cloud Run instance (Cloud Functions gen 2) sees of Google
// Cloud besides storage: a metadata server that names the service account and
// hands out its access token, and the IAM Credentials API, whose SignBlob signs
// with a key the service never holds. NewGCP points the process at the metadata
// server (GCE_METADATA_HOST), so Application Default Credentials come from it as
// on Cloud Run; storage.Options.IAMCredentialsEndpoint = IAMURL sends SignBlob
// here.
type GCP struct {
	Email  string // the service account
	Token  string // the access token the metadata server gives
	Key    *rsa.PrivateKey
	IAMURL string

	mu    sync.Mutex
	calls []SignCall
	fails []failure
}

// SignCall is one SignBlob request as the fake IAM received it.
type SignCall struct {
	Path          string // /v1/<name>:signBlob
	Authorization string
	Payload       []byte
}

type failure struct {
	status         int
	state, reason  string
	message        string
	remainingTimes int // < 0: always
}

// NewGCP starts the fakes and sets the environment for them (so the test may not
// be parallel): GCE_METADATA_HOST, and GOOGLE_APPLICATION_CREDENTIALS emptied (and
// HOME moved, if it holds gcloud's application default credentials) so no
// credentials on this machine are found first.
func NewGCP(tb testing.TB) *GCP {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	g := &GCP{Email: "servebench-fn@servebench-test.iam.gserviceaccount.com", Token: "metadata-token", Key: key}
	md := httptest.NewServer(http.HandlerFunc(g.metadata))
	tb.Cleanup(md.Close)
	iam := httptest.NewServer(http.HandlerFunc(g.iam))
	tb.Cleanup(iam.Close)
	g.IAMURL = iam.URL + "/"
	setenv := tb.(interface{ Setenv(k, v string) }).Setenv
	setenv("GCE_METADATA_HOST", strings.TrimPrefix(md.URL, "http://"))
	setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	if home, err := os.UserHomeDir(); err == nil {
		if _, err := os.Stat(filepath.Join(home, ".config", "gcloud", "application_default_credentials.json")); err == nil {
			setenv("HOME", tb.TempDir())
		}
	}
	return g
}

func (g *GCP) metadata(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
		return
	}
	w.Header().Set("Metadata-Flavor", "Google")
	switch r.URL.Path {
	case "/computeMetadata/v1/instance/service-accounts/default/email":
		fmt.Fprint(w, g.Email)
	case "/computeMetadata/v1/instance/service-accounts/default/token":
		json.NewEncoder(w).Encode(map[string]any{"access_token": g.Token, "expires_in": 3600, "token_type": "Bearer"})
	case "/computeMetadata/v1/project/project-id":
		fmt.Fprint(w, "servebench-test")
	default:
		http.NotFound(w, r)
	}
}

// The error bodies are the shape Google APIs answer with (google.rpc.Status in
// JSON, an ErrorInfo giving the reason).
func (g *GCP) iam(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v1/"), ":signBlob")
	if r.Method != http.MethodPost || !ok || !strings.HasPrefix(name, "projects/") {
		http.NotFound(w, r) // as Google does for a path outside {name=projects/*/serviceAccounts/*}
		return
	}
	var body struct{ Payload []byte }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.calls = append(g.calls, SignCall{Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Payload: body.Payload})
	var fail *failure
	if len(g.fails) > 0 {
		f := g.fails[0]
		fail = &f
		if g.fails[0].remainingTimes > 0 {
			if g.fails[0].remainingTimes--; g.fails[0].remainingTimes == 0 {
				g.fails = g.fails[1:]
			}
		}
	}
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if fail != nil {
		w.WriteHeader(fail.status)
		e := map[string]any{"code": fail.status, "message": fail.message, "status": fail.state}
		if fail.reason != "" {
			e["details"] = []any{map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": fail.reason, "domain": "googleapis.com"}}
		}
		json.NewEncoder(w).Encode(map[string]any{"error": e})
		return
	}
	h := sha256.Sum256(body.Payload)
	sig, err := rsa.SignPKCS1v15(rand.Reader, g.Key, crypto.SHA256, h[:])
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"keyId": "fake-key-1", "signedBlob": sig})
}

// Deny makes every SignBlob call from now on answer 403 PERMISSION_DENIED as IAM
// does for an account without iam.serviceAccounts.signBlob on the target.
func (g *GCP) Deny() {
	g.fail(failure{status: 403, state: "PERMISSION_DENIED", message: "Permission 'iam.serviceAccounts.signBlob' denied on resource (or it may not exist).", reason: "IAM_PERMISSION_DENIED", remainingTimes: -1})
}

// Disabled makes every SignBlob call answer as when iamcredentials.googleapis.com
// is not enabled in the project.
func (g *GCP) Disabled() {
	g.fail(failure{status: 403, state: "PERMISSION_DENIED", reason: "SERVICE_DISABLED", remainingTimes: -1,
		message: "IAM Service Account Credentials API has not been used in project 123 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/iamcredentials.googleapis.com/overview?project=123 then retry."})
}

// Unavailable makes the next n SignBlob calls answer 503.
func (g *GCP) Unavailable(n int) {
	g.fail(failure{status: 503, state: "UNAVAILABLE", message: "The service is currently unavailable.", remainingTimes: n})
}

// fail queues f; a failure for always replaces the queue.
func (g *GCP) fail(f failure) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f.remainingTimes < 0 {
		g.fails = nil
	}
	g.fails = append(g.fails, f)
}

// Calls returns the SignBlob requests received so far.
func (g *GCP) Calls() []SignCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]SignCall(nil), g.calls...)
}

// CheckSignedURL fails unless rawURL is a V2 signed URL (what gcsblob makes) of
// bucket/key by the fake's account, whose signature verifies with the fake IAM's
// public key, and returns when it expires.
func (g *GCP) CheckSignedURL(tb testing.TB, rawURL, bucket, key string) time.Time {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatalf("signed URL %q: %v", rawURL, err)
	}
	q := u.Query()
	exp, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	if err != nil || q.Get("GoogleAccessId") != g.Email || u.Path != "/"+bucket+"/"+key {
		tb.Fatalf("signed URL %q: want GoogleAccessId=%s, Expires, and path /%s/%s", rawURL, g.Email, bucket, key)
	}
	sig, err := base64.StdEncoding.DecodeString(q.Get("Signature"))
	if err != nil {
		tb.Fatalf("signed URL %q: signature: %v", rawURL, err)
	}
	// The V2 string to sign: verb, Content-MD5, Content-Type, expiry, resource.
	h := sha256.Sum256(fmt.Appendf(nil, "GET\n\n\n%d\n/%s/%s", exp, bucket, key))
	if err := rsa.VerifyPKCS1v15(&g.Key.PublicKey, crypto.SHA256, h[:], sig); err != nil {
		tb.Fatalf("signed URL %q does not verify with the service account's key: %v", rawURL, err)
	}
	return time.Unix(exp, 0)
}
