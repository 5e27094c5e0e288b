package storage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"cloud.google.com/go/compute/metadata"
	"github.com/googleapis/gax-go/v2/apierror"
	"gocloud.dev/blob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/gcp"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"

	"github.com/servebench/servebench/service/reply"
)

// gs:// buckets are opened here rather than by gocloud's default opener for one
// reason: signing without a private key. On Cloud Run and Cloud Functions the
// credentials come from the metadata server and carry no key, so a signed URL
// needs the IAM Credentials API's SignBlob. gocloud v0.47.0's own signer
// (gcsblob/iam.go) names the account by its bare email where the API documents
// projects/-/serviceAccounts/EMAIL, and builds a client no test can reach. This
// one uses the documented name, the same authenticated client as the bucket, and
// says what to grant when IAM refuses.

// openGCS opens a gs:// bucket with Application Default Credentials, as gocloud
// does: a service account key file signs locally with its key; otherwise the
// account is the one the metadata server names and SignBlob signs.
func openGCS(ctx context.Context, u *url.URL, opt Options) (*blob.Bucket, error) {
	q := u.Query()
	if _, ok := q["universe_domain"]; ok {
		return nil, errors.New("the universe_domain parameter is not supported")
	}
	creds, err := gcp.DefaultCredentials(ctx)
	if err != nil {
		// Like gocloud: no credentials may still read a public bucket or an
		// emulator; the requests that need them will fail and say so.
		creds, _ = google.CredentialsFromJSON(ctx, []byte(`{"type": "service_account"}`))
	}
	client, err := gcp.NewHTTPClient(gcp.DefaultTransport(), creds.TokenSource)
	if err != nil {
		return nil, err
	}
	var key struct {
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	_ = json.Unmarshal(creds.JSON, &key) // empty JSON (metadata credentials): no key
	opts := gcsblob.Options{GoogleAccessID: key.ClientEmail, PrivateKey: []byte(key.PrivateKey)}
	if len(opts.PrivateKey) == 0 {
		opts.PrivateKey = nil
	}
	if opts.GoogleAccessID == "" && metadata.OnGCEWithContext(ctx) {
		email, err := metadata.EmailWithContext(ctx, "default")
		if err != nil {
			return nil, fmt.Errorf("the service account's email from the metadata server: %w", err)
		}
		opts.GoogleAccessID = email
	}
	// private_key_path in the URL brings its own key (gcsblob reads it); two
	// signers would make gcsblob refuse to sign at all.
	if opts.PrivateKey == nil && opts.GoogleAccessID != "" && q.Get("private_key_path") == "" {
		s, err := newIAMSigner(ctx, opts.GoogleAccessID, &client.Client, opt.IAMCredentialsEndpoint)
		if err != nil {
			return nil, err
		}
		opts.MakeSignBytes = s.signBytes
	}
	return (&gcsblob.URLOpener{Client: client, TokenSource: gcp.CredentialsTokenSource(creds), Options: opts}).OpenBucketURL(ctx, u)
}

// iamSigner signs with a service account's Google-managed key through the IAM
// Credentials API (REST, as cloud.google.com/go/storage's own fallback does).
type iamSigner struct {
	name string // projects/-/serviceAccounts/EMAIL
	svc  *iamcredentials.Service
}

// signAttempts bounds the calls per signature: IAM answers 429 and 5xx now and
// then (google-api-go-client#419), and a retry is cheaper than a failed request.
const signAttempts = 3

func newIAMSigner(ctx context.Context, email string, hc *http.Client, endpoint string) (*iamSigner, error) {
	o := []option.ClientOption{option.WithHTTPClient(hc)}
	if endpoint != "" {
		o = append(o, option.WithEndpoint(endpoint))
	}
	svc, err := iamcredentials.NewService(ctx, o...)
	if err != nil {
		return nil, fmt.Errorf("IAM Credentials client: %w", err)
	}
	// "-" lets IAM infer the project from the account (API reference of
	// projects.serviceAccounts.signBlob).
	return &iamSigner{name: "projects/-/serviceAccounts/" + email, svc: svc}, nil
}

// signBytes has the shape of gcsblob.Options.MakeSignBytes: the signature is
// made under the request's context.
func (s *iamSigner) signBytes(ctx context.Context) gcsblob.SignBytesFunc {
	return func(p []byte) ([]byte, error) {
		req := &iamcredentials.SignBlobRequest{Payload: base64.StdEncoding.EncodeToString(p)}
		var resp *iamcredentials.SignBlobResponse
		var err error
		for attempt := 1; ; attempt++ {
			resp, err = s.svc.Projects.ServiceAccounts.SignBlob(s.name, req).Context(ctx).Do()
			if err == nil || attempt == signAttempts || !transient(err) {
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			}
		}
		if err != nil {
			return nil, s.explain(err)
		}
		sig, err := base64.StdEncoding.DecodeString(resp.SignedBlob)
		if err != nil {
			return nil, fmt.Errorf("IAM SignBlob as %s: the signature is not base64: %w", s.name, err)
		}
		return sig, nil
	}
}

func transient(err error) bool {
	var gerr *googleapi.Error
	return errors.As(err, &gerr) && (gerr.Code == http.StatusTooManyRequests || gerr.Code >= 500)
}

// explain turns IAM's refusal into an answer that says what to change; the cause
// (IAM's own message, the account) is logged, not shown.
func (s *iamSigner) explain(err error) error {
	err = fmt.Errorf("IAM SignBlob as %s: %w", s.name, err)
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != http.StatusForbidden {
		return err
	}
	why := "the service account may not sign URLs: grant it roles/iam.serviceAccountTokenCreator on itself (IAM Credentials SignBlob answered PERMISSION_DENIED)"
	var ae *apierror.APIError
	if errors.As(err, &ae) && ae.Reason() == "SERVICE_DISABLED" {
		why = "the IAM Service Account Credentials API (iamcredentials.googleapis.com) is not enabled in the project; enable it to sign URLs"
	}
	return reply.Wrap(http.StatusInternalServerError, reply.CodeInternal, why, err)
}
