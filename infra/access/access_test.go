package access

import (
	"encoding/json"
	"fmt"
	"slices"
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
	if w := d.Statement[1]; !slices.Equal(w.Resource, []string{"arn:aws:s3:::out/*"}) || !slices.Contains(w.Action, "s3:AbortMultipartUpload") {
		t.Errorf("output statement %+v: a failed multipart upload cannot be aborted", w)
	}
	var trust Document
	if err := json.Unmarshal([]byte(AssumeRole("lambda.amazonaws.com")), &trust); err != nil || len(trust.Statement) != 1 {
		t.Fatalf("trust policy %+v, %v", trust, err)
	}
	if s := trust.Statement[0]; s.Principal == nil || s.Principal.Service != "lambda.amazonaws.com" ||
		!slices.Equal(s.Action, []string{"sts:AssumeRole"}) || s.Resource != nil || s.Effect != "Allow" {
		t.Errorf("trust statement %+v", s)
	}
}

// The repository policy Lambda needs to pull an image, as the Lambda developer
// guide gives it: the service principal, the two read actions, and the source
// restricted to the account's functions in the region.
func TestLambdaPull(t *testing.T) {
	doc, err := LambdaPull("eu-west-1", "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	var d Document
	if err := json.Unmarshal([]byte(doc), &d); err != nil || d.Version != "2012-10-17" || len(d.Statement) != 1 {
		t.Fatalf("document %s: %v", doc, err)
	}
	s := d.Statement[0]
	if s.Effect != "Allow" || s.Principal == nil || s.Principal.Service != "lambda.amazonaws.com" || s.Resource != nil {
		t.Errorf("statement %+v", s)
	}
	if !slices.Equal(s.Action, []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}) {
		t.Errorf("actions %v", s.Action)
	}
	want := map[string]map[string]string{"StringLike": {"aws:sourceArn": "arn:aws:lambda:eu-west-1:123456789012:function:*"}}
	if fmt.Sprint(s.Condition) != fmt.Sprint(want) {
		t.Errorf("condition %v, want %v", s.Condition, want)
	}
}
