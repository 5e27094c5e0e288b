// Package image builds the service's container image from service/Dockerfile and
// pushes it to a private ECR repository that the stack owns.
package image

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/study"

	"github.com/servebench/servebench/infra/access"
)

// Defaults filled in by NewImage.
const (
	DefaultPlatform   = "linux/amd64"
	DefaultKeepImages = study.ImagesKept
)

// ImageArgs configures Image.
type ImageArgs struct {
	RepositoryName string // ECR repository name (lower case)
	Context        string // build context: the service module directory
	Dockerfile     string // default: Context/Dockerfile
	Target         string // Dockerfile target: "server" or "lambda"
	Platform       string // default linux/amd64
	KeepImages     int    // lifecycle rule: images kept; default 5
	// LambdaRegion, when set, adds a repository policy letting the account's Lambda
	// functions in that region pull the image (see access.LambdaPull), and ImageURI
	// waits for it, so a function made from ImageURI is created after the policy and
	// deleted before it.
	LambdaRegion string
}

// Image is an ECR repository and the image built and pushed into it.
type Image struct {
	pulumi.ResourceState

	RepositoryName pulumi.StringOutput `pulumi:"repositoryName"`
	RepositoryURL  pulumi.StringOutput `pulumi:"repositoryUrl"`
	// ImageURI is the pushed image by digest (repo@sha256:...), so a new build
	// changes it and the consumers (task definition, Lambda) roll forward.
	ImageURI pulumi.StringOutput `pulumi:"imageUri"`
}

// NewImage creates the repository, builds the image and pushes it.
func NewImage(ctx *pulumi.Context, name string, args *ImageArgs, opts ...pulumi.ResourceOption) (*Image, error) {
	a := *args
	if a.Context == "" || a.Target == "" || a.RepositoryName == "" {
		return nil, fmt.Errorf("image %s: RepositoryName, Context and Target are required", name)
	}
	if a.Dockerfile == "" {
		a.Dockerfile = filepath.Join(a.Context, "Dockerfile")
	}
	if a.Platform == "" {
		a.Platform = DefaultPlatform
	}
	if a.KeepImages <= 0 {
		a.KeepImages = DefaultKeepImages
	}
	c := &Image{}
	if err := ctx.RegisterComponentResource("servebench:infra:Image", name, c, opts...); err != nil {
		return nil, err
	}
	repo, err := ecr.NewRepository(ctx, name+"-repo", &ecr.RepositoryArgs{
		Name:        pulumi.String(a.RepositoryName),
		ForceDelete: pulumi.Bool(true), // destroy succeeds with images inside
		ImageScanningConfiguration: &ecr.RepositoryImageScanningConfigurationArgs{
			ScanOnPush: pulumi.Bool(true),
		},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	policy, err := LifecyclePolicy(a.KeepImages)
	if err != nil {
		return nil, err
	}
	if _, err := ecr.NewLifecyclePolicy(ctx, name+"-lifecycle", &ecr.LifecyclePolicyArgs{
		Repository: repo.Name,
		Policy:     pulumi.String(policy),
	}, pulumi.Parent(c)); err != nil {
		return nil, err
	}
	auth := ecr.GetAuthorizationTokenOutput(ctx, ecr.GetAuthorizationTokenOutputArgs{
		RegistryId: repo.RegistryId,
	}, pulumi.Parent(c))
	img, err := docker.NewImage(ctx, name+"-image", &docker.ImageArgs{
		ImageName: pulumi.Sprintf("%s:%s", repo.RepositoryUrl, a.Target),
		// One platform and no attestations, as Lambda wants a single image manifest,
		// not an index: pulumi-docker v4 builds through the Engine API, which asks for
		// no attestations, and pushes what the daemon stored (an index under the
		// containerd image store; see the README).
		Build: &docker.DockerBuildArgs{
			Context:    pulumi.String(a.Context),
			Dockerfile: pulumi.String(a.Dockerfile),
			Target:     pulumi.String(a.Target),
			Platform:   pulumi.String(a.Platform),
		},
		Registry: &docker.RegistryArgs{
			Server:   auth.ProxyEndpoint(),
			Username: auth.UserName(),
			Password: pulumi.ToSecret(auth.Password()).(pulumi.StringOutput),
		},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.RepositoryName = repo.Name
	c.RepositoryURL = repo.RepositoryUrl
	c.ImageURI = img.RepoDigest
	if a.LambdaRegion != "" {
		pull, err := ecr.NewRepositoryPolicy(ctx, name+"-lambda-pull", &ecr.RepositoryPolicyArgs{
			Repository: repo.Name,
			// The registry id is the account id.
			Policy: repo.RegistryId.ApplyT(func(account string) (string, error) {
				return access.LambdaPull(a.LambdaRegion, account)
			}).(pulumi.StringOutput),
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.ImageURI = pulumi.All(img.RepoDigest, pull.ID()).ApplyT(func(v []any) string { return v[0].(string) }).(pulumi.StringOutput)
	}
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"repositoryName": c.RepositoryName, "repositoryUrl": c.RepositoryURL, "imageUri": c.ImageURI,
	})
}

// LifecyclePolicy is the ECR lifecycle policy that expires all but the newest keep
// images.
func LifecyclePolicy(keep int) (string, error) {
	p := map[string]any{"rules": []any{map[string]any{
		"rulePriority": 1,
		"description":  fmt.Sprintf("keep the last %d images", keep),
		"selection": map[string]any{
			"tagStatus":   "any",
			"countType":   "imageCountMoreThan",
			"countNumber": keep,
		},
		"action": map[string]any{"type": "expire"},
	}}}
	b, err := json.Marshal(p)
	return string(b), err
}
