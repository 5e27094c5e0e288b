package cloud

// Temporary: pins the modules the cloud command uses while it is being written.
// The lead deletes this file once the real imports exist.
import (
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	_ "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	_ "github.com/aws/aws-sdk-go-v2/service/ecr"
	_ "github.com/aws/aws-sdk-go-v2/service/ecs"
	_ "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	_ "github.com/aws/aws-sdk-go-v2/service/iam"
	_ "github.com/aws/aws-sdk-go-v2/service/lambda"
	_ "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	_ "github.com/aws/aws-sdk-go-v2/service/sts"
	_ "github.com/pulumi/pulumi/sdk/v3/go/auto"
	_ "google.golang.org/api/cloudfunctions/v2"
	_ "google.golang.org/api/option"
	_ "google.golang.org/api/run/v2"
)
