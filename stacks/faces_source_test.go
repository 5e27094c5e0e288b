package stacks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/servebench/servebench/assets"
	"github.com/servebench/servebench/internal/assetstest"
	"github.com/servebench/servebench/internal/pulumimock"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// servebench:facesSource points every deployed faces function (ECS, Lambda, Cloud
// Functions) at a public face set instead of an uploaded copy: the assets
// directory then needs no faces/orl/ and none is uploaded. A value the functions
// cannot fetch is refused, named; without the key, faces/orl/ is still required.
func TestFacesSourceConfig(t *testing.T) {
	noFaces := assetstest.DirWithoutFaces(t)
	for _, stack := range []string{"serverful", "serverless"} {
		over := map[string]string{stackconfig.KeyFacesSource: assets.ORLArchiveURL, stackconfig.KeyAssetsDir: noFaces}
		if stack == "serverless" {
			over["gcp:project"] = "servebench-test"
		}
		d := mustRun(t, stack, over)
		sources := map[string]string{}
		for _, td := range d.ByType("aws:ecs/taskDefinition:TaskDefinition") {
			var containers []struct {
				Environment []struct{ Name, Value string }
			}
			if err := json.Unmarshal([]byte(td.Inputs["containerDefinitions"].(string)), &containers); err != nil {
				t.Fatal(err)
			}
			for _, e := range containers[0].Environment {
				if e.Name == "SERVEBENCH_FACES_SOURCE" {
					sources["ecs"] = e.Value
				}
			}
		}
		for _, fn := range d.ByType("aws:lambda/function:Function") {
			sources["lambda"], _ = pulumimock.Get(t, fn.Inputs, "environment", "variables", "SERVEBENCH_FACES_SOURCE").(string)
		}
		for _, fn := range d.ByType("gcp:cloudfunctionsv2/function:Function") {
			sources["gcf "+fn.Name], _ = pulumimock.Get(t, fn.Inputs, "serviceConfig", "environmentVariables", "SERVEBENCH_FACES_SOURCE").(string)
		}
		want := map[string]int{"serverful": 1, "serverless": 1 + len(d.ByType("gcp:cloudfunctionsv2/function:Function"))}[stack]
		if len(sources) != want || want < 2 && stack == "serverless" {
			t.Errorf("%s: %d functions with a faces source, want %d: %v", stack, len(sources), want, sources)
		}
		for where, src := range sources {
			if src != assets.ORLArchiveURL {
				t.Errorf("%s %s: SERVEBENCH_FACES_SOURCE %q, want %s", stack, where, src, assets.ORLArchiveURL)
			}
		}
		for _, o := range append(d.ByType("aws:s3/bucketObjectv2:BucketObjectv2"), d.ByType("gcp:storage/bucketObject:BucketObject")...) {
			if o.Inputs["key"] == "faces/orl.zip" || o.Inputs["name"] == "faces/orl.zip" {
				t.Errorf("%s: faces/orl.zip uploaded although the functions fetch %s", stack, assets.ORLArchiveURL)
			}
		}
	}
	for _, bad := range []string{"faces/orl.zip", "file:///data/faces/orl.zip", "file://localhost/data/orl.zip", "ftp://example.com/att_faces.zip", "https://"} {
		d := run(t, "serverful", map[string]string{stackconfig.KeyFacesSource: bad, stackconfig.KeyAssetsDir: noFaces})
		if d.err == nil || !strings.Contains(d.err.Error(), stackconfig.KeyFacesSource) || !strings.Contains(d.err.Error(), bad) {
			t.Errorf("facesSource %q: %v, want an error naming the key and the value", bad, d.err)
		}
	}
	d := run(t, "serverful", map[string]string{stackconfig.KeyAssetsDir: noFaces})
	if d.err == nil || !strings.Contains(d.err.Error(), stackconfig.KeyAssetsDir) || !strings.Contains(d.err.Error(), "no ORL faces") {
		t.Errorf("no faces and no facesSource: %v, want an error naming %s", d.err, stackconfig.KeyAssetsDir)
	}
}
