package stubprovider

import (
	"context"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// EnvEndpoints replaces the made-up load balancer DNS name and API endpoint, and
// only those; without it they are made up as before.
func TestEndpointsOverride(t *testing.T) {
	const (
		lbURN  = "urn:pulumi:serverful::servebench::servebench:infra:EcsService$aws:lb/loadBalancer:LoadBalancer::alb"
		apiURN = "urn:pulumi:serverless::servebench::servebench:infra:Function$aws:apigatewayv2/api:Api::api"
	)
	create := func(urn string, in map[string]any) map[string]string {
		t.Helper()
		res, err := New("aws", "6.83.2", "").Create(context.Background(), &pulumirpc.CreateRequest{Urn: urn, Properties: props(t, in)})
		if err != nil {
			t.Fatal(err)
		}
		out, err := unmarshal(res.GetProperties())
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"dnsName": str(out, "dnsName"), "apiEndpoint": str(out, "apiEndpoint"), "arn": str(out, "arn")}
	}
	made := create(lbURN, map[string]any{"name": "servebench-serverful-alb"})
	madeAPI := create(apiURN, map[string]any{"name": "servebench-serverless-api"})

	t.Setenv(EnvEndpoints, Endpoints(map[string]string{EndpointLB: "127.0.0.1", EndpointAPI: "http://127.0.0.1:8081"}))
	lb := create(lbURN, map[string]any{"name": "servebench-serverful-alb"})
	api := create(apiURN, map[string]any{"name": "servebench-serverless-api"})
	if lb["dnsName"] != "127.0.0.1" || api["apiEndpoint"] != "http://127.0.0.1:8081" {
		t.Errorf("with %s: dnsName %q, apiEndpoint %q", EnvEndpoints, lb["dnsName"], api["apiEndpoint"])
	}
	if made["dnsName"] == "127.0.0.1" || madeAPI["apiEndpoint"] == "http://127.0.0.1:8081" || made["dnsName"] == "" || madeAPI["apiEndpoint"] == "" {
		t.Errorf("without %s: dnsName %q, apiEndpoint %q", EnvEndpoints, made["dnsName"], madeAPI["apiEndpoint"])
	}
	if lb["arn"] != made["arn"] {
		t.Errorf("the override changed more than the endpoint: arn %q, was %q", lb["arn"], made["arn"])
	}
}
