package awsfake_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/servebench/servebench/bench/cloud/awsfake"
)

// The real STS client (awsQuery) reaches the handler registered for "sts", reads
// its XML answer, and the call is recorded with its operation and form.
func TestDispatchByScope(t *testing.T) {
	f := awsfake.New(t)
	f.Handle("sts", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type result struct {
			XMLName xml.Name `xml:"GetCallerIdentityResult"`
			Account string   `xml:"Account"`
			Arn     string   `xml:"Arn"`
			UserId  string   `xml:"UserId"`
		}
		awsfake.WriteQuery(w, awsfake.CallFrom(r).Operation, result{Account: "123456789012", Arn: "arn:aws:iam::123456789012:user/me", UserId: "AIDA"})
	}))
	out, err := sts.NewFromConfig(f.Config()).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Account != "123456789012" || *out.Arn != "arn:aws:iam::123456789012:user/me" {
		t.Errorf("identity %s %s", *out.Account, *out.Arn)
	}
	if ops := f.Operations("sts"); len(ops) != 1 || ops[0] != "GetCallerIdentity" {
		t.Errorf("operations %v", ops)
	}
	// A service nobody fakes is an error the client sees, not a hang.
	f2 := awsfake.New(t)
	if _, err := sts.NewFromConfig(f2.Config()).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err == nil {
		t.Error("no handler for sts: want an error")
	}
}
