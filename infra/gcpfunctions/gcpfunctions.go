// Package gcpfunctions stands up the service on Google Cloud Functions (2nd gen):
// its own input and output buckets filled from the assets directory, the service
// module's source uploaded as an archive, an Artifact Registry repository the
// builds push to (so destroy leaves no image behind), a build service account and
// a runtime service account each granted only what its step needs, and one
// function per entry point and memory size.
//
// The functions run ONNX Runtime and libjpeg-turbo, loaded at start through purego
// (no cgo, so Google's build from source needs no C toolchain). Neither library is in
// the run image, so the source archive carries the deployer's linux/x64 copies under
// lib/ and the functions' environment names where they are at run time. What that
// rests on (read 2026-12-01):
//   - Where the source is at run time. Google Cloud's Go buildpacks build the
//     function: the functions-framework buildpack moves the uploaded source into
//     serverless_function_source_code/ under the application directory, /workspace
//     (GoogleCloudPlatform/buildpacks cmd/go/functions_framework/lib/lib.go,
//     fnSourceDir), builds the binary into a layer, and the application directory is
//     part of the run image. google.go.clear-source, which would delete it after the
//     build (pkg/clearsource), is optional in the Go builder's GCF order group
//     (builders/go/builder.toml.template) and opts in only when GOOGLE_CLEAR_SOURCE is
//     set at build time, which this program never sets. So a file lib/X of the archive
//     is /workspace/serverless_function_source_code/lib/X at run time — the directory
//     the Cloud Functions file-system docs name for a function's own files
//     (https://cloud.google.com/functions/docs/concepts/exec#file_system).
//   - What the run image has. go126 runs on the google-24 stack by default (Ubuntu
//     24.04; google-24-full on request: https://cloud.google.com/run/docs/runtimes/go).
//     google-24's run image is ubuntu2404 plus ca-certificates, curl, locales, openssl,
//     tzdata (buildpacks stacks/google_24/run-packages.txt); the Ubuntu base carries
//     libstdc++6 and libgcc-s1 because apt depends on them. google-24-full lists
//     libstdc++6, libgcc-s1, libjpeg-turbo8 (stacks/google_24_full/run-packages.txt;
//     for Ubuntu 22.04 the same in "System packages included in Cloud Functions",
//     https://cloud.google.com/functions/docs/reference/system-packages). So
//     libonnxruntime.so.1's NEEDED (libstdc++.so.6, libgcc_s.so.1, libm, libc, libdl,
//     libpthread, librt; GLIBC ≤ 2.28, GLIBCXX ≤ 3.4.22) are all there; libturbojpeg.so.0
//     (package libturbojpeg, not libjpeg-turbo8's libjpeg.so.8) is in neither image, and
//     needs only libc (GLIBC ≤ 2.14).
//   - Size. libonnxruntime.so.1 is 46 MB, 17.5 MB compressed: the archive stays far
//     below the 100 MB (compressed) source limit 1st gen states; 2nd gen states none
//     (https://cloud.google.com/functions/quotas).
package gcpfunctions

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/artifactregistry"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudfunctionsv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	gcs "github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/study"

	"github.com/servebench/servebench/infra/naming"
	"github.com/servebench/servebench/infra/serviceenv"
	"github.com/servebench/servebench/infra/storage"
)

// Defaults NewFunctions fills in that are the component's own; the study's
// (memory, timeout, max instances) come from package study.
const (
	DefaultRegion  = "us-central1"
	DefaultRuntime = "go126"
)

// Build images: the cleanup policy deletes those older than a day, but keeps
// each function's newest ones (the one it runs and the one before).
const (
	keepImages     = 2
	deleteImagesAt = "86400s"
)

// signAPI is the API the runtime account signs URLs through: on Cloud Run there
// is no private key, so gocloud's gcsblob calls IAM Credentials signBlob.
const signAPI = "iamcredentials.googleapis.com"

// Backend is the detector the functions run. Not "auto": a library that fails to
// load would then fall back to the pure-Go backend, some 80 times slower per image,
// and the comparison with Lambda would quietly be one of backends, not platforms;
// named, a library that does not load is an error every call answers, naming why.
const Backend = "onnxruntime"

// Library is a native library the source archive carries.
type Library struct {
	serviceenv.NativeLib
	Path string // the deployer's linux/x64 copy
}

// runSourceDir is where the uploaded source is when the function runs (see the
// package comment).
const runSourceDir = "/workspace/serverless_function_source_code"

// ArchivePath is the library's path inside the source archive.
func (l Library) ArchivePath() string { return "lib/" + l.Name }

// RunPath is where the library is when the function runs.
func (l Library) RunPath() string { return path.Join(runSourceDir, l.ArchivePath()) }

// EntryPoints are the functions the service module registers with
// functions-framework-go: the study's functions, "/" spelt "_" (faces/train is
// faces_train).
var EntryPoints = func() []string {
	var out []string
	for _, fn := range study.Functions() {
		out = append(out, strings.ReplaceAll(fn, "/", "_"))
	}
	return out
}()

// FunctionsArgs configures Functions.
type FunctionsArgs struct {
	Namer   naming.Namer
	Project string
	Region  string
	// SourceDir is the service module; it is uploaded without tests and testdata.
	SourceDir string
	// Libraries are uploaded with the source (linux/x64 copies), and the functions'
	// environment names each where it is at run time.
	Libraries []Library
	// Objects are uploaded into the input bucket.
	Objects []storage.Object
	// FacesSource, when set, is the face-set URL the faces functions fetch instead
	// of the uploaded faces/orl.zip (serviceenv.Env.FacesSource).
	FacesSource string
	// InputName and OutputName are exact bucket names; empty means generated.
	InputName, OutputName string

	MemoriesMB     []int // one function per entry point and memory size
	TimeoutSeconds int
	MaxInstances   int
	Runtime        string
	EntryPoints    []string
	// Public lets anyone invoke the functions; otherwise only Invokers (IAM
	// members such as "user:me@example.com") and project owners can.
	Public   bool
	Invokers []string
}

// Functions is the Cloud Functions deployment.
type Functions struct {
	pulumi.ResourceState

	InputBucket         pulumi.StringOutput    `pulumi:"inputBucket"`
	OutputBucket        pulumi.StringOutput    `pulumi:"outputBucket"`
	ServiceAccount      pulumi.StringOutput    `pulumi:"serviceAccount"`
	BuildServiceAccount pulumi.StringOutput    `pulumi:"buildServiceAccount"`
	Repository          pulumi.StringOutput    `pulumi:"repository"`    // projects/P/locations/L/repositories/R
	FunctionNames       pulumi.StringMapOutput `pulumi:"functionNames"` // key: entry-memory, e.g. predict-1024
	URLs                pulumi.StringMapOutput `pulumi:"urls"`
}

// Key names one function: its entry point and memory size.
func Key(entry string, memoryMB int) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(entry, "_", "-"), memoryMB)
}

// NewFunctions creates the buckets and uploads, the image repository, the two
// accounts and their grants, and the functions.
func NewFunctions(ctx *pulumi.Context, name string, args *FunctionsArgs, opts ...pulumi.ResourceOption) (*Functions, error) {
	a := *args
	if a.Region == "" {
		a.Region = DefaultRegion
	}
	if len(a.MemoriesMB) == 0 {
		a.MemoriesMB = []int{study.GCFMemoryMB}
	}
	if a.TimeoutSeconds == 0 {
		a.TimeoutSeconds = study.GCFTimeoutSeconds
	}
	if a.MaxInstances == 0 {
		a.MaxInstances = study.GCFMaxInstances
	}
	if a.Runtime == "" {
		a.Runtime = DefaultRuntime
	}
	if len(a.EntryPoints) == 0 {
		a.EntryPoints = EntryPoints
	}
	if a.Project == "" {
		return nil, fmt.Errorf("gcp functions %s: Project is required", name)
	}
	c := &Functions{}
	if err := ctx.RegisterComponentResource("servebench:infra:GcpFunctions", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	b, err := newBuckets(ctx, name, a, parent)
	if err != nil {
		return nil, fmt.Errorf("gcp functions %s: %w", name, err)
	}
	repo, err := newRepository(ctx, name, a, parent)
	if err != nil {
		return nil, fmt.Errorf("gcp functions %s: %w", name, err)
	}
	ids, err := newIdentities(ctx, name, a, b, repo, parent)
	if err != nil {
		return nil, fmt.Errorf("gcp functions %s: %w", name, err)
	}
	names, urls, err := newFunctionSet(ctx, name, a, b, repo, ids, parent)
	if err != nil {
		return nil, fmt.Errorf("gcp functions %s: %w", name, err)
	}

	c.InputBucket, c.OutputBucket = b.in.Name, b.out.Name
	c.ServiceAccount, c.BuildServiceAccount = ids.runtime.Email, ids.build.Email
	c.Repository = repo.ID().ToStringOutput()
	c.FunctionNames = names.ToStringMapOutput()
	c.URLs = urls.ToStringMapOutput()
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"inputBucket": c.InputBucket, "outputBucket": c.OutputBucket, "serviceAccount": c.ServiceAccount,
		"buildServiceAccount": c.BuildServiceAccount, "repository": c.Repository,
		"functionNames": c.FunctionNames, "urls": c.URLs,
	})
}

// buckets are the input, output and source buckets and the source archive.
type buckets struct {
	in, out, src *gcs.Bucket
	archive      *gcs.BucketObject
}

// newBuckets creates the three buckets, fills the input bucket and uploads the
// service source.
func newBuckets(ctx *pulumi.Context, name string, a FunctionsArgs, opts ...pulumi.ResourceOption) (*buckets, error) {
	source, digest, err := SourceArchive(a.SourceDir, a.Libraries...)
	if err != nil {
		return nil, err
	}
	var b buckets
	for _, x := range []struct {
		into        **gcs.Bucket
		suffix, set string
	}{{&b.in, "-input", a.InputName}, {&b.out, "-output", a.OutputName}, {&b.src, "-source", ""}} {
		if *x.into, err = newBucket(ctx, name+x.suffix, x.set, a, opts...); err != nil {
			return nil, err
		}
	}
	for _, o := range a.Objects {
		if _, err := gcs.NewBucketObject(ctx, name+"-"+storage.LogicalName(o.Key), &gcs.BucketObjectArgs{
			Bucket:      b.in.Name,
			Name:        pulumi.String(o.Key),
			Source:      o.Source,
			ContentType: pulumi.String(o.ContentType),
		}, opts...); err != nil {
			return nil, err
		}
	}
	// The object name carries the source digest, so a changed service (or library)
	// redeploys.
	b.archive, err = gcs.NewBucketObject(ctx, name+"-source-archive", &gcs.BucketObjectArgs{
		Bucket: b.src.Name,
		Name:   pulumi.String("service-" + digest[:16] + ".zip"),
		Source: source,
	}, opts...)
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// newRepository is the Docker repository the builds push to. Without one, the
// images go to the service-created gcf-artifacts repository, which outlives the
// stack; deleting a repository deletes the images in it.
func newRepository(ctx *pulumi.Context, name string, a FunctionsArgs, opts ...pulumi.ResourceOption) (*artifactregistry.Repository, error) {
	return artifactregistry.NewRepository(ctx, name+"-images", &artifactregistry.RepositoryArgs{
		Project:      pulumi.String(a.Project),
		Location:     pulumi.String(a.Region),
		RepositoryId: pulumi.String(a.Namer.Name("gcf", naming.MaxArtifactRepo)),
		Format:       pulumi.String("DOCKER"),
		Description:  pulumi.String("servebench function images " + a.Namer.Base),
		// Every redeploy pushes a new image per function; only recent ones are kept.
		CleanupPolicyDryRun: pulumi.Bool(false),
		CleanupPolicies: artifactregistry.RepositoryCleanupPolicyArray{
			&artifactregistry.RepositoryCleanupPolicyArgs{
				Id:        pulumi.String("delete-old"),
				Action:    pulumi.String("DELETE"),
				Condition: &artifactregistry.RepositoryCleanupPolicyConditionArgs{TagState: pulumi.String("ANY"), OlderThan: pulumi.String(deleteImagesAt)},
			},
			&artifactregistry.RepositoryCleanupPolicyArgs{
				Id:                 pulumi.String("keep-recent"),
				Action:             pulumi.String("KEEP"),
				MostRecentVersions: &artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs{KeepCount: pulumi.Int(keepImages)},
			},
		},
	}, opts...)
}

// identities are the accounts the functions build and run as, and every grant
// that must exist before a function is built or serves: the functions depend on
// grants, so destroy removes the grants only after the functions.
type identities struct {
	runtime, build *serviceaccount.Account
	grants         []pulumi.Resource
}

// newIdentities creates the runtime and build accounts and grants each what its
// step needs. The build grants follow the Cloud Functions build guide ("Secure
// your build with a custom service account"): projects created since July 2024
// build as a default account that lacks them.
func newIdentities(ctx *pulumi.Context, name string, a FunctionsArgs, b *buckets, repo *artifactregistry.Repository, opts ...pulumi.ResourceOption) (*identities, error) {
	ids := &identities{}
	keep := func(r pulumi.Resource, err error) error {
		if err == nil {
			ids.grants = append(ids.grants, r)
		}
		return err
	}
	account := func(suffix, part, what string) (*serviceaccount.Account, pulumi.StringOutput, error) {
		sa, err := serviceaccount.NewAccount(ctx, name+suffix, &serviceaccount.AccountArgs{
			Project:     pulumi.String(a.Project),
			AccountId:   pulumi.String(a.Namer.Name(part, naming.MaxServiceAcct)),
			DisplayName: pulumi.String("servebench " + what + " " + a.Namer.Base),
		}, opts...)
		if err != nil {
			return nil, pulumi.StringOutput{}, err
		}
		return sa, pulumi.Sprintf("serviceAccount:%s", sa.Email), nil
	}
	var runtimeMember, buildMember pulumi.StringOutput
	var err error
	if ids.runtime, runtimeMember, err = account("-sa", "fn", "functions"); err != nil {
		return nil, err
	}
	if ids.build, buildMember, err = account("-build-sa", "build", "function builds"); err != nil {
		return nil, err
	}

	for _, g := range []struct {
		suffix string
		bucket pulumi.StringOutput
		role   string
		member pulumi.StringOutput
	}{
		{"-sa-read-input", b.in.Name, "roles/storage.objectViewer", runtimeMember},    // read and list
		{"-sa-write-output", b.out.Name, "roles/storage.objectUser", runtimeMember},   // read, write, delete, list; no IAM
		{"-build-read-source", b.src.Name, "roles/storage.objectViewer", buildMember}, // the uploaded archive
	} {
		if err := keep(gcs.NewBucketIAMMember(ctx, name+g.suffix, &gcs.BucketIAMMemberArgs{
			Bucket: g.bucket, Role: pulumi.String(g.role), Member: g.member,
		}, opts...)); err != nil {
			return nil, err
		}
	}

	// Signing a URL without a private key: the runtime account calls signBlob
	// on itself, which takes the token creator role on the account and the API.
	if err := keep(serviceaccount.NewIAMMember(ctx, name+"-sa-sign", &serviceaccount.IAMMemberArgs{
		ServiceAccountId: ids.runtime.ID().ToStringOutput(),
		Role:             pulumi.String("roles/iam.serviceAccountTokenCreator"),
		Member:           runtimeMember,
	}, opts...)); err != nil {
		return nil, err
	}
	// Left enabled on destroy: other things in the project may sign through it.
	if err := keep(projects.NewService(ctx, name+"-sign-api", &projects.ServiceArgs{
		Project:          pulumi.String(a.Project),
		Service:          pulumi.String(signAPI),
		DisableOnDestroy: pulumi.Bool(false),
	}, opts...)); err != nil {
		return nil, err
	}

	// The build writes its logs, pushes to this stack's repository only, and
	// fetches the source from the bucket Cloud Functions stages it in
	// (gcf-v2-sources-PROJECT_NUMBER-REGION: the service creates it, so the grant
	// is on the project, with a condition on that bucket's name).
	if err := keep(projects.NewIAMMember(ctx, name+"-build-logs", &projects.IAMMemberArgs{
		Project: pulumi.String(a.Project), Role: pulumi.String("roles/logging.logWriter"), Member: buildMember,
	}, opts...)); err != nil {
		return nil, err
	}
	if err := keep(artifactregistry.NewRepositoryIamMember(ctx, name+"-build-push", &artifactregistry.RepositoryIamMemberArgs{
		Project: pulumi.String(a.Project), Location: repo.Location, Repository: repo.RepositoryId,
		Role: pulumi.String("roles/artifactregistry.writer"), Member: buildMember,
	}, opts...)); err != nil {
		return nil, err
	}
	if err := keep(projects.NewIAMMember(ctx, name+"-build-read-staged", &projects.IAMMemberArgs{
		Project: pulumi.String(a.Project), Role: pulumi.String("roles/storage.objectViewer"), Member: buildMember,
		Condition: &projects.IAMMemberConditionArgs{
			Title:      pulumi.String("gcf-v2-sources"),
			Expression: pulumi.String(stagedSourceCondition),
		},
	}, opts...)); err != nil {
		return nil, err
	}
	return ids, nil
}

// stagedSourceCondition limits the build account's project-wide read to the
// objects in the buckets Cloud Functions stages function sources in.
const stagedSourceCondition = `resource.type == "storage.googleapis.com/Object" && resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")`

// newFunctionSet creates one function per memory size and entry point, built by
// the build account into the repository, run as the runtime account, after every
// grant; and its invoker grants.
func newFunctionSet(ctx *pulumi.Context, name string, a FunctionsArgs, b *buckets, repo *artifactregistry.Repository, ids *identities, opts ...pulumi.ResourceOption) (pulumi.StringMap, pulumi.StringMap, error) {
	invokers := a.Invokers
	if a.Public {
		invokers = append([]string{"allUsers"}, invokers...)
	}
	fnOpts := append(append([]pulumi.ResourceOption{}, opts...), pulumi.DependsOn(ids.grants))
	names, urls := pulumi.StringMap{}, pulumi.StringMap{}
	for _, mem := range a.MemoriesMB {
		env := serviceenv.Env{Scheme: "gs", Backend: Backend, Platform: "cloudfunctions", MemoryMB: mem, FacesSource: a.FacesSource}.Vars(b.in.Name, b.out.Name)
		for _, l := range a.Libraries {
			env[l.Env] = pulumi.String(l.RunPath())
		}
		for _, entry := range a.EntryPoints {
			key := Key(entry, mem)
			fn, err := cloudfunctionsv2.NewFunction(ctx, name+"-"+key, &cloudfunctionsv2.FunctionArgs{
				Project:  pulumi.String(a.Project),
				Location: pulumi.String(a.Region),
				Name:     pulumi.String(a.Namer.Name(key, naming.MaxGCPFunction)),
				BuildConfig: &cloudfunctionsv2.FunctionBuildConfigArgs{
					Runtime:    pulumi.String(a.Runtime),
					EntryPoint: pulumi.String(entry),
					Source: &cloudfunctionsv2.FunctionBuildConfigSourceArgs{
						StorageSource: &cloudfunctionsv2.FunctionBuildConfigSourceStorageSourceArgs{
							Bucket: b.src.Name, Object: b.archive.Name,
						},
					},
					// Both as projects/P/...: the account's and the repository's ids.
					ServiceAccount:   ids.build.ID().ToStringOutput(),
					DockerRepository: repo.ID().ToStringOutput(),
				},
				ServiceConfig: &cloudfunctionsv2.FunctionServiceConfigArgs{
					AvailableMemory:               pulumi.String(Memory(mem)),
					TimeoutSeconds:                pulumi.Int(a.TimeoutSeconds),
					MaxInstanceCount:              pulumi.Int(a.MaxInstances),
					MaxInstanceRequestConcurrency: pulumi.Int(1), // one request per instance, as gen1 did
					ServiceAccountEmail:           ids.runtime.Email,
					IngressSettings:               pulumi.String("ALLOW_ALL"),
					EnvironmentVariables:          env,
				},
			}, fnOpts...)
			if err != nil {
				return nil, nil, err
			}
			for i, who := range invokers {
				if _, err := cloudrunv2.NewServiceIamMember(ctx, fmt.Sprintf("%s-%s-invoker-%d", name, key, i), &cloudrunv2.ServiceIamMemberArgs{
					Project:  pulumi.String(a.Project),
					Location: pulumi.String(a.Region),
					Name:     fn.ServiceConfig.Service().Elem(),
					Role:     pulumi.String("roles/run.invoker"),
					Member:   pulumi.String(who),
				}, opts...); err != nil {
					return nil, nil, err
				}
			}
			names[key] = fn.Name
			urls[key] = fn.Url
		}
	}
	return names, urls, nil
}

// newBucket creates a private, destroyable bucket (GCS always encrypts at rest).
func newBucket(ctx *pulumi.Context, name, exact string, a FunctionsArgs, opts ...pulumi.ResourceOption) (*gcs.Bucket, error) {
	args := &gcs.BucketArgs{
		Project:                  pulumi.String(a.Project),
		Location:                 pulumi.String(strings.ToUpper(a.Region)),
		ForceDestroy:             pulumi.Bool(true),
		UniformBucketLevelAccess: pulumi.Bool(true),
		PublicAccessPrevention:   pulumi.String("enforced"),
	}
	if exact != "" {
		args.Name = pulumi.String(exact)
	}
	return gcs.NewBucket(ctx, name, args, opts...)
}

// Memory renders a size in MiB the way Cloud Functions takes it: "1Gi", "512Mi".
func Memory(mb int) string {
	if mb%1024 == 0 {
		return fmt.Sprintf("%dGi", mb/1024)
	}
	return fmt.Sprintf("%dMi", mb)
}

// SourceArchive is the service module as an archive for a source deploy: every
// file but tests, testdata, hidden files and the container build files, and each
// library at its ArchivePath. It also returns a SHA-256 over the paths and contents,
// which changes when the source or a library does.
func SourceArchive(dir string, libs ...Library) (pulumi.Archive, string, error) {
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return nil, "", fmt.Errorf("service source %s: no go.mod: %w", dir, err)
	}
	files := map[string]string{} // archive path → local file
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := d.Name()
		if p != dir && (strings.HasPrefix(base, ".") || (d.IsDir() && base == "testdata")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || strings.HasSuffix(base, "_test.go") || base == "Dockerfile" {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = p
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("service source %s: %w", dir, err)
	}
	for _, l := range libs {
		if prev, ok := files[l.ArchivePath()]; ok {
			return nil, "", fmt.Errorf("service source %s: %s is both %s and the library %s", dir, l.ArchivePath(), prev, l.Path)
		}
		files[l.ArchivePath()] = l.Path
	}
	paths := make([]string, 0, len(files))
	assets := make(map[string]any, len(files))
	for rel, p := range files {
		paths = append(paths, rel)
		assets[rel] = pulumi.NewFileAsset(p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, rel := range paths {
		f, err := os.Open(files[rel])
		if err != nil {
			return nil, "", fmt.Errorf("service source %s: %w", dir, err)
		}
		fmt.Fprintf(h, "%s\x00", rel)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, "", fmt.Errorf("service source %s: %w", rel, err)
		}
	}
	return pulumi.NewAssetArchive(assets), hex.EncodeToString(h.Sum(nil)), nil
}
