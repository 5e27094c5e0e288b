// Package storage stands up the service's S3 input and output buckets: private,
// encrypted, destroyable with objects inside, rid of abandoned multipart uploads,
// and the input bucket filled from a local assets directory so one `pulumi up`
// leaves a deployment ready to benchmark.
package storage

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/infra/naming"
)

// AbortIncompleteUploadsAfterDays is when a bucket's lifecycle rule aborts a
// multipart upload that never completed.
const AbortIncompleteUploadsAfterDays = 1

// BucketsArgs configures Buckets.
type BucketsArgs struct {
	// InputName and OutputName are exact bucket names; empty means generated from
	// Namer (a prefix plus a unique suffix chosen by AWS: bucket names are global).
	InputName, OutputName string
	Namer                 naming.Namer
	// Objects are uploaded into the input bucket.
	Objects []Object
}

// Buckets is the input and output bucket pair.
type Buckets struct {
	pulumi.ResourceState

	InputBucket  pulumi.StringOutput `pulumi:"inputBucket"`
	OutputBucket pulumi.StringOutput `pulumi:"outputBucket"`
	InputArn     pulumi.StringOutput `pulumi:"inputArn"`
	OutputArn    pulumi.StringOutput `pulumi:"outputArn"`
}

// NewBuckets creates the buckets and uploads the objects.
func NewBuckets(ctx *pulumi.Context, name string, args *BucketsArgs, opts ...pulumi.ResourceOption) (*Buckets, error) {
	c := &Buckets{}
	if err := ctx.RegisterComponentResource("servebench:infra:Buckets", name, c, opts...); err != nil {
		return nil, err
	}
	in, err := newBucket(ctx, c, name+"-input", args.InputName, args.Namer.Name("in-", naming.MaxS3Prefix))
	if err != nil {
		return nil, err
	}
	out, err := newBucket(ctx, c, name+"-output", args.OutputName, args.Namer.Name("out-", naming.MaxS3Prefix))
	if err != nil {
		return nil, err
	}
	for _, o := range args.Objects {
		_, err := s3.NewBucketObjectv2(ctx, name+"-"+LogicalName(o.Key), &s3.BucketObjectv2Args{
			Bucket:      in.Bucket,
			Key:         pulumi.String(o.Key),
			Source:      o.Source,
			ContentType: pulumi.String(o.ContentType),
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
	}
	c.InputBucket, c.OutputBucket = in.Bucket, out.Bucket
	c.InputArn, c.OutputArn = in.Arn, out.Arn
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"inputBucket": c.InputBucket, "outputBucket": c.OutputBucket,
		"inputArn": c.InputArn, "outputArn": c.OutputArn,
	})
}

// newBucket creates one private, encrypted, force-destroyable bucket.
func newBucket(ctx *pulumi.Context, parent pulumi.Resource, name, exact, prefix string) (*s3.BucketV2, error) {
	args := &s3.BucketV2Args{ForceDestroy: pulumi.Bool(true)}
	if exact != "" {
		args.Bucket = pulumi.String(exact)
	} else {
		args.BucketPrefix = pulumi.String(prefix)
	}
	b, err := s3.NewBucketV2(ctx, name, args, pulumi.Parent(parent))
	if err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketPublicAccessBlock(ctx, name+"-private", &s3.BucketPublicAccessBlockArgs{
		Bucket:                b.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, pulumi.Parent(parent)); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name+"-sse", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: b.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{
			&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
				ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
					SseAlgorithm: pulumi.String("AES256"),
				},
			},
		},
	}, pulumi.Parent(parent)); err != nil {
		return nil, err
	}
	// The parts of a multipart upload that failed and was never aborted are kept,
	// and billed, until something aborts it.
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, name+"-lifecycle", &s3.BucketLifecycleConfigurationV2Args{
		Bucket: b.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{
			&s3.BucketLifecycleConfigurationV2RuleArgs{
				Id:     pulumi.String("abort-incomplete-multipart-uploads"),
				Status: pulumi.String("Enabled"),
				Filter: &s3.BucketLifecycleConfigurationV2RuleFilterArgs{}, // every object
				AbortIncompleteMultipartUpload: &s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{
					DaysAfterInitiation: pulumi.Int(AbortIncompleteUploadsAfterDays),
				},
			},
		},
	}, pulumi.Parent(parent)); err != nil {
		return nil, err
	}
	return b, nil
}
