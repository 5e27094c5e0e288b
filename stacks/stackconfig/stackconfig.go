// Package stackconfig names the stacks' configuration keys, their modes, types
// and defaults, and the tags every stack carries. It is separate from package
// stacks (the Pulumi program) so that a command that only reads a stack file, such
// as `servebench cloud`'s preflight and estimate, does not link the Pulumi SDKs.
package stackconfig

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/servebench/servebench/study"
)

// Configuration keys. The servebench: keys are the program's own; the provider
// keys are read because the service's environment needs the region.
const (
	KeyMode         = "servebench:mode"
	KeyAssetsDir    = "servebench:assetsDir"
	KeyFacesSource  = "servebench:facesSource"
	KeyInputBucket  = "servebench:inputBucket"
	KeyOutputBucket = "servebench:outputBucket"
	KeyImageKeep    = "servebench:imageKeep"

	KeyVpcID            = "servebench:vpcId"
	KeySubnetIDs        = "servebench:subnetIds"
	KeyVpcCIDR          = "servebench:vpcCidr"
	KeyInstanceType     = "servebench:instanceType"
	KeyMinSize          = "servebench:minSize"
	KeyMaxSize          = "servebench:maxSize"
	KeyCPUTarget        = "servebench:cpuTarget"
	KeyScaleInCooldown  = "servebench:scaleInCooldown"
	KeyScaleOutCooldown = "servebench:scaleOutCooldown"
	KeyTaskCPU          = "servebench:taskCpu"
	KeyTaskMemoryMB     = "servebench:taskMemoryMb"
	KeyListenerPort     = "servebench:listenerPort"
	KeyIngressCIDRs     = "servebench:ingressCidrs"
	KeyLogRetentionDays = "servebench:logRetentionDays"

	KeyLambdaMemoryMB            = "servebench:lambdaMemoryMb"
	KeyLambdaTimeout             = "servebench:lambdaTimeout"
	KeyLambdaReservedConcurrency = "servebench:lambdaReservedConcurrency"
	KeyThrottleRate              = "servebench:throttleRateLimit"
	KeyThrottleBurst             = "servebench:throttleBurstLimit"
	KeyGCPMemoriesMB             = "servebench:gcpMemoryMb"
	KeyGCPTimeout                = "servebench:gcpTimeout"
	KeyGCPMaxInstances           = "servebench:gcpMaxInstances"
	KeyGCPPublic                 = "servebench:gcpPublic"
	KeyGCPInvokers               = "servebench:gcpInvokers"
	KeyGCPInputBucket            = "servebench:gcpInputBucket"
	KeyGCPOutputBucket           = "servebench:gcpOutputBucket"
	KeyONNXRuntimeLib            = "servebench:onnxRuntimeLib"
	KeyTurboJPEGLib              = "servebench:turbojpegLib"

	KeyAWSRegion  = "aws:region"
	KeyGCPProject = "gcp:project"
	KeyGCPRegion  = "gcp:region"
)

// Modes.
const (
	ModeServerful  = "serverful"
	ModeServerless = "serverless"
)

// ImageTarget is the service/Dockerfile target each mode builds and pushes; it
// also names the stack's ECR repository (project-stack-target).
var ImageTarget = map[string]string{ModeServerful: "server", ModeServerless: "lambda"}

// EnvData names the environment variable consulted for the assets directory when
// servebench:assetsDir is not set (the same one the tests and local tools use).
const EnvData = "SERVEBENCH_DATA"

// Key describes one servebench: configuration key: its Pulumi.yaml type, the mode
// it belongs to ("" = every mode), its default as written in the README, and what
// it does.
type Key struct {
	Name    string
	Type    string // string | integer | boolean | array
	Mode    string
	Default string
	Doc     string
}

// Keys lists every servebench: key the program reads. Pulumi.yaml declares the
// same set (a test keeps them in step), so a typo in a stack file is caught.
var Keys = []Key{
	{KeyMode, "string", "", "(required)", "what the stack stands up: serverful or serverless"},
	{KeyAssetsDir, "string", "", "$SERVEBENCH_DATA, else ../shared/data", "local directory with models/, images/, faces/orl/ to upload"},
	{KeyFacesSource, "string", "", "the uploaded faces/orl.zip", "face-set archive URL (https://, s3://, gs://) the faces functions fetch instead of an uploaded copy, e.g. the ORL set's public home; the assets directory then needs no faces/orl/"},
	{KeyInputBucket, "string", "", "generated", "exact S3 input bucket name"},
	{KeyOutputBucket, "string", "", "generated", "exact S3 output bucket name"},
	{KeyImageKeep, "integer", "", strconv.Itoa(study.ImagesKept), "ECR lifecycle rule: images kept"},

	{KeyVpcID, "string", ModeServerful, "new VPC", "existing VPC to use (with subnetIds)"},
	{KeySubnetIDs, "array", ModeServerful, "new public subnets", "existing public subnets, at least two zones (with vpcId)"},
	{KeyVpcCIDR, "string", ModeServerful, study.VpcCIDR, "CIDR block of the new VPC"},
	{KeyInstanceType, "string", ModeServerful, study.InstanceType, "EC2 instance type of the cluster"},
	{KeyMinSize, "integer", ModeServerful, strconv.Itoa(study.MinInstances), "minimum instances and tasks"},
	{KeyMaxSize, "integer", ModeServerful, strconv.Itoa(study.MaxInstances), "maximum instances and tasks"},
	{KeyCPUTarget, "integer", ModeServerful, fmt.Sprint(study.CPUTargetPercent), "target tracking: service CPU percent"},
	{KeyScaleInCooldown, "integer", ModeServerful, strconv.Itoa(study.ScaleInCooldownSeconds), "target tracking: scale-in cooldown, seconds"},
	{KeyScaleOutCooldown, "integer", ModeServerful, strconv.Itoa(study.ScaleOutCooldownSeconds), "target tracking: scale-out cooldown, seconds"},
	{KeyTaskCPU, "integer", ModeServerful, strconv.Itoa(study.TaskCPU), fmt.Sprintf("task CPU units (%d = one %s)", study.TaskCPU, study.InstanceType)},
	{KeyTaskMemoryMB, "integer", ModeServerful, strconv.Itoa(study.TaskMemoryMB), "task memory, MiB"},
	{KeyListenerPort, "integer", ModeServerful, strconv.Itoa(study.ListenerPort), "load balancer listener port (HTTP)"},
	{KeyIngressCIDRs, "array", ModeServerful, `["` + study.IngressCIDR + `"]`, "CIDRs allowed to reach the listener"},
	{KeyLogRetentionDays, "integer", "", strconv.Itoa(study.LogRetentionDays), "CloudWatch log retention, days"},

	{KeyLambdaMemoryMB, "integer", ModeServerless, strconv.Itoa(study.LambdaMemoryMB), "Lambda memory, MB"},
	{KeyLambdaTimeout, "integer", ModeServerless, strconv.Itoa(study.LambdaTimeoutSeconds), "Lambda timeout, seconds (4 to 30: API Gateway's limit; the service's own deadline is 3 s less)"},
	{KeyLambdaReservedConcurrency, "integer", ModeServerless, "unset", "Lambda reserved concurrency"},
	{KeyThrottleRate, "integer", ModeServerless, strconv.Itoa(study.ThrottleRate), "API Gateway stage: steady requests per second"},
	{KeyThrottleBurst, "integer", ModeServerless, strconv.Itoa(study.ThrottleBurst), "API Gateway stage: burst requests"},
	{KeyGCPMemoriesMB, "array", ModeServerless, fmt.Sprintf("[%d]", study.GCFMemoryMB), "Cloud Functions memory sizes, MiB: one set of functions per size"},
	{KeyGCPTimeout, "integer", ModeServerless, strconv.Itoa(study.GCFTimeoutSeconds), "Cloud Functions timeout, seconds"},
	{KeyGCPMaxInstances, "integer", ModeServerless, strconv.Itoa(study.GCFMaxInstances), "Cloud Functions max instances per function"},
	{KeyGCPPublic, "boolean", ModeServerless, strconv.FormatBool(study.GCFPublic), "anyone may invoke the Cloud Functions"},
	{KeyGCPInvokers, "array", ModeServerless, "[]", `IAM members allowed to invoke ("user:me@example.com")`},
	{KeyGCPInputBucket, "string", ModeServerless, "generated", "exact GCS input bucket name"},
	{KeyGCPOutputBucket, "string", ModeServerless, "generated", "exact GCS output bucket name"},
	{KeyONNXRuntimeLib, "string", ModeServerless, "$SERVEBENCH_ONNXRUNTIME_LIB, else ~/.cache/servebench/onnxruntime-1.30.0/libonnxruntime.so.1",
		"linux/x64 libonnxruntime.so.1 the Cloud Functions source archive carries (scripts/setup-onnxruntime fetches it); read only with gcp:project"},
	{KeyTurboJPEGLib, "string", ModeServerless, "$SERVEBENCH_TURBOJPEG_LIB, else ~/.cache/servebench/turbojpeg-2.1.5/libturbojpeg.so.0",
		"linux/x64 libturbojpeg.so.0 the Cloud Functions source archive carries (scripts/setup-turbojpeg fetches it); read only with gcp:project"},
}

// Every taggable AWS resource of a stack carries the stack's tags: the aws
// provider adds them from aws:defaultTags in the committed stack files, so no
// component can forget them, and `servebench cloud`'s leftover check finds by
// them whatever a teardown left.
const (
	KeyAWSDefaultTags = "aws:defaultTags"
	TagStack          = "servebench:stack"
	TagProject        = "servebench:project"
)

// DefaultTags are the tags of a stack of project.
func DefaultTags(project, stack string) map[string]string {
	return map[string]string{TagStack: stack, TagProject: project}
}

// ReadKeys are the keys the program reads from a stack's configuration: the
// servebench: keys, then the provider keys it needs (the regions, gcp:project).
func ReadKeys() []string {
	return append(KeyNames(), KeyAWSRegion, KeyGCPProject, KeyGCPRegion)
}

// KeyNames returns the servebench: key names, sorted.
func KeyNames() []string {
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = k.Name
	}
	sort.Strings(names)
	return names
}
