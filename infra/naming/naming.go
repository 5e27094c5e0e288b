// Package naming builds the names the cloud sees. They carry the stack name, so two
// stacks of the same program never collide, and they stay within each service's
// length limit: a name that is too long is cut and given a short hash of the full
// name, so two long names that share a prefix still differ.
package naming

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Length limits of the services this program names.
const (
	MaxLoadBalancer  = 32 // ALB and target group
	MaxS3Bucket      = 63
	MaxS3Prefix      = 37 // bucketPrefix: AWS appends a 26-character unique suffix
	MaxIAMRole       = 64
	MaxLambda        = 64
	MaxGCSBucket     = 63
	MaxGCPFunction   = 63
	MaxServiceAcct   = 30 // GCP service account id
	MaxArtifactRepo  = 63 // Artifact Registry repository id
	MaxECRRepository = 256
)

// Fit returns name lower-cased, with every character outside [a-z0-9-] turned into
// '-', and cut to max characters; a cut name ends in '-' and 8 hex digits of the
// SHA-256 of the full name.
func Fit(name string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) <= max {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	suffix := "-" + hex.EncodeToString(sum[:])[:8]
	head := strings.TrimRight(s[:max-len(suffix)], "-")
	return head + suffix
}

// Namer joins a base (project and stack) with a part and fits the result.
type Namer struct{ Base string }

// New returns a Namer whose names start with project-stack.
func New(project, stack string) Namer { return Namer{Base: project + "-" + stack} }

// Name returns base-part fitted to max characters.
func (n Namer) Name(part string, max int) string { return Fit(n.Base+"-"+part, max) }
