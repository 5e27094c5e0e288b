package stack

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/servebench/servebench/bench/results"
)

// The outputs as stacks/ exports them (serverful.go, serverless.go).
func TestEndpointsOneURL(t *testing.T) {
	got, err := Endpoints("serverful", []byte(`{"url":"http://alb-123.us-east-1.elb.amazonaws.com/","inputBucket":"in-abc","instances":5,
		"repositoryUrl":"123456789012.dkr.ecr.us-east-1.amazonaws.com/servebench-server","mode":"serverful",
		"tags":{"site":"https://example.com"}}`))
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

// serverlessGCPOutputs is `pulumi stack output --json` of the serverless stack with
// Cloud Functions at 1024 and 2048 MiB, shaped as enginetest's checkServerlessGCP
// sees them (keys from infra/gcpfunctions.Key, URLs as Cloud Run serves them).
func serverlessGCPOutputs() string {
	names, urls := []string{}, []string{}
	for _, mem := range []string{"1024", "2048"} {
		for _, e := range []string{"predict", "faces-download-data", "faces-train", "faces-upload", "faces-predict"} {
			k := e + "-" + mem
			names = append(names, fmt.Sprintf(`%q: "servebench-serverless-%s"`, k, k))
			urls = append(urls, fmt.Sprintf(`%q: "https://servebench-serverless-%s-0abc12def3-uc.a.run.app"`, k, k))
		}
	}
	return `{"url": "https://k2x9q1.execute-api.us-east-1.amazonaws.com", "mode": "serverless", "region": "us-east-1",
		"inputBucket": "servebench-serverless-input-1a2b3c4", "outputBucket": "servebench-serverless-output-1a2b3c4",
		"functionName": "servebench-serverless-service", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:servebench-serverless-service",
		"apiId": "k2x9q1", "logGroupName": "/aws/lambda/servebench-serverless-service",
		"repositoryUrl": "123456789012.dkr.ecr.us-east-1.amazonaws.com/servebench-serverless-lambda",
		"imageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/servebench-serverless-lambda@sha256:00",
		"lambdaMemoryMb": 3000, "lambdaArchitecture": "x86_64", "gcpRegion": "us-central1",
		"gcpInputBucket": "servebench-serverless-gcf-input-1a2b3c4", "gcpOutputBucket": "servebench-serverless-gcf-output-1a2b3c4",
		"gcpServiceAccount": "servebench-serverless-fn@proj.iam.gserviceaccount.com",
		"gcpFunctionNames": {` + strings.Join(names, ", ") + `},
		"gcpUrls": {` + strings.Join(urls, ", ") + `}}`
}

// One target per Cloud Functions memory size, each route sent to its own function,
// with the deployment records the results header carries.
func TestEndpointsCloudFunctionsPerMemory(t *testing.T) {
	got, err := Endpoints("serverless", []byte(serverlessGCPOutputs()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ep := range got {
		names = append(names, ep.Name)
	}
	if fmt.Sprint(names) != "[serverless serverless-gcf-1024 serverless-gcf-2048]" {
		t.Fatalf("endpoints %v", names)
	}
	lambda := got[0]
	wantLambda := results.Deployment{Platform: "lambda", Stack: "serverless", Region: "us-east-1",
		Endpoint: "https://k2x9q1.execute-api.us-east-1.amazonaws.com", MemoryMB: 3000, Architecture: "x86_64"}
	if lambda.Deployment == nil || !reflect.DeepEqual(*lambda.Deployment, wantLambda) || lambda.Routes != nil {
		t.Errorf("lambda endpoint %+v, deployment %+v", lambda, lambda.Deployment)
	}
	if !lambda.Target().Serverless {
		t.Error("the Lambda target is not serverless")
	}
	for i, mem := range []string{"1024", "2048"} {
		ep := got[1+i]
		fn := func(e string) string {
			return "https://servebench-serverless-" + e + "-" + mem + "-0abc12def3-uc.a.run.app"
		}
		routes := map[string]string{
			"/predict": fn("predict"), "/faces/download_data": fn("faces-download-data"), "/faces/train": fn("faces-train"),
			"/faces/upload": fn("faces-upload"), "/faces/predict": fn("faces-predict"),
		}
		if ep.URL != "" || !reflect.DeepEqual(ep.Routes, routes) {
			t.Errorf("%s: URL %q, routes %v, want %v", ep.Name, ep.URL, ep.Routes, routes)
		}
		if n := ep.FunctionNames["/faces/download_data"]; n != "servebench-serverless-faces-download-data-"+mem || len(ep.FunctionNames) != 5 {
			t.Errorf("%s: function names %v", ep.Name, ep.FunctionNames)
		}
		m, _ := strconv.Atoi(mem)
		want := results.Deployment{Platform: "cloudfunctions", Stack: "serverless", Region: "us-central1", MemoryMB: m, Functions: routes}
		if ep.Deployment == nil || !reflect.DeepEqual(*ep.Deployment, want) {
			t.Errorf("%s: deployment %+v, want %+v", ep.Name, ep.Deployment, want)
		}
		tg := ep.Target()
		if tg.Name != ep.Name || tg.URLFor("/faces/train") != fn("faces-train") || tg.Cold != nil || !tg.Serverless {
			t.Errorf("%s: target %+v", ep.Name, tg)
		}
	}
}

func TestEndpointsServerfulDeployment(t *testing.T) {
	got, err := Endpoints("serverful", []byte(`{"url":"http://servebench-serverful-alb-1.us-east-1.elb.amazonaws.com","mode":"serverful","region":"eu-west-1",
		"instanceType":"t3a.xlarge","minSize":1,"maxSize":5,"taskCpu":4096,"taskMemoryMb":14336}`))
	if err != nil {
		t.Fatal(err)
	}
	want := results.Deployment{Platform: "ecs", Stack: "serverful", Region: "eu-west-1", Endpoint: "http://servebench-serverful-alb-1.us-east-1.elb.amazonaws.com",
		InstanceType: "t3a.xlarge", MinInstances: 1, MaxInstances: 5, TaskCPU: 4096, TaskMemoryMB: 14336}
	if len(got) != 1 || got[0].Deployment == nil || !reflect.DeepEqual(*got[0].Deployment, want) || got[0].Target().Serverless {
		t.Errorf("got %+v", got)
	}
	// No mode output: no platform to describe.
	got, err = Endpoints("x", []byte(`{"url":"http://h"}`))
	if err != nil || len(got) != 1 || got[0].Deployment != nil {
		t.Errorf("got %+v, %v", got, err)
	}
}

func TestEndpointsCloudFunctionsErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"gcpUrls":{"predict":"https://p.a.run.app"}}`, `gcpUrls key "predict": want <entry>-<memory MiB>`},
		{`{"gcpUrls":{"predict-big":"https://p.a.run.app"}}`, `gcpUrls key "predict-big": want <entry>-<memory MiB>`},
		{`{"gcpUrls":{"faces-trian-1024":"https://p.a.run.app"}}`, `entry "faces-trian" is none of faces-download-data, faces-predict, faces-train, faces-upload, predict`},
		{`{"gcpUrls":{"predict-1024":"gs://x"}}`, `gcpUrls[predict-1024]=gs://x is not an http(s) URL`},
		{`{"gcpUrls":"https://p.a.run.app"}`, `output gcpUrls is not a map`},
		{`{"url":"http://h","mode":"serverful","maxSize":"five"}`, `output maxSize=five is not a whole number`},
		{`{"url":"http://h","mode":"serverless","lambdaMemoryMb":1769.5}`, `output lambdaMemoryMb=1769.5 is not a whole number`},
	} {
		_, err := Endpoints("s", []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want it to say %q", c.in, err, c.want)
		}
	}
	// Cloud Functions alone are endpoints enough.
	got, err := Endpoints("s", []byte(`{"gcpUrls":{"predict-512":"https://p.a.run.app/"}}`))
	if err != nil || len(got) != 1 || got[0].Name != "s-gcf-512" || got[0].Routes["/predict"] != "https://p.a.run.app" {
		t.Errorf("got %+v, %v", got, err)
	}
}
