package awsfake_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"

	"github.com/servebench/servebench/bench/cloud/awsfake"
)

func getResources(srv *awsfake.Server, token string) (*tagging.GetResourcesOutput, error) {
	in := &tagging.GetResourcesInput{}
	if token != "" {
		in.PaginationToken = aws.String(token)
	}
	return tagging.NewFromConfig(srv.Config()).GetResources(context.Background(), in)
}

func getARNs(t *testing.T, srv *awsfake.Server, token string) []string {
	t.Helper()
	out, err := getResources(srv, token)
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, m := range out.ResourceTagMappingList {
		arns = append(arns, aws.ToString(m.ResourceARN))
	}
	return arns
}

// The Tagging fake refuses a token it did not give out, and Remove unlists.
func TestCloudFakeTaggingTokenAndRemove(t *testing.T) {
	srv := awsfake.New(t)
	m := awsfake.NewTagging()
	m.Install(srv)
	m.Add(awsfake.TaggedResource{ARN: "arn:aws:sqs:us-east-1:123456789012:a", Tags: map[string]string{"k": "v"}},
		awsfake.TaggedResource{ARN: "arn:aws:sqs:us-east-1:123456789012:b", Tags: map[string]string{"k": "w"}})
	m.Remove("arn:aws:sqs:us-east-1:123456789012:a")
	if got := getARNs(t, srv, ""); len(got) != 1 || got[0] != "arn:aws:sqs:us-east-1:123456789012:b" {
		t.Errorf("after Remove: %v", got)
	}
	if _, err := getResources(srv, "bogus"); err == nil {
		t.Error("a made-up PaginationToken: want an error")
	}
}
