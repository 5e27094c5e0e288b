package stacks_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"

	"github.com/servebench/servebench/infra/access"
	"github.com/servebench/servebench/internal/pulumimock"
	"github.com/servebench/servebench/study"
)

func TestServerlessDefaults(t *testing.T) {
	d := mustRun(t, "serverless", nil)
	fn := d.One(t, "aws:lambda/function:Function").Inputs
	if fn["memorySize"] != float64(study.LambdaMemoryMB) || fn["timeout"] != float64(study.LambdaTimeoutSeconds) || fn["packageType"] != "Image" {
		t.Errorf("lambda memory/timeout/package %v/%v/%v, want %d/%d/Image", fn["memorySize"], fn["timeout"], fn["packageType"], study.LambdaMemoryMB, study.LambdaTimeoutSeconds)
	}
	if !slices.Equal(anyStrings(fn["architectures"]), []string{"x86_64"}) {
		t.Errorf("architectures %v", fn["architectures"])
	}
	if _, set := fn["reservedConcurrentExecutions"]; set {
		t.Errorf("reserved concurrency %v, want unset by default", fn["reservedConcurrentExecutions"])
	}
	if u := fn["imageUri"].(string); !strings.HasPrefix(u, pulumimock.Account+".dkr.ecr.us-east-1.amazonaws.com/servebench-serverless-lambda@sha256:") {
		t.Errorf("image %q, want the pushed lambda image by digest", u)
	}
	in, out := bucketNames(t, d)
	env := map[string]string{}
	for k, v := range pulumimock.Get(t, fn, "environment", "variables").(map[string]any) {
		env[k] = v.(string)
	}
	want := map[string]string{
		"SERVEBENCH_INPUT_BUCKET":       "s3://" + in + "?region=us-east-1",
		"SERVEBENCH_OUTPUT_BUCKET":      "s3://" + out + "?region=us-east-1",
		"SERVEBENCH_MODEL":              "s3://" + in + "/models/yolox_nano.onnx?region=us-east-1",
		"SERVEBENCH_FACES_SOURCE":       "s3://" + in + "/faces/orl.zip?region=us-east-1",
		"SERVEBENCH_FACES_ALLOW_SOURCE": "false",
		"SERVEBENCH_BACKEND":            "onnxruntime",
		"SERVEBENCH_PLATFORM":           "lambda",
		"SERVEBENCH_MEMORY_MB":          strconv.Itoa(study.LambdaMemoryMB),
		// Below the 30 s of the function and of API Gateway: the service answers its
		// own 504 before either cuts the request.
		"SERVEBENCH_REQUEST_TIMEOUT": "27s",
	}
	if !mapsEqual(env, want) {
		t.Errorf("lambda env\n got %v\nwant %v", env, want)
	}

	stage := d.One(t, "aws:apigatewayv2/stage:Stage").Inputs
	if pulumimock.Get(t, stage, "defaultRouteSettings", "throttlingRateLimit") != float64(study.ThrottleRate) ||
		pulumimock.Get(t, stage, "defaultRouteSettings", "throttlingBurstLimit") != float64(study.ThrottleBurst) {
		t.Errorf("stage throttling %v, want %d rps, burst %d", stage["defaultRouteSettings"], study.ThrottleRate, study.ThrottleBurst)
	}
	if stage["name"] != "$default" || stage["autoDeploy"] != true {
		t.Errorf("stage %v/%v", stage["name"], stage["autoDeploy"])
	}
	integ := d.One(t, "aws:apigatewayv2/integration:Integration")
	if integ.Inputs["integrationType"] != "AWS_PROXY" || integ.Inputs["payloadFormatVersion"] != "2.0" {
		t.Errorf("integration %v", integ.Inputs)
	}
	if !strings.Contains(integ.Inputs["integrationUri"].(string), ":function:servebench-serverless-service/invocations") {
		t.Errorf("integration uri %v", integ.Inputs["integrationUri"])
	}
	var keys []string
	for _, r := range d.ByType("aws:apigatewayv2/route:Route") {
		keys = append(keys, r.Inputs["routeKey"].(string))
		if r.Inputs["target"] != "integrations/"+integ.ID {
			t.Errorf("route %v targets %v", r.Inputs["routeKey"], r.Inputs["target"])
		}
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"ANY /faces/{proxy+}", "GET /healthz", "POST /predict"}) {
		t.Errorf("routes %v", keys)
	}
	perm := d.One(t, "aws:lambda/permission:Permission").Inputs
	if perm["principal"] != "apigateway.amazonaws.com" || perm["action"] != "lambda:InvokeFunction" ||
		perm["sourceArn"] != "arn:aws:execute-api:us-east-1:"+pulumimock.Account+":abc123/*/*" || perm["function"] != "servebench-serverless-service" {
		t.Errorf("invoke permission %v", perm)
	}

	// The role: the buckets and its own log group, nothing else.
	logs := d.One(t, "aws:cloudwatch/logGroup:LogGroup").Inputs
	if logs["name"] != "/aws/lambda/servebench-serverless-service" || logs["retentionInDays"] != 7.0 {
		t.Errorf("log group %v, retention %v", logs["name"], logs["retentionInDays"])
	}
	checkBucketPolicy(t, d.One(t, "aws:iam/rolePolicy:RolePolicy").Inputs["policy"].(string), in, out,
		"arn:aws:logs:us-east-1:"+pulumimock.Account+":log-group:/aws/lambda/servebench-serverless-service")
	if n := len(d.ByType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")); n != 0 {
		t.Errorf("%d managed policies on the Lambda role, want 0", n)
	}
	role := d.One(t, "aws:iam/role:Role").Inputs
	if !strings.Contains(role["assumeRolePolicy"].(string), `"Service":"lambda.amazonaws.com"`) {
		t.Errorf("trust policy %v", role["assumeRolePolicy"])
	}
	if n := len(d.ByType("aws:ec2/securityGroup:SecurityGroup")); n != 0 {
		t.Errorf("%d security groups in the serverless stack", n)
	}

	// No gcp:project in the stack file: nothing on Google Cloud.
	for _, r := range d.Resources {
		if strings.HasPrefix(r.Type, "gcp:") {
			t.Errorf("GCP resource %s %s without gcp:project", r.Type, r.Name)
		}
	}
	checkImage(t, d, "lambda")
	// Created after the repository policy that lets Lambda pull its image, deleted
	// before it: the function's image URI waits for the policy.
	pull := d.One(t, "aws:ecr/repositoryPolicy:RepositoryPolicy")
	if fnRes := d.One(t, "aws:lambda/function:Function"); !slices.ContainsFunc(fnRes.Deps, func(urn string) bool {
		return strings.HasSuffix(urn, "$"+pull.Type+"::"+pull.Name)
	}) {
		t.Errorf("the function depends on %v, not on the repository policy %s", fnRes.Deps, pull.Name)
	}
	checkBuckets(t, d)
	checkNames(t, d, "serverless")
	checkOutputs(t, d, "url", "inputBucket", "outputBucket", "functionName", "functionArn", "apiId", "imageUri")
	if d.outputs["url"] != "https://abc123.execute-api.us-east-1.amazonaws.com" || d.outputs["functionName"] != "servebench-serverless-service" {
		t.Errorf("outputs url %v, functionName %v", d.outputs["url"], d.outputs["functionName"])
	}
}

func TestServerlessOptions(t *testing.T) {
	d := mustRun(t, "serverless", map[string]string{
		"servebench:lambdaReservedConcurrency": "10",
		"servebench:lambdaMemoryMb":            "2048",
		"servebench:lambdaTimeout":             "20",
		"servebench:throttleRateLimit":         "5",
		"servebench:throttleBurstLimit":        "10",
	})
	fn := d.One(t, "aws:lambda/function:Function").Inputs
	if fn["reservedConcurrentExecutions"] != 10.0 || fn["memorySize"] != 2048.0 || fn["timeout"] != 20.0 {
		t.Errorf("lambda %v/%v/%v", fn["reservedConcurrentExecutions"], fn["memorySize"], fn["timeout"])
	}
	if pulumimock.Get(t, fn, "environment", "variables", "SERVEBENCH_MEMORY_MB") != "2048" {
		t.Errorf("SERVEBENCH_MEMORY_MB %v", pulumimock.Get(t, fn, "environment", "variables", "SERVEBENCH_MEMORY_MB"))
	}
	if d := pulumimock.Get(t, fn, "environment", "variables", "SERVEBENCH_REQUEST_TIMEOUT"); d != "17s" {
		t.Errorf("SERVEBENCH_REQUEST_TIMEOUT %v, want 17s under a 20 s function timeout", d)
	}
	// A timeout leaving the service under a second would make it refuse to start.
	short := run(t, "serverless", map[string]string{"servebench:lambdaTimeout": "3"})
	if short.err == nil || !strings.Contains(short.err.Error(), "servebench:lambdaTimeout") || !strings.Contains(short.err.Error(), "want 4 to 900") {
		t.Errorf("lambdaTimeout 3: %v, want an error naming the key and the 4 s minimum", short.err)
	}
	if n := len(short.ByType("aws:lambda/function:Function")); n != 0 {
		t.Errorf("lambdaTimeout 3: %d functions created", n)
	}
	s := d.One(t, "aws:apigatewayv2/stage:Stage").Inputs
	if pulumimock.Get(t, s, "defaultRouteSettings", "throttlingRateLimit") != 5.0 || pulumimock.Get(t, s, "defaultRouteSettings", "throttlingBurstLimit") != 10.0 {
		t.Errorf("throttling %v", s["defaultRouteSettings"])
	}
}

// runSource is where the function's uploaded source is at run time (the Go
// functions-framework buildpack's serverless_function_source_code under /workspace).
const runSource = "/workspace/serverless_function_source_code/"

func TestServerlessCloudFunctions(t *testing.T) {
	libs := libEnv(t)
	d := runWith(t, "serverless", map[string]string{
		"gcp:project":               "servebench-test",
		"servebench:gcpMemoryMb":    "[1024,2048]",
		"servebench:gcpPublic":      "false",
		"servebench:gcpInvokers":    `["user:bench@example.com"]`,
		"servebench:gcpInputBucket": "sb-gcf-in",
	}, libs)
	if d.err != nil {
		t.Fatalf("program failed: %v", d.err)
	}
	fns := d.ByType("gcp:cloudfunctionsv2/function:Function")
	if len(fns) != 10 {
		t.Fatalf("%d functions, want 5 entry points x 2 memory sizes", len(fns))
	}
	runtime, build := gcpAccounts(t, d)
	email, buildEmail := gcpEmail(runtime), gcpEmail(build)
	buckets := map[string]pulumimock.Resource{}
	for _, b := range d.ByType("gcp:storage/bucket:Bucket") {
		buckets[b.Name[strings.LastIndex(b.Name, "-")+1:]] = b
		if b.Inputs["publicAccessPrevention"] != "enforced" || b.Inputs["uniformBucketLevelAccess"] != true || b.Inputs["forceDestroy"] != true {
			t.Errorf("GCS bucket %s: %v", b.Name, b.Inputs)
		}
	}
	if buckets["input"].Inputs["name"] != "sb-gcf-in" {
		t.Errorf("input bucket name %v, want the configured one", buckets["input"].Inputs["name"])
	}
	gin, gout, gsrc := buckets["input"].ID, buckets["output"].ID, buckets["source"].ID
	byEntry := map[string][]string{}
	for _, f := range fns {
		in := f.Inputs
		entry := pulumimock.Get(t, in, "buildConfig", "entryPoint").(string)
		mem := pulumimock.Get(t, in, "serviceConfig", "availableMemory").(string)
		byEntry[entry] = append(byEntry[entry], mem)
		if pulumimock.Get(t, in, "buildConfig", "runtime") != "go126" {
			t.Errorf("%s runtime %v", f.Name, pulumimock.Get(t, in, "buildConfig", "runtime"))
		}
		if pulumimock.Get(t, in, "serviceConfig", "timeoutSeconds") != float64(study.GCFTimeoutSeconds) || pulumimock.Get(t, in, "serviceConfig", "serviceAccountEmail") != email {
			t.Errorf("%s timeout/account %v/%v", f.Name, pulumimock.Get(t, in, "serviceConfig", "timeoutSeconds"), pulumimock.Get(t, in, "serviceConfig", "serviceAccountEmail"))
		}
		if pulumimock.Get(t, in, "serviceConfig", "maxInstanceCount") != float64(study.GCFMaxInstances) {
			t.Errorf("%s max instances %v", f.Name, pulumimock.Get(t, in, "serviceConfig", "maxInstanceCount"))
		}
		memMB := map[string]string{"1Gi": "1024", "2Gi": "2048"}[mem]
		env := pulumimock.Get(t, in, "serviceConfig", "environmentVariables").(map[string]any)
		want := map[string]any{
			"SERVEBENCH_INPUT_BUCKET": "gs://" + gin, "SERVEBENCH_OUTPUT_BUCKET": "gs://" + gout,
			"SERVEBENCH_MODEL": "gs://" + gin + "/models/yolox_nano.onnx", "SERVEBENCH_FACES_SOURCE": "gs://" + gin + "/faces/orl.zip", "SERVEBENCH_FACES_ALLOW_SOURCE": "false",
			"SERVEBENCH_BACKEND": "onnxruntime", "SERVEBENCH_PLATFORM": "cloudfunctions", "SERVEBENCH_MEMORY_MB": memMB,
			// The libraries the source archive carries, where they are at run time.
			"SERVEBENCH_ONNXRUNTIME_LIB": runSource + "lib/libonnxruntime.so.1",
			"SERVEBENCH_TURBOJPEG_LIB":   runSource + "lib/libturbojpeg.so.0",
		}
		if len(env) != len(want) {
			t.Errorf("%s env %v, want %v", f.Name, env, want)
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s env %s = %v, want %v", f.Name, k, env[k], v)
			}
		}
		if n := in["name"].(string); len(n) > 63 || !strings.Contains(n, "serverless") {
			t.Errorf("function name %q", n)
		}
	}
	for _, e := range []string{"predict", "faces_download_data", "faces_train", "faces_upload", "faces_predict"} {
		got := byEntry[e]
		slices.Sort(got)
		if !slices.Equal(got, []string{"1Gi", "2Gi"}) {
			t.Errorf("entry point %s at %v, want 1Gi and 2Gi", e, got)
		}
	}

	// Storage rights: the functions read the input bucket and read/write the
	// output bucket; their build reads the source bucket.
	grants := map[string]string{}
	for _, m := range d.ByType("gcp:storage/bucketIAMMember:BucketIAMMember") {
		grants[m.Inputs["bucket"].(string)+" "+m.Inputs["member"].(string)] = m.Inputs["role"].(string)
	}
	wantGrants := map[string]string{
		gin + " serviceAccount:" + email:       "roles/storage.objectViewer",
		gout + " serviceAccount:" + email:      "roles/storage.objectUser",
		gsrc + " serviceAccount:" + buildEmail: "roles/storage.objectViewer",
	}
	if !mapsEqual(grants, wantGrants) {
		t.Errorf("bucket grants %v, want %v", grants, wantGrants)
	}
	checkGCPAccess(t, d, false)
	// Restricted invocation: only the listed member, never allUsers.
	inv := d.ByType("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
	if len(inv) != 10 {
		t.Errorf("%d invoker grants, want one per function", len(inv))
	}
	for _, m := range inv {
		if m.Inputs["member"] != "user:bench@example.com" || m.Inputs["role"] != "roles/run.invoker" {
			t.Errorf("invoker %v", m.Inputs)
		}
	}

	// Uploads: the assets in the input bucket, the source archive without tests.
	keys := map[string]bool{}
	var archive resource.PropertyValue
	for _, o := range d.ByType("gcp:storage/bucketObject:BucketObject") {
		if o.Inputs["bucket"] == gin {
			keys[o.Inputs["name"].(string)] = true
		} else {
			archive = o.Raw["source"]
			if !strings.HasPrefix(o.Inputs["name"].(string), "service-") {
				t.Errorf("source object %v", o.Inputs["name"])
			}
		}
	}
	checkAssetKeys(t, keys)
	if !archive.IsArchive() {
		t.Fatalf("source is %v, want an archive", archive)
	}
	files := archive.ArchiveValue().Assets
	if files["go.mod"] == nil {
		t.Errorf("source archive has no go.mod: %v", files)
	}
	for name := range files {
		if strings.HasSuffix(name, "_test.go") || strings.Contains(name, "testdata/") || name == "Dockerfile" {
			t.Errorf("source archive holds %s", name)
		}
	}
	// Each library the functions are told to load is in the archive where that
	// path points at run time, and it is the deployer's copy.
	env := pulumimock.Get(t, fns[0].Inputs, "serviceConfig", "environmentVariables").(map[string]any)
	for _, v := range []string{"SERVEBENCH_ONNXRUNTIME_LIB", "SERVEBENCH_TURBOJPEG_LIB"} {
		name, ok := strings.CutPrefix(fmt.Sprint(env[v]), runSource)
		if !ok {
			t.Errorf("%s = %v, not under the run-time source %s", v, env[v], runSource)
			continue
		}
		if f, ok := files[name].(*asset.Asset); !ok || f.Path != libs[v] {
			t.Errorf("%s: the source archive holds %v at %s, want the file %s names (%s)", v, files[name], name, v, libs[v])
		}
	}
	checkOutputs(t, d, "gcpInputBucket", "gcpOutputBucket", "gcpFunctionNames", "gcpUrls", "gcpServiceAccount")
	urls := d.outputs["gcpUrls"].(map[string]string)
	if len(urls) != 10 || !strings.HasPrefix(urls["predict-2048"], "https://servebench-serverless-predict-2048") {
		t.Errorf("gcpUrls %v", urls)
	}
	names := d.outputs["gcpFunctionNames"].(map[string]string)
	if names["faces-train-1024"] != "servebench-serverless-faces-train-1024" {
		t.Errorf("gcpFunctionNames %v", names)
	}
}

// By default the functions are public, as in the original study (each is capped
// by its max instance count).
func TestServerlessCloudFunctionsPublic(t *testing.T) {
	d := mustRun(t, "serverless", map[string]string{"gcp:project": "servebench-test"})
	if n := len(d.ByType("gcp:cloudfunctionsv2/function:Function")); n != 5 {
		t.Errorf("%d functions, want 5 at one memory size", n)
	}
	inv := d.ByType("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
	if len(inv) != 5 {
		t.Fatalf("%d invoker grants, want 5", len(inv))
	}
	for _, m := range inv {
		if m.Inputs["member"] != "allUsers" || !strings.HasPrefix(m.Inputs["name"].(string), "projects/proj/locations/us-central1/services/") {
			t.Errorf("invoker %v", m.Inputs)
		}
	}
	for _, f := range d.ByType("gcp:cloudfunctionsv2/function:Function") {
		if m, want := pulumimock.Get(t, f.Inputs, "serviceConfig", "availableMemory"), fmt.Sprintf("%dGi", study.GCFMemoryMB/1024); m != want {
			t.Errorf("%s memory %v, want %s (the study's)", f.Name, m, want)
		}
	}
	checkGCPAccess(t, d, true)
}

// gcpAccounts returns the functions' runtime and build service accounts.
func gcpAccounts(t *testing.T, d deployment) (runtime, build pulumimock.Resource) {
	t.Helper()
	accounts := map[string]pulumimock.Resource{}
	for _, a := range d.ByType("gcp:serviceaccount/account:Account") {
		accounts[a.Inputs["accountId"].(string)] = a
	}
	runtime, okRuntime := accounts["servebench-serverless-fn"]
	build, okBuild := accounts["servebench-serverless-build"]
	if len(accounts) != 2 || !okRuntime || !okBuild {
		t.Fatalf("service accounts %v, want servebench-serverless-fn (runtime) and servebench-serverless-build", slices.Sorted(maps.Keys(accounts)))
	}
	return runtime, build
}

// gcpEmail is a service account's email as the mock answers it.
func gcpEmail(sa pulumimock.Resource) string {
	return sa.Inputs["accountId"].(string) + "@proj.iam.gserviceaccount.com"
}

// checkGCPAccess: the functions build as the build account, into the stack's
// repository, after the build may write logs, push there and read the staged
// source; they run as the runtime account, after it may sign URLs as itself
// (token creator on itself, IAM Credentials API on, and left on at destroy);
// and no grant reaches the public but the invoker grants when public.
func checkGCPAccess(t *testing.T, d deployment, public bool) {
	t.Helper()
	runtime, build := gcpAccounts(t, d)
	runtimeMember, buildMember := "serviceAccount:"+gcpEmail(runtime), "serviceAccount:"+gcpEmail(build)

	sign := d.One(t, "gcp:serviceaccount/iAMMember:IAMMember")
	if sign.Inputs["serviceAccountId"] != runtime.ID || sign.Inputs["role"] != "roles/iam.serviceAccountTokenCreator" || sign.Inputs["member"] != runtimeMember {
		t.Errorf("signing grant %v, want token creator for %s on account %s", sign.Inputs, runtimeMember, runtime.ID)
	}
	api := d.One(t, "gcp:projects/service:Service")
	if api.Inputs["service"] != "iamcredentials.googleapis.com" || api.Inputs["disableOnDestroy"] != false || api.Inputs["project"] != "servebench-test" {
		t.Errorf("API %v, want iamcredentials.googleapis.com in servebench-test, not disabled on destroy", api.Inputs)
	}

	repo := d.One(t, "gcp:artifactregistry/repository:Repository")
	ri := repo.Inputs
	if ri["format"] != "DOCKER" || ri["location"] != "us-central1" || ri["project"] != "servebench-test" ||
		!strings.HasPrefix(fmt.Sprint(ri["repositoryId"]), "servebench-serverless-") || repo.Parent == "" {
		t.Errorf("repository %v (parent %q), want a DOCKER repository in us-central1 named after the stack, in the component", ri, repo.Parent)
	}
	// Cleanup: old versions deleted, the newest of each image kept, and not a dry run.
	if ri["cleanupPolicyDryRun"] != false {
		t.Errorf("repository cleanupPolicyDryRun %v, want false", ri["cleanupPolicyDryRun"])
	}
	policies := map[string]map[string]any{}
	for _, p := range pulumimock.Get(t, ri, "cleanupPolicies").([]any) {
		p := p.(map[string]any)
		policies[p["action"].(string)] = p
	}
	del, keep := policies["DELETE"], policies["KEEP"]
	if len(policies) != 2 || del == nil || keep == nil {
		t.Fatalf("cleanup policies %v, want one DELETE and one KEEP", policies)
	}
	if pulumimock.Get(t, del, "condition", "tagState") != "ANY" || !regexp.MustCompile(`^[1-9]\d*s$`).MatchString(fmt.Sprint(pulumimock.Get(t, del, "condition", "olderThan"))) {
		t.Errorf("DELETE policy %v, want every version older than a duration", del)
	}
	if n, _ := pulumimock.Get(t, keep, "mostRecentVersions", "keepCount").(float64); n < 1 {
		t.Errorf("KEEP policy %v, want the most recent versions kept", keep)
	}

	push := d.One(t, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember").Inputs
	if push["repository"] != ri["repositoryId"] || push["location"] != ri["location"] || push["project"] != "servebench-test" ||
		push["role"] != "roles/artifactregistry.writer" || push["member"] != buildMember {
		t.Errorf("repository grant %v, want artifactregistry.writer on %v for %s", push, ri["repositoryId"], buildMember)
	}

	// Project-wide: the build's log writing, and its read of the staged sources
	// only (the condition); nothing for the runtime account.
	projectGrants := map[string]string{}
	for _, m := range d.ByType("gcp:projects/iAMMember:IAMMember") {
		if m.Inputs["member"] != buildMember || m.Inputs["project"] != "servebench-test" {
			t.Errorf("project grant %v, want only the build account's, in servebench-test", m.Inputs)
		}
		cond := ""
		if c, ok := m.Inputs["condition"].(map[string]any); ok {
			cond = fmt.Sprint(c["expression"])
		}
		projectGrants[m.Inputs["role"].(string)] = cond
	}
	if logs, ok := projectGrants["roles/logging.logWriter"]; len(projectGrants) != 2 || !ok || logs != "" {
		t.Errorf("project grants %v, want roles/logging.logWriter unconditioned and roles/storage.objectViewer", projectGrants)
	}
	if c := projectGrants["roles/storage.objectViewer"]; !strings.Contains(c, `resource.type == "storage.googleapis.com/Object"`) ||
		!strings.Contains(c, `resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")`) || strings.Contains(c, "||") {
		t.Errorf("the build's project-wide read is conditioned on %q, want the staged-source objects only", c)
	}

	// Every function: built by the build account into the repository, run as
	// the runtime account, and created after every grant (destroyed before).
	var grants []pulumimock.Resource
	for _, typ := range []string{"gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:serviceaccount/iAMMember:IAMMember", "gcp:projects/service:Service",
		"gcp:projects/iAMMember:IAMMember", "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"} {
		grants = append(grants, d.ByType(typ)...)
	}
	for _, f := range d.ByType("gcp:cloudfunctionsv2/function:Function") {
		if sa := pulumimock.Get(t, f.Inputs, "buildConfig", "serviceAccount"); sa != build.ID {
			t.Errorf("%s builds as %v, want the build account %s", f.Name, sa, build.ID)
		}
		if r := pulumimock.Get(t, f.Inputs, "buildConfig", "dockerRepository"); r != repo.ID {
			t.Errorf("%s builds into %v, want the stack's repository %s", f.Name, r, repo.ID)
		}
		if sa := pulumimock.Get(t, f.Inputs, "serviceConfig", "serviceAccountEmail"); sa != gcpEmail(runtime) {
			t.Errorf("%s runs as %v, want %s", f.Name, sa, gcpEmail(runtime))
		}
		for _, g := range grants {
			if !slices.ContainsFunc(f.Deps, func(urn string) bool { return strings.HasSuffix(urn, "$"+g.Type+"::"+g.Name) }) {
				t.Errorf("%s does not depend on %s %s", f.Name, g.Type, g.Name)
			}
		}
	}

	// Nothing public but the invoker grants, and those only when public.
	publicInvokers := 0
	for _, r := range d.Resources {
		for _, m := range []any{r.Inputs["member"], r.Inputs["members"]} {
			if !strings.Contains(fmt.Sprint(m), "allUsers") && !strings.Contains(fmt.Sprint(m), "allAuthenticatedUsers") {
				continue
			}
			if r.Type != "gcp:cloudrunv2/serviceIamMember:ServiceIamMember" || m != "allUsers" || r.Inputs["role"] != "roles/run.invoker" {
				t.Errorf("%s %s grants %v to %v", r.Type, r.Name, r.Inputs["role"], m)
			}
			publicInvokers++
		}
	}
	if fns := len(d.ByType("gcp:cloudfunctionsv2/function:Function")); public && publicInvokers != fns || !public && publicInvokers != 0 {
		t.Errorf("%d public invoker grants for %d functions (public %v)", publicInvokers, fns, public)
	}
}

// checkImage: the image is built from service/Dockerfile for linux/amd64, for the
// target, pushed with the ECR token, into a force-deletable repository that keeps
// the last five images.
func checkImage(t *testing.T, d deployment, target string) {
	t.Helper()
	img := d.One(t, "docker:index/image:Image").Inputs
	b := img["build"].(map[string]any)
	// Relative to the working directory: the project root under the engine, stacks/ here.
	if b["context"] != filepath.Join("..", "service") || b["dockerfile"] != filepath.Join("..", "service", "Dockerfile") ||
		b["platform"] != "linux/amd64" || b["target"] != target {
		t.Errorf("image build %v", b)
	}
	reg := img["registry"].(map[string]any)
	if reg["server"] != "https://"+pulumimock.Account+".dkr.ecr.us-east-1.amazonaws.com" || reg["username"] != "AWS" || reg["password"] != pulumimock.ECRPassword {
		t.Errorf("registry %v", reg)
	}
	if pw := d.One(t, "docker:index/image:Image").Raw["registry"].ObjectValue()["password"]; !pw.IsSecret() && !(pw.IsOutput() && pw.OutputValue().Secret) {
		t.Error("registry password not kept secret")
	}
	repo := d.One(t, "aws:ecr/repository:Repository").Inputs
	if repo["forceDelete"] != true || repo["name"] != "servebench-"+d.stack+"-"+target {
		t.Errorf("repository %v", repo)
	}
	var lp struct {
		Rules []struct {
			Selection struct {
				CountType   string
				CountNumber int
			}
			Action struct{ Type string }
		}
	}
	pol := d.One(t, "aws:ecr/lifecyclePolicy:LifecyclePolicy").Inputs
	if err := json.Unmarshal([]byte(pol["policy"].(string)), &lp); err != nil || len(lp.Rules) != 1 {
		t.Fatalf("lifecycle policy %v: %v", pol["policy"], err)
	}
	if r := lp.Rules[0]; r.Selection.CountType != "imageCountMoreThan" || r.Selection.CountNumber != 5 || r.Action.Type != "expire" {
		t.Errorf("lifecycle rule %+v, want expire beyond 5 images", r)
	}
	// Lambda pulls the image itself: the repository policy lets it, so the deployer
	// needs no ecr:SetRepositoryPolicy. ECS pulls with the execution role: no policy.
	pulls := d.ByType("aws:ecr/repositoryPolicy:RepositoryPolicy")
	if target != "lambda" {
		if len(pulls) != 0 {
			t.Errorf("%d repository policies for target %s, want none", len(pulls), target)
		}
		return
	}
	if len(pulls) != 1 || pulls[0].Inputs["repository"] != repo["name"] {
		t.Fatalf("repository policies %v, want one on %v", pulls, repo["name"])
	}
	var doc access.Document
	if err := json.Unmarshal([]byte(pulls[0].Inputs["policy"].(string)), &doc); err != nil || len(doc.Statement) != 1 {
		t.Fatalf("repository policy %v: %v", pulls[0].Inputs["policy"], err)
	}
	st := doc.Statement[0]
	if st.Effect != "Allow" || st.Principal == nil || st.Principal.Service != "lambda.amazonaws.com" ||
		!slices.Equal(st.Action, []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}) ||
		st.Condition["StringLike"]["aws:sourceArn"] != "arn:aws:lambda:us-east-1:"+pulumimock.Account+":function:*" || len(st.Condition) != 1 {
		t.Errorf("repository policy statement %+v", st)
	}
}

// checkBuckets: two private, encrypted, force-destroyable buckets; the assets in
// the input one.
func checkBuckets(t *testing.T, d deployment) {
	t.Helper()
	in, out := bucketNames(t, d)
	blocks := map[string]bool{}
	for _, b := range d.ByType("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock") {
		for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
			if b.Inputs[k] != true {
				t.Errorf("%s %s = %v", b.Name, k, b.Inputs[k])
			}
		}
		blocks[b.Inputs["bucket"].(string)] = true
	}
	sse := map[string]bool{}
	for _, s := range d.ByType("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2") {
		if a := pulumimock.Get(t, s.Inputs, "rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm"); a != "AES256" {
			t.Errorf("%s algorithm %v", s.Name, a)
		}
		sse[s.Inputs["bucket"].(string)] = true
	}
	// Abandoned multipart uploads are aborted after a day, in every object.
	aborts := map[string]bool{}
	for _, l := range d.ByType("aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2") {
		rules, _ := l.Inputs["rules"].([]any)
		if len(rules) != 1 {
			t.Errorf("%s: rules %v, want one", l.Name, l.Inputs["rules"])
			continue
		}
		r := rules[0].(map[string]any)
		filter, ok := r["filter"].(map[string]any)
		if r["status"] != "Enabled" || pulumimock.Get(t, r, "abortIncompleteMultipartUpload", "daysAfterInitiation") != 1.0 ||
			r["prefix"] != nil || !ok || len(filter) != 0 {
			t.Errorf("%s: rule %v, want abort incomplete uploads after 1 day, empty filter", l.Name, r)
		}
		aborts[l.Inputs["bucket"].(string)] = true
	}
	for _, b := range []string{in, out} {
		if !blocks[b] || !sse[b] || !aborts[b] {
			t.Errorf("bucket %s: public access blocked %v, encrypted %v, incomplete uploads aborted %v", b, blocks[b], sse[b], aborts[b])
		}
	}
	for _, b := range d.ByType("aws:s3/bucketV2:BucketV2") {
		if b.Inputs["acl"] != nil || b.Inputs["policy"] != nil || b.Inputs["forceDestroy"] != true {
			t.Errorf("bucket %s: acl %v, policy %v, forceDestroy %v", b.Name, b.Inputs["acl"], b.Inputs["policy"], b.Inputs["forceDestroy"])
		}
	}
	if n := len(d.ByType("aws:s3/bucketPolicy:BucketPolicy")); n != 0 {
		t.Errorf("%d bucket policies, want none", n)
	}
	keys := map[string]bool{}
	for _, o := range d.ByType("aws:s3/bucketObjectv2:BucketObjectv2") {
		if o.Inputs["bucket"] != in {
			t.Errorf("object %v uploaded to %v, want the input bucket", o.Inputs["key"], o.Inputs["bucket"])
		}
		if o.Inputs["acl"] != nil {
			t.Errorf("object %v has acl %v", o.Inputs["key"], o.Inputs["acl"])
		}
		keys[o.Inputs["key"].(string)] = true
		if o.Inputs["key"] == "faces/orl.zip" {
			if src := o.Raw["source"]; !src.IsArchive() || !strings.HasSuffix(src.ArchiveValue().Path, filepath.Join("faces", "orl")) {
				t.Errorf("faces/orl.zip source %v, want the faces/orl directory as an archive", src)
			}
		}
	}
	checkAssetKeys(t, keys)
}

// checkAssetKeys: the model, every image of the data directory, the faces zip.
func checkAssetKeys(t *testing.T, keys map[string]bool) {
	t.Helper()
	want := []string{"models/yolox_nano.onnx", "faces/orl.zip", "images/bus.jpg", "images/dog.jpg"} // assetstest.Files
	if len(keys) != len(want) {
		t.Errorf("uploaded %v, want %v", keys, want)
	}
	for _, k := range want {
		if !keys[k] {
			t.Errorf("%s not uploaded", k)
		}
	}
}

// checkNames: names the cloud sees carry the stack name and fit their limits.
func checkNames(t *testing.T, d deployment, stack string) {
	t.Helper()
	limits := map[string]int{
		"aws:lb/loadBalancer:LoadBalancer": 32, "aws:lb/targetGroup:TargetGroup": 32,
		"aws:iam/role:Role": 64, "aws:lambda/function:Function": 64, "aws:ecs/cluster:Cluster": 255,
		"aws:ecr/repository:Repository": 256,
	}
	for token, max := range limits {
		for _, r := range d.ByType(token) {
			n, _ := r.Inputs["name"].(string)
			if n == "" || len(n) > max || !strings.Contains(n, stack) {
				t.Errorf("%s name %q: want the stack name within %d characters", token, n, max)
			}
		}
	}
	for _, b := range d.ByType("aws:s3/bucketV2:BucketV2") {
		p, _ := b.Inputs["bucketPrefix"].(string)
		if b.Inputs["bucket"] == nil && (len(p) > 37 || !strings.Contains(p, stack)) {
			t.Errorf("bucket prefix %q: want the stack name within 37 characters", p)
		}
	}
}

func checkOutputs(t *testing.T, d deployment, names ...string) {
	t.Helper()
	for _, n := range append(names, "mode", "region") {
		v, ok := d.outputs[n]
		if !ok || v == "" || v == nil {
			t.Errorf("output %s missing or empty (%v)", n, v)
		}
	}
	if d.outputs["region"] != "us-east-1" {
		t.Errorf("region output %v", d.outputs["region"])
	}
}
