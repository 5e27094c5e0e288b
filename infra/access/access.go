// Package access writes the IAM policy documents of the service's roles: read the
// input bucket, read and write the output bucket, nothing else.
package access

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Statement is one IAM policy statement. Principal is set in resource and trust
// policies only, which leave Resource out (it is the resource the policy is on).
type Statement struct {
	Sid       string     `json:"Sid,omitempty"`
	Effect    string     `json:"Effect"`
	Principal *Principal `json:"Principal,omitempty"`
	Action    []string   `json:"Action"`
	Resource  []string   `json:"Resource,omitempty"`
	// Condition is operator → key → value, e.g. StringLike → aws:sourceArn → pattern.
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// Principal is an AWS service a resource or trust policy names.
type Principal struct {
	Service string `json:"Service"`
}

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// JSON renders statements as a policy document.
func JSON(stmts ...Statement) (string, error) {
	b, err := json.Marshal(Document{Version: "2012-10-17", Statement: stmts})
	return string(b), err
}

// Buckets are the statements of a service role: read objects of the input bucket,
// read, write and delete objects of the output bucket (faces state lives there),
// and list both so a missing key is a 404, not a 403. s3:AbortMultipartUpload lets
// the uploader (gocloud's s3blob, multipart for large objects) clean up an upload
// that failed half-way instead of leaving billed parts behind.
func Buckets(inputArn, outputArn string) []Statement {
	return []Statement{
		{Sid: "ReadInput", Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: []string{inputArn + "/*"}},
		{Sid: "WriteOutput", Effect: "Allow", Action: []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}, Resource: []string{outputArn + "/*"}},
		{Sid: "ListBuckets", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{inputArn, outputArn}},
	}
}

// Logs lets a role write to one log group (for a Lambda function whose group the
// stack creates, so the role needs no logs:CreateLogGroup).
func Logs(logGroupArn string) Statement {
	return Statement{Sid: "WriteLogs", Effect: "Allow", Action: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, Resource: []string{logGroupArn + ":*"}}
}

// BucketPolicy is the document of Buckets; with a log group ARN it adds Logs.
func BucketPolicy(inputArn, outputArn pulumi.StringInput, logGroupArn pulumi.StringInput) pulumi.StringOutput {
	parts := []any{inputArn, outputArn}
	if logGroupArn != nil {
		parts = append(parts, logGroupArn)
	}
	return pulumi.All(parts...).ApplyT(func(v []any) (string, error) {
		stmts := Buckets(v[0].(string), v[1].(string))
		if len(v) > 2 {
			stmts = append(stmts, Logs(v[2].(string)))
		}
		return JSON(stmts...)
	}).(pulumi.StringOutput)
}

// AssumeRole is the trust policy letting one AWS service assume a role.
func AssumeRole(service string) string {
	doc, _ := JSON(Statement{Effect: "Allow", Principal: &Principal{Service: service}, Action: []string{"sts:AssumeRole"}})
	return doc // a Document of plain strings always marshals
}

// LambdaPull is the ECR repository policy letting Lambda pull an image for the
// functions of one account and region. Without it Lambda adds such a statement
// itself when a function is created from the image, which takes
// ecr:SetRepositoryPolicy, a right a least-privileged deployer lacks (AWS knowledge
// center "lambda-ecr-image"; Lambda developer guide, "Amazon ECR permissions").
func LambdaPull(region, account string) (string, error) {
	return JSON(Statement{
		Sid:       "LambdaECRImageRetrievalPolicy",
		Effect:    "Allow",
		Principal: &Principal{Service: "lambda.amazonaws.com"},
		Action:    []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"},
		Condition: map[string]map[string]string{
			"StringLike": {"aws:sourceArn": fmt.Sprintf("arn:aws:lambda:%s:%s:function:*", region, account)},
		},
	})
}
