package stubprovider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestIdentity(t *testing.T) {
	for _, c := range []struct{ path, pkg, version, wantPkg, wantVersion string }{
		{"/h/plugins/resource-aws-v6.83.2/pulumi-resource-aws", "", "", "aws", "6.83.2"},
		{"/h/plugins/resource-gcp-v7.38.0/pulumi-resource-gcp", "", "", "gcp", "7.38.0"},
		{"/tmp/pulumi-resource-docker", "", "", "docker", "0.0.1"},
		{"/tmp/stubprovider", "", "", "", "0.0.1"},
		{"/tmp/stubprovider", "aws", "6.0.0", "aws", "6.0.0"},
		{"/h/plugins/resource-gcp-v7.38.0/pulumi-resource-aws", "", "", "aws", "0.0.1"}, // directory of another package
	} {
		pkg, version := Identity(c.path, c.pkg, c.version)
		if pkg != c.wantPkg || version != c.wantVersion {
			t.Errorf("Identity(%q, %q, %q) = %q, %q; want %q, %q", c.path, c.pkg, c.version, pkg, version, c.wantPkg, c.wantVersion)
		}
	}
}

func props(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := marshal(resource.NewPropertyMapFromMap(m))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const bucketURN = "urn:pulumi:dev::servebench::servebench:infra:Buckets$aws:s3/bucketV2:BucketV2::in"

func TestCreateDiffDeleteLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "calls.jsonl")
	p := New("aws", "6.83.2", log)
	ctx := context.Background()
	in := props(t, map[string]any{"bucketPrefix": "servebench-dev-in-", "forceDestroy": true})

	created, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: bucketURN, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	out, err := unmarshal(created.GetProperties())
	if err != nil {
		t.Fatal(err)
	}
	name := str(out, "bucket")
	if !strings.HasPrefix(name, "servebench-dev-in-") || len(name) != len("servebench-dev-in-")+26 {
		t.Errorf("bucket %q: want the prefix and a 26-digit suffix", name)
	}
	if created.GetId() != name || str(out, "arn") != "arn:aws:s3:::"+name {
		t.Errorf("id %q, arn %q for bucket %q", created.GetId(), str(out, "arn"), name)
	}
	again, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: bucketURN, Properties: in})
	if err != nil || again.GetId() != name {
		t.Errorf("a second create of the same URN gave %q (%v), want the same name %q", again.GetId(), err, name)
	}

	same, err := p.Diff(ctx, &pulumirpc.DiffRequest{Urn: bucketURN, Id: name, OldInputs: in, Olds: created.GetProperties(), News: in})
	if err != nil || same.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("diff of unchanged inputs: %v, %v; want none", same.GetChanges(), err)
	}
	// Without old inputs the outputs stand in, less the computed keys.
	same, err = p.Diff(ctx, &pulumirpc.DiffRequest{Urn: bucketURN, Id: name, Olds: created.GetProperties(), News: in})
	if err != nil || same.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("diff against old outputs: %v, %v; want none", same.GetChanges(), err)
	}
	changed := props(t, map[string]any{"bucketPrefix": "servebench-dev-in-", "forceDestroy": false})
	diff, err := p.Diff(ctx, &pulumirpc.DiffRequest{Urn: bucketURN, Id: name, OldInputs: in, News: changed})
	if err != nil || diff.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || strings.Join(diff.GetDiffs(), ",") != "forceDestroy" {
		t.Errorf("diff of a changed input: %v %v, %v; want some [forceDestroy]", diff.GetChanges(), diff.GetDiffs(), err)
	}
	if _, err := p.Delete(ctx, &pulumirpc.DeleteRequest{Urn: bucketURN, Id: name}); err != nil {
		t.Fatal(err)
	}

	recs, err := ReadLog(log)
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, r := range recs {
		methods = append(methods, r.Method)
		if r.Package != "aws" || r.URN != bucketURN || r.Type != "aws:s3/bucketV2:BucketV2" || r.End.Before(r.Start) || r.PID != os.Getpid() {
			t.Errorf("record %+v", r)
		}
	}
	if got := strings.Join(methods, " "); got != "Create Create Diff Diff Diff Delete" {
		t.Errorf("logged %q", got)
	}
	if recs[2].Changes != "none" || recs[4].Changes != "some" {
		t.Errorf("diff verdicts logged %q and %q, want none and some", recs[2].Changes, recs[4].Changes)
	}
}

func TestInvoke(t *testing.T) {
	p := New("aws", "6.83.2", "")
	ctx := context.Background()
	res, err := p.Invoke(ctx, &pulumirpc.InvokeRequest{
		Tok:  "aws:ssm/getParameter:getParameter",
		Args: props(t, map[string]any{"name": "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ret, err := unmarshal(res.GetReturn())
	if err != nil {
		t.Fatal(err)
	}
	if str(ret, "insecureValue") != AMI || str(ret, "value") != AMI {
		t.Errorf("AMI parameter answered %v", ret)
	}
	if _, err := p.Invoke(ctx, &pulumirpc.InvokeRequest{Tok: "aws:ec2/getVpc:getVpc", Args: props(t, nil)}); err == nil ||
		!strings.Contains(err.Error(), "aws:ec2/getVpc:getVpc") {
		t.Errorf("an unknown invoke gave %v, want an error naming it", err)
	}
}

// An account opted in to a Local Zone: it is listed, first, unless filtered out.
func TestAvailabilityZones(t *testing.T) {
	p := New("aws", "6.83.2", "")
	zones := func(args map[string]any) ([]string, error) {
		res, err := p.Invoke(context.Background(), &pulumirpc.InvokeRequest{
			Tok: "aws:index/getAvailabilityZones:getAvailabilityZones", Args: props(t, args),
		})
		if err != nil {
			return nil, err
		}
		ret, err := unmarshal(res.GetReturn())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, v := range ret["names"].ArrayValue() {
			names = append(names, v.StringValue())
		}
		return names, nil
	}
	optIn := func(values ...any) map[string]any {
		return map[string]any{"state": "available", "filters": []any{map[string]any{"name": "opt-in-status", "values": values}}}
	}
	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"state": "available"}, "us-east-1-bos-1a us-east-1a us-east-1b us-east-1c"},
		{optIn("opt-in-not-required"), "us-east-1a us-east-1b us-east-1c"},
		{optIn("opted-in"), "us-east-1-bos-1a"},
		{optIn("opt-in-not-required", "opted-in"), "us-east-1-bos-1a us-east-1a us-east-1b us-east-1c"},
		{map[string]any{"state": "impaired"}, ""},
	} {
		got, err := zones(c.args)
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("zones %v = %v, %v; want %s", c.args, got, err, c.want)
		}
	}
	if _, err := zones(map[string]any{"filters": []any{map[string]any{"name": "region-name", "values": []any{"us-east-1"}}}}); err == nil ||
		!strings.Contains(err.Error(), `"region-name"`) {
		t.Errorf("an unsupported filter gave %v, want an error naming it", err)
	}
}

func TestDockerImageNeedsStage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM golang:1.26 AS build\nFROM scratch AS server\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := New("docker", "4.10.0", "")
	urn := "urn:pulumi:dev::servebench::docker:index/image:Image::img"
	image := func(target string) (*pulumirpc.CreateResponse, error) {
		return p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urn, Properties: props(t, map[string]any{
			"imageName": "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:" + target,
			"build":     map[string]any{"context": dir, "target": target},
		})})
	}
	res, err := image("server")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.GetId(), "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo@sha256:") {
		t.Errorf("image id %q, want the repository by digest", res.GetId())
	}
	if _, err := image("lambda"); err == nil || !strings.Contains(err.Error(), `no stage "lambda"`) {
		t.Errorf("a missing stage gave %v, want an error naming it", err)
	}
}
