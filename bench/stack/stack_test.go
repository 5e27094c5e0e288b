package stack

import (
	"strings"
	"testing"
)

// The outputs as stacks/ exports them (serverful.go, serverless.go).
func TestEndpointsOneURL(t *testing.T) {
	got, err := Endpoints("serverful", []byte(`{"url":"http://alb-123.us-east-1.elb.amazonaws.com/","inputBucket":"in-abc","instances":5,
		"repositoryUrl":"123456789012.dkr.ecr.us-east-1.amazonaws.com/servebench-server","mode":"serverful",
		"gcpUrls":{"predict":"https://predict-xyz-uc.a.run.app"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "serverful" || got[0].URL != "http://alb-123.us-east-1.elb.amazonaws.com" {
		t.Errorf("got %+v", got)
	}
}

func TestEndpointsSeveralNamedByKey(t *testing.T) {
	got, err := Endpoints("serverless", []byte(`{"url":"https://abc.execute-api.us-east-1.amazonaws.com","gcp_endpoint":"https://predict-xyz.a.run.app","bucket":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "serverless" || got[1].Name != "serverless-gcp" || got[0].URL != "https://abc.execute-api.us-east-1.amazonaws.com" {
		t.Errorf("got %+v", got)
	}
}

func TestEndpointsErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`not json`, "not a JSON object"},
		{`{"bucket":"x","region":"us-east-1"}`, "no endpoint URL among its outputs (bucket, region)"},
		{`{"repositoryUrl":"1.dkr.ecr.us-east-1.amazonaws.com/x"}`, "no endpoint URL among its outputs (repositoryUrl)"},
		{`{"url":"ftp://host/x"}`, `output url="ftp://host/x" is not an http(s) URL`},
	} {
		_, err := Endpoints("s", []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want it to say %q", c.in, err, c.want)
		}
	}
}
