// Package stacks is what each stack of the servebench Pulumi program stands up.
// One program serves every stack: servebench:mode picks the deployment from
// Programs, after the whole configuration has been read and validated (Load), so a
// bad value fails before any resource is created.
package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/infra/image"
	"github.com/servebench/servebench/infra/naming"
	"github.com/servebench/servebench/infra/storage"
	"github.com/servebench/servebench/stacks/stackconfig"
)

// Deployment stands up one mode and returns the stack outputs.
type Deployment func(ctx *pulumi.Context, cfg *Config) (pulumi.Map, error)

// Programs are the deployments by servebench:mode.
var Programs = map[string]Deployment{
	stackconfig.ModeServerful:  Serverful,
	stackconfig.ModeServerless: Serverless,
}

// Program is the Pulumi program: main runs it with pulumi.Run, the tests under
// pulumi.WithMocks.
func Program(ctx *pulumi.Context) error {
	_, err := Deploy(ctx)
	return err
}

// Deploy loads the configuration, stands up its mode and exports the outputs,
// which it also returns.
func Deploy(ctx *pulumi.Context) (pulumi.Map, error) {
	cfg, err := Load(ctx)
	if err != nil {
		return nil, err
	}
	outs, err := Programs[cfg.Mode](ctx, cfg)
	if err != nil {
		return nil, err
	}
	outs["mode"] = pulumi.String(cfg.Mode)
	outs["region"] = pulumi.String(cfg.AWSRegion)
	for k, v := range outs {
		ctx.Export(k, v)
	}
	return outs, nil
}

// common stands up what both modes share: the S3 buckets with the assets and the
// service image built for target ("server" or "lambda").
func common(ctx *pulumi.Context, cfg *Config, n naming.Namer, target string) (*storage.Buckets, *image.Image, error) {
	buckets, err := storage.NewBuckets(ctx, n.Base+"-buckets", &storage.BucketsArgs{
		InputName:  cfg.InputBucket,
		OutputName: cfg.OutputBucket,
		Namer:      n,
		Objects:    cfg.Objects,
	})
	if err != nil {
		return nil, nil, err
	}
	imgArgs := &image.ImageArgs{
		RepositoryName: n.Name(target, naming.MaxECRRepository),
		Context:        cfg.SourceDir,
		Target:         target,
		KeepImages:     cfg.ImageKeep,
	}
	if target == "lambda" {
		imgArgs.LambdaRegion = cfg.AWSRegion // Lambda pulls the image itself
	}
	img, err := image.NewImage(ctx, n.Base+"-image", imgArgs)
	if err != nil {
		return nil, nil, err
	}
	return buckets, img, nil
}
