package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/infra/gcpfunctions"
	"github.com/servebench/servebench/infra/lambda"
	"github.com/servebench/servebench/infra/naming"
	"github.com/servebench/servebench/infra/serviceenv"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// Serverless is the original studies' serverless deployments: Lambda from the
// container image behind API Gateway, and, when gcp:project is set, the service on
// Google Cloud Functions.
func Serverless(ctx *pulumi.Context, cfg *Config) (pulumi.Map, error) {
	n := naming.New(ctx.Project(), ctx.Stack())
	s := cfg.Serverless
	buckets, img, err := common(ctx, cfg, n, stackconfig.ImageTarget[stackconfig.ModeServerless])
	if err != nil {
		return nil, err
	}
	// The architecture is the component's default, named here so the output says
	// what the function runs on.
	arch := lambda.DefaultArchitecture
	env := serviceenv.Env{
		Scheme: "s3", Region: cfg.AWSRegion, Backend: "onnxruntime", Platform: "lambda", MemoryMB: s.LambdaMemoryMB,
		FacesSource: cfg.FacesSource,
	}
	fn, err := lambda.NewFunction(ctx, n.Base+"-lambda", &lambda.FunctionArgs{
		Namer:               n,
		ImageURI:            img.ImageURI,
		Env:                 env.Vars(buckets.InputBucket, buckets.OutputBucket),
		InputBucketArn:      buckets.InputArn,
		OutputBucketArn:     buckets.OutputArn,
		MemoryMB:            s.LambdaMemoryMB,
		TimeoutSeconds:      s.LambdaTimeout,
		Architecture:        arch,
		ReservedConcurrency: s.ReservedConcurrency,
		ThrottleRate:        float64(s.ThrottleRate),
		ThrottleBurst:       s.ThrottleBurst,
		LogRetentionDays:    cfg.LogRetentionDays,
	})
	if err != nil {
		return nil, err
	}
	outs := pulumi.Map{
		"url":           fn.URL,
		"inputBucket":   buckets.InputBucket,
		"outputBucket":  buckets.OutputBucket,
		"functionName":  fn.FunctionName,
		"functionArn":   fn.FunctionArn,
		"apiId":         fn.APIID,
		"logGroupName":  fn.LogGroupName,
		"repositoryUrl": img.RepositoryURL,
		"imageUri":      img.ImageURI,
		// What the deployment record of `servebench cloud` says the target ran on.
		"lambdaMemoryMb":     pulumi.Int(s.LambdaMemoryMB),
		"lambdaArchitecture": pulumi.String(arch),
	}
	if s.GCPProject == "" {
		return outs, nil
	}
	gcf, err := gcpfunctions.NewFunctions(ctx, n.Base+"-gcf", &gcpfunctions.FunctionsArgs{
		Namer:          n,
		Project:        s.GCPProject,
		Region:         s.GCPRegion,
		SourceDir:      cfg.SourceDir,
		Libraries:      s.GCPLibraries,
		Objects:        cfg.Objects,
		FacesSource:    cfg.FacesSource,
		InputName:      s.GCPInputBucket,
		OutputName:     s.GCPOutputBucket,
		MemoriesMB:     s.GCPMemoriesMB,
		TimeoutSeconds: s.GCPTimeout,
		MaxInstances:   s.GCPMaxInstances,
		Public:         s.GCPPublic,
		Invokers:       s.GCPInvokers,
	})
	if err != nil {
		return nil, err
	}
	outs["gcpInputBucket"] = gcf.InputBucket
	outs["gcpOutputBucket"] = gcf.OutputBucket
	outs["gcpServiceAccount"] = gcf.ServiceAccount
	outs["gcpFunctionNames"] = gcf.FunctionNames
	outs["gcpUrls"] = gcf.URLs
	return outs, nil
}
