package awsfake

import (
	"encoding/xml"
	"net/http"
	"sync"
)

// FakeAccount is the account the fakes answer for.
const FakeAccount = "123456789012"

// STS models GetCallerIdentity: a settable caller, or a refusal as AWS gives it
// to expired or unknown credentials.
type STS struct {
	mu                    sync.Mutex
	account, arn, userID  string
	refuseCode, refuseMsg string
}

// NewSTS answers for a user in FakeAccount.
func NewSTS() *STS {
	return &STS{account: FakeAccount, arn: "arn:aws:iam::" + FakeAccount + ":user/servebench", userID: "AIDAFAKEUSER"}
}

// SetIdentity changes the caller.
func (s *STS) SetIdentity(account, arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account, s.arn = account, arn
	s.refuseCode = ""
}

// Refuse makes every call fail with code, as "ExpiredToken" (temporary
// credentials past their expiry) or "InvalidClientTokenId" (an unknown access
// key); both come with status 403.
func (s *STS) Refuse(code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseCode, s.refuseMsg = code, message
}

// Install registers the fake on srv.
func (s *STS) Install(srv *Server) { srv.Handle("sts", s) }

func (s *STS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallFrom(r)
	if c.Operation != "GetCallerIdentity" {
		QueryError(w, http.StatusBadRequest, "InvalidAction", "awsfake: STS fakes only GetCallerIdentity, not "+c.Operation)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuseCode != "" {
		QueryError(w, http.StatusForbidden, s.refuseCode, s.refuseMsg)
		return
	}
	type result struct {
		XMLName xml.Name `xml:"GetCallerIdentityResult"`
		Account string   `xml:"Account"`
		Arn     string   `xml:"Arn"`
		UserID  string   `xml:"UserId"`
	}
	WriteQuery(w, c.Operation, result{Account: s.account, Arn: s.arn, UserID: s.userID})
}
