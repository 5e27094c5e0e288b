package main

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/servebench/servebench/service/api/apitest"
)

// TestStudyClientsThroughLambda: the two studies' own clients, unchanged, through
// the Lambda binary's handler: each raw request becomes the API Gateway HTTP API
// event (payload 2.0) and goes through aws-lambda-go's (de)serialisation and
// aws-lambda-go-api-proxy into the service. The Eigenfaces study's curl sequence
// (GET, no id; the upload base64-encoded as API Gateway delivers multipart) names
// a held-out ORL face; the YOLO study's Locust and JMeter requests answer the dog.
func TestStudyClientsThroughLambda(t *testing.T) {
	subjects := []int{6, 15, 24, 37}
	dir := apitest.AsDeployed(t, "lambda", subjects...)

	// newHandler's two steps, so the test can close the service (and its ONNX
	// Runtime session) when it ends.
	a, err := open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	send := apitest.ThroughAPIGateway(lambda.NewHandler(proxy(a)).Invoke)
	const host = "abc123.execute-api.us-east-1.amazonaws.com"
	face, name := apitest.HeldOut(t, dir, subjects, 2)
	answers := apitest.EigenfacesCurl(t, apitest.ExampleImage(t, face), func(fn string) apitest.Endpoint {
		return apitest.Endpoint{Send: send, Host: host, Target: "/faces/" + fn}
	})
	apitest.CheckPredicted(t, answers, name)
	apitest.YOLOClients(t, send, host)
}
