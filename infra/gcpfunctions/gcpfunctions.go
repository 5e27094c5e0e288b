// Package gcpfunctions stands up the service on Google Cloud Functions (2nd gen):
// its own input and output buckets filled from the assets directory, the service
// module's source uploaded as an archive, a service account whose storage rights
// cover only those buckets, and one function per entry point and memory size.
package gcpfunctions

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudfunctionsv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	gcs "github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/infra/naming"
	"github.com/servebench/servebench/infra/serviceenv"
	"github.com/servebench/servebench/infra/storage"
)

// Defaults filled in by NewFunctions (the original study's functions).
const (
	DefaultRegion         = "us-central1"
	DefaultMemoryMB       = 1024
	DefaultTimeoutSeconds = 540
	DefaultMaxInstances   = 30 // the study's cold burst is 30 parallel calls
	DefaultRuntime        = "go126"
	// DefaultPublic: the original study's functions were public HTTP triggers;
	// DefaultMaxInstances bounds what a caller can run up.
	DefaultPublic = true
)

// EntryPoints are the functions the service module registers with
// functions-framework-go.
var EntryPoints = []string{"predict", "faces_download_data", "faces_train", "faces_upload", "faces_predict"}

// FunctionsArgs configures Functions.
type FunctionsArgs struct {
	Namer   naming.Namer
	Project string
	Region  string
	// SourceDir is the service module; it is uploaded without tests and testdata.
	SourceDir string
	// Objects are uploaded into the input bucket.
	Objects []storage.Object
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

	InputBucket    pulumi.StringOutput    `pulumi:"inputBucket"`
	OutputBucket   pulumi.StringOutput    `pulumi:"outputBucket"`
	ServiceAccount pulumi.StringOutput    `pulumi:"serviceAccount"`
	FunctionNames  pulumi.StringMapOutput `pulumi:"functionNames"` // key: entry-memory, e.g. predict-1024
	URLs           pulumi.StringMapOutput `pulumi:"urls"`
}

// Key names one function: its entry point and memory size.
func Key(entry string, memoryMB int) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(entry, "_", "-"), memoryMB)
}

// NewFunctions creates the buckets, the source archive, the account and the functions.
func NewFunctions(ctx *pulumi.Context, name string, args *FunctionsArgs, opts ...pulumi.ResourceOption) (*Functions, error) {
	a := *args
	if a.Region == "" {
		a.Region = DefaultRegion
	}
	if len(a.MemoriesMB) == 0 {
		a.MemoriesMB = []int{DefaultMemoryMB}
	}
	if a.TimeoutSeconds == 0 {
		a.TimeoutSeconds = DefaultTimeoutSeconds
	}
	if a.MaxInstances == 0 {
		a.MaxInstances = DefaultMaxInstances
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
	source, digest, err := SourceArchive(a.SourceDir)
	if err != nil {
		return nil, fmt.Errorf("gcp functions %s: %w", name, err)
	}
	c := &Functions{}
	if err := ctx.RegisterComponentResource("servebench:infra:GcpFunctions", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)

	in, err := newBucket(ctx, name+"-input", a.InputName, a, parent)
	if err != nil {
		return nil, err
	}
	out, err := newBucket(ctx, name+"-output", a.OutputName, a, parent)
	if err != nil {
		return nil, err
	}
	src, err := newBucket(ctx, name+"-source", "", a, parent)
	if err != nil {
		return nil, err
	}
	for _, o := range a.Objects {
		if _, err := gcs.NewBucketObject(ctx, name+"-"+storage.LogicalName(o.Key), &gcs.BucketObjectArgs{
			Bucket:      in.Name,
			Name:        pulumi.String(o.Key),
			Source:      o.Source,
			ContentType: pulumi.String(o.ContentType),
		}, parent); err != nil {
			return nil, err
		}
	}
	// The object name carries the source digest, so a changed service redeploys.
	archive, err := gcs.NewBucketObject(ctx, name+"-source-archive", &gcs.BucketObjectArgs{
		Bucket: src.Name,
		Name:   pulumi.String("service-" + digest[:16] + ".zip"),
		Source: source,
	}, parent)
	if err != nil {
		return nil, err
	}

	sa, err := serviceaccount.NewAccount(ctx, name+"-sa", &serviceaccount.AccountArgs{
		Project:     pulumi.String(a.Project),
		AccountId:   pulumi.String(a.Namer.Name("fn", naming.MaxServiceAcct)),
		DisplayName: pulumi.String("servebench functions " + a.Namer.Base),
	}, parent)
	if err != nil {
		return nil, err
	}
	member := pulumi.Sprintf("serviceAccount:%s", sa.Email)
	for _, g := range []struct {
		suffix string
		bucket pulumi.StringOutput
		role   string
	}{
		{"-sa-read-input", in.Name, "roles/storage.objectViewer"},  // read and list
		{"-sa-write-output", out.Name, "roles/storage.objectUser"}, // read, write, delete, list; no IAM
	} {
		if _, err := gcs.NewBucketIAMMember(ctx, name+g.suffix, &gcs.BucketIAMMemberArgs{
			Bucket: g.bucket, Role: pulumi.String(g.role), Member: member,
		}, parent); err != nil {
			return nil, err
		}
	}

	names, urls := pulumi.StringMap{}, pulumi.StringMap{}
	for _, mem := range a.MemoriesMB {
		env := serviceenv.Env{Scheme: "gs", Backend: "gomlx", Platform: "cloudfunctions", MemoryMB: mem}.Vars(in.Name, out.Name)
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
							Bucket: src.Name, Object: archive.Name,
						},
					},
				},
				ServiceConfig: &cloudfunctionsv2.FunctionServiceConfigArgs{
					AvailableMemory:               pulumi.String(Memory(mem)),
					TimeoutSeconds:                pulumi.Int(a.TimeoutSeconds),
					MaxInstanceCount:              pulumi.Int(a.MaxInstances),
					MaxInstanceRequestConcurrency: pulumi.Int(1), // one request per instance, as gen1 did
					ServiceAccountEmail:           sa.Email,
					IngressSettings:               pulumi.String("ALLOW_ALL"),
					EnvironmentVariables:          env,
				},
			}, parent)
			if err != nil {
				return nil, err
			}
			invokers := a.Invokers
			if a.Public {
				invokers = append([]string{"allUsers"}, invokers...)
			}
			for i, who := range invokers {
				if _, err := cloudrunv2.NewServiceIamMember(ctx, fmt.Sprintf("%s-%s-invoker-%d", name, key, i), &cloudrunv2.ServiceIamMemberArgs{
					Project:  pulumi.String(a.Project),
					Location: pulumi.String(a.Region),
					Name:     fn.ServiceConfig.Service().Elem(),
					Role:     pulumi.String("roles/run.invoker"),
					Member:   pulumi.String(who),
				}, parent); err != nil {
					return nil, err
				}
			}
			names[key] = fn.Name
			urls[key] = fn.Url
		}
	}

	c.InputBucket, c.OutputBucket = in.Name, out.Name
	c.ServiceAccount = sa.Email
	c.FunctionNames = names.ToStringMapOutput()
	c.URLs = urls.ToStringMapOutput()
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"inputBucket": c.InputBucket, "outputBucket": c.OutputBucket, "serviceAccount": c.ServiceAccount,
		"functionNames": c.FunctionNames, "urls": c.URLs,
	})
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
// file but tests, testdata, hidden files and the container build files. It also
// returns a SHA-256 over the paths and contents, which changes when the source does.
func SourceArchive(dir string) (pulumi.Archive, string, error) {
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return nil, "", fmt.Errorf("service source %s: no go.mod: %w", dir, err)
	}
	files := map[string]any{}
	var paths []string
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
		rel = filepath.ToSlash(rel)
		files[rel] = pulumi.NewFileAsset(p)
		paths = append(paths, rel)
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("service source %s: %w", dir, err)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, rel := range paths {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
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
	return pulumi.NewAssetArchive(files), hex.EncodeToString(h.Sum(nil)), nil
}
