// Package study holds the deployment the original studies ran, as servebench
// reproduces it: the defaults of the Pulumi components (infra/*) and of the stacks'
// configuration keys (stacks/stackconfig). It imports nothing, so a command that
// only reads a stack file does not link the Pulumi SDKs.
package study

// Serverful: ECS on an Auto Scaling group of EC2 instances behind an ALB.
const (
	InstanceType            = "t3a.xlarge"
	MinInstances            = 1
	MaxInstances            = 5
	CPUTargetPercent        = 70.0
	ScaleInCooldownSeconds  = 60
	ScaleOutCooldownSeconds = 60
	TaskCPU                 = 4096  // one task fills one t3a.xlarge: 1..5 tasks ⇒ 1..5 instances
	TaskMemoryMB            = 14336 // fits the ~15.4 GiB a t3a.xlarge registers with ECS
	ListenerPort            = 80
	IngressCIDR             = "0.0.0.0/0" // the study's endpoint was public
	VpcCIDR                 = "10.0.0.0/16"
)

// Serverless: Lambda from the container image behind an API Gateway HTTP API, and
// Google Cloud Functions (2nd gen).
const (
	LambdaMemoryMB       = 3000
	LambdaTimeoutSeconds = 30
	ThrottleRate         = 50  // API Gateway stage: requests per second, steady
	ThrottleBurst        = 100 // requests
	GCFMemoryMB          = 1024
	GCFTimeoutSeconds    = 540
	GCFMaxInstances      = 30 // the study's cold burst is 30 parallel calls
	// GCFPublic: the original study's functions were public HTTP triggers;
	// GCFMaxInstances bounds what a caller can run up.
	GCFPublic = true
)

// Both stacks.
const (
	LogRetentionDays = 7
	ImagesKept       = 5 // ECR lifecycle rule
)
