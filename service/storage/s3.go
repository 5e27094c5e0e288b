package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
)

// A presigned S3 URL stops working when the credentials that signed it expire,
// whatever its own X-Amz-Expires (S3 user guide, "Sharing objects with presigned
// URLs"). Role credentials are temporary: the ECS task role's, an instance
// profile's, a SnapStart Lambda's (all from the container or instance metadata
// endpoint). The SDK keeps them cached until 5 minutes before they expire
// (config.resolveHTTPCredProvider: ExpiryWindow), so without care a 15-minute URL
// can be signed with credentials that have 6 minutes left. Plain Lambda functions
// get theirs in environment variables with no expiry the SDK can see; nothing
// here can tell, or help.

// s3Signer makes sure the credentials an S3 bucket signs with outlast the URL.
type s3Signer struct {
	creds aws.CredentialsProvider

	mu sync.Mutex
	// refreshed is the access key a forced refresh last brought: if the source
	// hands out the same one again, refreshing before each URL would only cost a
	// round trip per request.
	refreshed string
}

// newS3Signer returns the signer of b, nil if b is not an S3 bucket.
func newS3Signer(b *blob.Bucket) *s3Signer {
	var c *s3.Client
	if !b.As(&c) {
		return nil
	}
	return &s3Signer{creds: c.Options().Credentials}
}

// lifetime returns how long a URL signed now may be valid, at most ttl: the
// credentials are refreshed first if they would expire sooner, and if even fresh
// ones expire sooner, the URL lives only as long as they do. The cache reports an
// expiry its window (5 minutes) early, so a capped URL ends that much before the
// credentials: safe, if short.
func (s *s3Signer) lifetime(ctx context.Context, ttl time.Duration) (time.Duration, error) {
	if s == nil || s.creds == nil {
		return ttl, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.creds.Retrieve(ctx)
	if err != nil {
		return 0, fmt.Errorf("the signing credentials: %w", err)
	}
	until := time.Now().Add(ttl)
	if !c.CanExpire || !c.Expires.Before(until) {
		return ttl, nil
	}
	if cache, ok := s.creds.(*aws.CredentialsCache); ok && c.AccessKeyID != s.refreshed {
		cache.Invalidate()
		if c, err = s.creds.Retrieve(ctx); err != nil {
			return 0, fmt.Errorf("refresh the signing credentials: %w", err)
		}
		s.refreshed = c.AccessKeyID
		if !c.CanExpire || !c.Expires.Before(until) {
			return ttl, nil
		}
	}
	left := time.Until(c.Expires).Truncate(time.Second)
	if left < time.Second {
		return 0, fmt.Errorf("the signing credentials expired at %s", c.Expires.UTC().Format(time.RFC3339))
	}
	return left, nil
}
