package access

import (
	"encoding/json"
	"testing"
)

func TestDocuments(t *testing.T) {
	doc, err := JSON(append(Buckets("arn:aws:s3:::in", "arn:aws:s3:::out"), Logs("arn:aws:logs:r:1:log-group:g"))...)
	if err != nil {
		t.Fatal(err)
	}
	var d Document
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	if d.Version != "2012-10-17" || len(d.Statement) != 4 {
		t.Fatalf("document %s", doc)
	}
	for _, s := range d.Statement {
		for _, r := range s.Resource {
			if r == "*" {
				t.Errorf("statement %s allows every resource", s.Sid)
			}
		}
	}
	if d.Statement[3].Resource[0] != "arn:aws:logs:r:1:log-group:g:*" {
		t.Errorf("logs resource %v", d.Statement[3].Resource)
	}
	var trust struct {
		Statement []struct {
			Action    string
			Principal struct{ Service string }
		}
	}
	if err := json.Unmarshal([]byte(AssumeRole("lambda.amazonaws.com")), &trust); err != nil ||
		trust.Statement[0].Principal.Service != "lambda.amazonaws.com" || trust.Statement[0].Action != "sts:AssumeRole" {
		t.Errorf("trust policy %+v, %v", trust, err)
	}
}
