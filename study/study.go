// Package study holds the numbers of the two studies servebench reproduces, in
// one place every consumer reads: the deployment they ran (the defaults of the
// Pulumi components in infra/*, of the stacks' configuration keys in
// stacks/stackconfig, and of the local stand-ins in bench/local), the load they
// sent (the scenarios' and the command line's defaults) and what they served.
// It imports nothing, so a command that only reads a stack file does not link the
// Pulumi SDKs, and any package may read it.
//
// The two studies (see DESIGN.md): the YOLO study (YOLOv7 detection, serverless
// vs serverful on AWS) and the Eigenfaces study (EigenfacesSVM on Google Cloud
// Functions).
package study

// Serverful: ECS on an Auto Scaling group of EC2 instances behind an ALB (YOLO
// study: t3a.xlarge, 1..5 instances, scale out at 70 % CPU, scale in after about
// a minute).
const (
	InstanceType            = "t3a.xlarge"
	MinInstances            = 1
	MaxInstances            = 5
	CPUTargetPercent        = 70.0 // target tracking on the service's average CPU
	ScaleInCooldownSeconds  = 60   // "scale in after about 1 min idle"
	ScaleOutCooldownSeconds = 60
	TaskCPU                 = 4096  // one task fills one t3a.xlarge: 1..5 tasks ⇒ 1..5 instances
	TaskMemoryMB            = 14336 // fits the ~15.4 GiB a t3a.xlarge registers with ECS
	ListenerPort            = 80
	IngressCIDR             = "0.0.0.0/0" // the study's endpoint was public
	VpcCIDR                 = "10.0.0.0/16"
)

// Serverless: Lambda from the container image behind an API Gateway HTTP API (YOLO
// study: 3000 MB, 30 s), and Google Cloud Functions, 2nd gen (Eigenfaces study:
// 1 GB and 2 GB, 540 s).
const (
	LambdaMemoryMB       = 3000
	LambdaTimeoutSeconds = 30
	ThrottleRate         = 50  // API Gateway stage: requests per second, steady (ours: bounds a public bill)
	ThrottleBurst        = 100 // requests
	// GCFMemoryMB is the size Cloud Functions deploys by default (the study's
	// smaller one; servebench:gcpMemoryMb lists more), and so the size an
	// unrecorded Cloud Function is priced at.
	GCFMemoryMB       = 1024
	GCFLargeMemoryMB  = 2048 // the study's other size
	GCFTimeoutSeconds = 540
	GCFMaxInstances   = 30 // the study's cold burst is 30 parallel calls
	// GCFPublic: the original study's functions were public HTTP triggers;
	// GCFMaxInstances bounds what a caller can run up.
	GCFPublic = true
)

// Both stacks.
const (
	LogRetentionDays = 7
	ImagesKept       = 5 // ECR lifecycle rule
)

// What the service serves: the YOLO study's model and the functions of both
// studies, as the scenarios and the results name them (the route without its
// leading "/").
const (
	ModelPath = "models/yolox_nano.onnx" // in a data directory and in the input bucket

	FunctionPredict       = "predict" // YOLO study: POST /predict
	FunctionFacesDownload = "faces/download_data"
	FunctionFacesTrain    = "faces/train"
	FunctionFacesUpload   = "faces/upload"
	FunctionFacesPredict  = "faces/predict"
	FacesFunctionsPrefix  = "faces/" // the Eigenfaces study's four functions
)

// Functions are the service's functions in the order their state needs: the data
// set before training, a model and an uploaded image before a face prediction. A
// new slice each call, so no caller can change another's.
func Functions() []string {
	return []string{FunctionPredict, FunctionFacesDownload, FunctionFacesTrain, FunctionFacesUpload, FunctionFacesPredict}
}

// The load the studies sent.
const (
	BatchSize = 9  // YOLO study: batches of 9–10 concurrent POST /predict, keep-alive off
	Batches   = 4  // YOLO study: 4 batches one after another
	Burst     = 30 // Eigenfaces study: a burst of 30 parallel calls, cold then warm
)

// What the serverful stack pays for beside its instances, as the report prices
// it (added by the cost model, bench/cost).
const (
	RootVolumeGiB = 30 // gp3: the ECS-optimized Amazon Linux 2023 AMI's root volume, which infra/ecs's launch template keeps
	ALBZones      = 2  // the stack's VPC has a public subnet in 2 zones (infra/network.DefaultZones): one ALB node and address each
)
