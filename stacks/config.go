package stacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/infra/ecs"
	"github.com/servebench/servebench/infra/gcpfunctions"
	"github.com/servebench/servebench/infra/image"
	"github.com/servebench/servebench/infra/lambda"
	"github.com/servebench/servebench/infra/network"
	"github.com/servebench/servebench/infra/storage"
)

// Configuration keys. The servebench: keys are the program's own; the provider
// keys are read because the service's environment needs the region.
const (
	KeyMode         = "servebench:mode"
	KeyAssetsDir    = "servebench:assetsDir"
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

	KeyAWSRegion  = "aws:region"
	KeyGCPProject = "gcp:project"
	KeyGCPRegion  = "gcp:region"
)

// Modes.
const (
	ModeServerful  = "serverful"
	ModeServerless = "serverless"
)

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
	{KeyInputBucket, "string", "", "generated", "exact S3 input bucket name"},
	{KeyOutputBucket, "string", "", "generated", "exact S3 output bucket name"},
	{KeyImageKeep, "integer", "", strconv.Itoa(image.DefaultKeepImages), "ECR lifecycle rule: images kept"},

	{KeyVpcID, "string", ModeServerful, "new VPC", "existing VPC to use (with subnetIds)"},
	{KeySubnetIDs, "array", ModeServerful, "new public subnets", "existing public subnets, at least two zones (with vpcId)"},
	{KeyVpcCIDR, "string", ModeServerful, network.DefaultCIDR, "CIDR block of the new VPC"},
	{KeyInstanceType, "string", ModeServerful, ecs.DefaultInstanceType, "EC2 instance type of the cluster"},
	{KeyMinSize, "integer", ModeServerful, strconv.Itoa(ecs.DefaultMinSize), "minimum instances and tasks"},
	{KeyMaxSize, "integer", ModeServerful, strconv.Itoa(ecs.DefaultMaxSize), "maximum instances and tasks"},
	{KeyCPUTarget, "integer", ModeServerful, fmt.Sprint(ecs.DefaultCPUTarget), "target tracking: service CPU percent"},
	{KeyScaleInCooldown, "integer", ModeServerful, strconv.Itoa(ecs.DefaultScaleInCooldown), "target tracking: scale-in cooldown, seconds"},
	{KeyScaleOutCooldown, "integer", ModeServerful, strconv.Itoa(ecs.DefaultScaleOutCooldown), "target tracking: scale-out cooldown, seconds"},
	{KeyTaskCPU, "integer", ModeServerful, strconv.Itoa(ecs.DefaultTaskCPU), "task CPU units (4096 = one t3a.xlarge)"},
	{KeyTaskMemoryMB, "integer", ModeServerful, strconv.Itoa(ecs.DefaultTaskMemoryMB), "task memory, MiB"},
	{KeyListenerPort, "integer", ModeServerful, strconv.Itoa(ecs.DefaultListenerPort), "load balancer listener port (HTTP)"},
	{KeyIngressCIDRs, "array", ModeServerful, `["` + ecs.DefaultIngressCIDR + `"]`, "CIDRs allowed to reach the listener"},
	{KeyLogRetentionDays, "integer", "", strconv.Itoa(ecs.DefaultLogRetentionDays), "CloudWatch log retention, days"},

	{KeyLambdaMemoryMB, "integer", ModeServerless, strconv.Itoa(lambda.DefaultMemoryMB), "Lambda memory, MB"},
	{KeyLambdaTimeout, "integer", ModeServerless, strconv.Itoa(lambda.DefaultTimeoutSeconds), "Lambda timeout, seconds (4 to 30: API Gateway's limit; the service's own deadline is 3 s less)"},
	{KeyLambdaReservedConcurrency, "integer", ModeServerless, "unset", "Lambda reserved concurrency"},
	{KeyThrottleRate, "integer", ModeServerless, strconv.Itoa(lambda.DefaultThrottleRate), "API Gateway stage: steady requests per second"},
	{KeyThrottleBurst, "integer", ModeServerless, strconv.Itoa(lambda.DefaultThrottleBurst), "API Gateway stage: burst requests"},
	{KeyGCPMemoriesMB, "array", ModeServerless, fmt.Sprintf("[%d]", gcpfunctions.DefaultMemoryMB), "Cloud Functions memory sizes, MiB: one set of functions per size"},
	{KeyGCPTimeout, "integer", ModeServerless, strconv.Itoa(gcpfunctions.DefaultTimeoutSeconds), "Cloud Functions timeout, seconds"},
	{KeyGCPMaxInstances, "integer", ModeServerless, strconv.Itoa(gcpfunctions.DefaultMaxInstances), "Cloud Functions max instances per function"},
	{KeyGCPPublic, "boolean", ModeServerless, strconv.FormatBool(gcpfunctions.DefaultPublic), "anyone may invoke the Cloud Functions"},
	{KeyGCPInvokers, "array", ModeServerless, "[]", `IAM members allowed to invoke ("user:me@example.com")`},
	{KeyGCPInputBucket, "string", ModeServerless, "generated", "exact GCS input bucket name"},
	{KeyGCPOutputBucket, "string", ModeServerless, "generated", "exact GCS output bucket name"},
}

// Config is a stack's validated configuration.
type Config struct {
	Mode      string
	AssetsDir string
	Objects   []storage.Object // checked to exist
	SourceDir string           // the service module
	AWSRegion string

	InputBucket, OutputBucket string
	ImageKeep                 int
	LogRetentionDays          int

	Serverful  ServerfulConfig
	Serverless ServerlessConfig
}

// ServerfulConfig is the ECS deployment's configuration.
type ServerfulConfig struct {
	VpcID            string
	SubnetIDs        []string
	VpcCIDR          string
	InstanceType     string
	MinSize, MaxSize int
	CPUTarget        float64
	ScaleInCooldown  int
	ScaleOutCooldown int
	TaskCPU          int
	TaskMemoryMB     int
	ListenerPort     int
	IngressCIDRs     []string
}

// ServerlessConfig is the Lambda and Cloud Functions deployment's configuration.
type ServerlessConfig struct {
	LambdaMemoryMB      int
	LambdaTimeout       int
	ReservedConcurrency *int
	ThrottleRate        int
	ThrottleBurst       int

	GCPProject                      string // empty: no Cloud Functions
	GCPRegion                       string
	GCPMemoriesMB                   []int
	GCPTimeout                      int
	GCPMaxInstances                 int
	GCPPublic                       bool
	GCPInvokers                     []string
	GCPInputBucket, GCPOutputBucket string
}

// Load reads and validates the stack's configuration. Every bad value is reported,
// each naming its key, before any resource exists.
func Load(ctx *pulumi.Context) (*Config, error) {
	r := &reader{get: ctx.GetConfig}
	c := &Config{}

	modes := slices.Sorted(maps.Keys(Programs))
	c.Mode = r.str(KeyMode, "")
	switch {
	case c.Mode == "":
		r.fail(KeyMode, "", "not set; valid modes: "+strings.Join(modes, ", "))
		return nil, r.err()
	case Programs[c.Mode] == nil:
		r.fail(KeyMode, c.Mode, "unknown mode; valid modes: "+strings.Join(modes, ", "))
		return nil, r.err()
	}
	for _, key := range unknownKeys(os.Getenv(pulumi.EnvConfig)) {
		r.fail(key, "", "unknown key (a typo?); known keys: "+strings.Join(KeyNames(), ", "))
	}
	for _, k := range Keys {
		if _, set := ctx.GetConfig(k.Name); set && k.Mode != "" && k.Mode != c.Mode {
			r.fail(k.Name, "", fmt.Sprintf("applies to mode %s, not %s", k.Mode, c.Mode))
		}
	}

	c.AWSRegion = r.str(KeyAWSRegion, "")
	if c.AWSRegion == "" {
		r.fail(KeyAWSRegion, "", "not set; the service's bucket URLs need the region (e.g. us-east-1)")
	} else if !regionRE.MatchString(c.AWSRegion) {
		r.fail(KeyAWSRegion, c.AWSRegion, "not an AWS region name (e.g. us-east-1)")
	}
	root := projectRoot(ctx.RootDirectory())
	c.SourceDir = relative(filepath.Join(root, "service"))
	c.AssetsDir, c.Objects = r.assets(root)
	c.InputBucket = r.bucket(KeyInputBucket, s3NameRE, "an S3 bucket name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit")
	c.OutputBucket = r.bucket(KeyOutputBucket, s3NameRE, "an S3 bucket name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit")
	if c.InputBucket != "" && c.InputBucket == c.OutputBucket {
		r.fail(KeyOutputBucket, c.OutputBucket, "same as "+KeyInputBucket+"; the buckets must differ")
	}
	c.ImageKeep = r.integer(KeyImageKeep, image.DefaultKeepImages, 1, 1000)
	c.LogRetentionDays = r.integer(KeyLogRetentionDays, ecs.DefaultLogRetentionDays, 1, 3653)
	if !slices.Contains(logRetentions, c.LogRetentionDays) {
		r.fail(KeyLogRetentionDays, strconv.Itoa(c.LogRetentionDays), fmt.Sprintf("CloudWatch keeps logs for one of %v days", logRetentions))
	}

	switch c.Mode {
	case ModeServerful:
		c.Serverful = r.serverful()
	case ModeServerless:
		c.Serverless = r.serverless()
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (r *reader) serverful() ServerfulConfig {
	s := ServerfulConfig{
		VpcID:            r.str(KeyVpcID, ""),
		SubnetIDs:        r.strs(KeySubnetIDs, nil),
		VpcCIDR:          r.str(KeyVpcCIDR, network.DefaultCIDR),
		InstanceType:     r.str(KeyInstanceType, ecs.DefaultInstanceType),
		MinSize:          r.integer(KeyMinSize, ecs.DefaultMinSize, 1, 100),
		MaxSize:          r.integer(KeyMaxSize, ecs.DefaultMaxSize, 1, 100),
		CPUTarget:        float64(r.integer(KeyCPUTarget, int(ecs.DefaultCPUTarget), 1, 100)),
		ScaleInCooldown:  r.integer(KeyScaleInCooldown, ecs.DefaultScaleInCooldown, 0, 3600),
		ScaleOutCooldown: r.integer(KeyScaleOutCooldown, ecs.DefaultScaleOutCooldown, 0, 3600),
		TaskCPU:          r.integer(KeyTaskCPU, ecs.DefaultTaskCPU, 128, 196608),
		TaskMemoryMB:     r.integer(KeyTaskMemoryMB, ecs.DefaultTaskMemoryMB, 128, 1048576),
		ListenerPort:     r.integer(KeyListenerPort, ecs.DefaultListenerPort, 1, 65535),
		IngressCIDRs:     r.strs(KeyIngressCIDRs, []string{ecs.DefaultIngressCIDR}),
	}
	if s.MaxSize < s.MinSize {
		r.fail(KeyMaxSize, strconv.Itoa(s.MaxSize), fmt.Sprintf("below %s (%d)", KeyMinSize, s.MinSize))
	}
	switch {
	case s.VpcID != "" && len(s.SubnetIDs) == 0:
		r.fail(KeySubnetIDs, "", "not set; "+KeyVpcID+" needs its public subnets")
	case s.VpcID == "" && len(s.SubnetIDs) > 0:
		r.fail(KeyVpcID, "", "not set; "+KeySubnetIDs+" needs the VPC they belong to")
	}
	if s.VpcID != "" && !vpcRE.MatchString(s.VpcID) {
		r.fail(KeyVpcID, s.VpcID, "not a VPC id (vpc-0123abcd)")
	}
	if len(s.SubnetIDs) == 1 {
		r.fail(KeySubnetIDs, strings.Join(s.SubnetIDs, ","), "an ALB needs subnets in at least two zones")
	}
	for _, id := range s.SubnetIDs {
		if !subnetRE.MatchString(id) {
			r.fail(KeySubnetIDs, id, "not a subnet id (subnet-0123abcd)")
		}
	}
	if _, err := network.SubnetCIDRs(s.VpcCIDR, network.DefaultZones); err != nil {
		r.fail(KeyVpcCIDR, s.VpcCIDR, "want an IPv4 block from /16 to /27 with room for two subnets")
	}
	if !instanceRE.MatchString(s.InstanceType) {
		r.fail(KeyInstanceType, s.InstanceType, "not an EC2 instance type (family.size, e.g. t3a.xlarge)")
	}
	if len(s.IngressCIDRs) == 0 {
		r.fail(KeyIngressCIDRs, "[]", "empty: nobody could reach the load balancer")
	}
	for _, cidr := range s.IngressCIDRs {
		if p, err := netip.ParsePrefix(cidr); err != nil || p.Masked() != p {
			r.fail(KeyIngressCIDRs, cidr, "not a CIDR block (e.g. 203.0.113.0/24)")
		}
	}
	return s
}

func (r *reader) serverless() ServerlessConfig {
	s := ServerlessConfig{
		LambdaMemoryMB:  r.integer(KeyLambdaMemoryMB, lambda.DefaultMemoryMB, 128, 10240),
		LambdaTimeout:   r.integer(KeyLambdaTimeout, lambda.DefaultTimeoutSeconds, lambda.MinTimeoutSeconds, 900),
		ThrottleRate:    r.integer(KeyThrottleRate, lambda.DefaultThrottleRate, 1, 10000),
		ThrottleBurst:   r.integer(KeyThrottleBurst, lambda.DefaultThrottleBurst, 1, 5000),
		GCPProject:      r.str(KeyGCPProject, ""),
		GCPRegion:       r.str(KeyGCPRegion, gcpfunctions.DefaultRegion),
		GCPMemoriesMB:   r.ints(KeyGCPMemoriesMB, []int{gcpfunctions.DefaultMemoryMB}),
		GCPTimeout:      r.integer(KeyGCPTimeout, gcpfunctions.DefaultTimeoutSeconds, 1, 3600),
		GCPMaxInstances: r.integer(KeyGCPMaxInstances, gcpfunctions.DefaultMaxInstances, 1, 1000),
		GCPPublic:       r.boolean(KeyGCPPublic, gcpfunctions.DefaultPublic),
		GCPInvokers:     r.strs(KeyGCPInvokers, nil),
	}
	if s.LambdaTimeout > lambda.MaxIntegrationTimeoutSeconds {
		r.fail(KeyLambdaTimeout, strconv.Itoa(s.LambdaTimeout), fmt.Sprintf("above the %d s an API Gateway HTTP API waits for Lambda", lambda.MaxIntegrationTimeoutSeconds))
	}
	if _, set := r.get(KeyLambdaReservedConcurrency); set {
		n := r.integer(KeyLambdaReservedConcurrency, 0, 1, 1000000)
		s.ReservedConcurrency = &n
	}
	s.GCPInputBucket = r.bucket(KeyGCPInputBucket, gcsNameRE, "a GCS bucket name: 3-63 of a-z 0-9 - _, starting and ending with a letter or digit")
	s.GCPOutputBucket = r.bucket(KeyGCPOutputBucket, gcsNameRE, "a GCS bucket name: 3-63 of a-z 0-9 - _, starting and ending with a letter or digit")
	seen := map[int]bool{}
	for _, mb := range s.GCPMemoriesMB {
		if !slices.Contains(gcpMemories, mb) {
			r.fail(KeyGCPMemoriesMB, strconv.Itoa(mb), fmt.Sprintf("Cloud Functions offers %v MiB", gcpMemories))
		}
		if seen[mb] {
			r.fail(KeyGCPMemoriesMB, strconv.Itoa(mb), "listed twice")
		}
		seen[mb] = true
	}
	if len(s.GCPMemoriesMB) == 0 {
		r.fail(KeyGCPMemoriesMB, "[]", "empty; list at least one memory size")
	}
	for _, m := range s.GCPInvokers {
		if !invokerRE.MatchString(m) {
			r.fail(KeyGCPInvokers, m, "not an IAM member (user:, serviceAccount:, group: or domain: followed by a name)")
		}
	}
	if s.GCPProject != "" && !gcpProjectRE.MatchString(s.GCPProject) {
		r.fail(KeyGCPProject, s.GCPProject, "not a GCP project id (6-30 of a-z 0-9 -, starting with a letter)")
	}
	if !gcpRegionRE.MatchString(s.GCPRegion) {
		r.fail(KeyGCPRegion, s.GCPRegion, "not a GCP region name (e.g. us-central1)")
	}
	return s
}

var (
	regionRE     = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d$`)
	s3NameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	gcsNameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$`)
	vpcRE        = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	subnetRE     = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	instanceRE   = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	invokerRE    = regexp.MustCompile(`^(user|serviceAccount|group|domain):\S+$`)
	gcpProjectRE = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	gcpRegionRE  = regexp.MustCompile(`^[a-z]+-[a-z]+\d$`)
	// CloudWatch Logs accepts only these retentions.
	logRetentions = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
	// Cloud Functions (2nd gen) memory tiers, MiB.
	gcpMemories = []int{128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768}
)

// reader reads typed values, collecting one error per bad value.
type reader struct {
	get  func(key string) (string, bool)
	errs []error
}

func (r *reader) fail(key, value, why string) {
	if value == "" {
		r.errs = append(r.errs, fmt.Errorf("config %s: %s", key, why))
		return
	}
	r.errs = append(r.errs, fmt.Errorf("config %s = %q: %s", key, value, why))
}

func (r *reader) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid stack configuration:\n%w", errors.Join(r.errs...))
}

func (r *reader) str(key, def string) string {
	if v, ok := r.get(key); ok {
		return strings.TrimSpace(v)
	}
	return def
}

func (r *reader) integer(key string, def, lo, hi int) int {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, v, fmt.Sprintf("not an integer; want %d to %d", lo, hi))
		return def
	}
	if n < lo || n > hi {
		r.fail(key, v, fmt.Sprintf("out of range; want %d to %d", lo, hi))
	}
	return n
}

func (r *reader) boolean(key string, def bool) bool {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, v, "not a boolean; want true or false")
		return def
	}
	return b
}

// strs reads a list: Pulumi passes structured config as a JSON array.
func (r *reader) strs(key string, def []string) []string {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		r.fail(key, v, `not a list of strings; write it as a YAML list or ["a","b"]`)
		return def
	}
	return out
}

func (r *reader) ints(key string, def []int) []int {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	var out []int
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		r.fail(key, v, "not a list of integers; write it as a YAML list or [1024, 2048]")
		return def
	}
	return out
}

func (r *reader) bucket(key string, re *regexp.Regexp, what string) string {
	name := r.str(key, "")
	if name != "" && (!re.MatchString(name) || strings.Contains(name, "..")) {
		r.fail(key, name, "not "+what)
	}
	return name
}

// assets finds the assets directory (config, else $SERVEBENCH_DATA, else
// ../shared/data beside the project) and checks its contents.
func (r *reader) assets(root string) (string, []storage.Object) {
	dir, from := r.str(KeyAssetsDir, ""), KeyAssetsDir
	if dir == "" {
		dir, from = os.Getenv(EnvData), EnvData
	}
	if dir == "" {
		shared := filepath.Join(root, "..", "shared", "data")
		if _, err := os.Stat(shared); err != nil {
			r.fail(KeyAssetsDir, "", "not set, "+EnvData+" is not set and "+shared+" does not exist; point it at a directory with models/yolox_nano.onnx, images/*.jpg and faces/orl/")
			return "", nil
		}
		dir, from = shared, "../shared/data"
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	objs, err := storage.Objects(dir)
	if err != nil {
		r.fail(KeyAssetsDir, dir, fmt.Sprintf("(from %s) %v", from, err))
		return dir, nil
	}
	return dir, objs
}

// projectRoot is the directory holding Pulumi.yaml: the engine's root directory,
// else the nearest parent of the working directory that has one (tests run in
// stacks/), else the working directory.
func projectRoot(engineRoot string) string {
	if engineRoot != "" {
		return engineRoot
	}
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "Pulumi.yaml")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return wd
		}
	}
}

// relative makes a path relative to the working directory (the project root under
// the engine), so the build context in the state does not depend on where the
// checkout lives.
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil {
		return rel
	}
	return path
}

// unknownKeys returns the servebench: keys in the engine's configuration (the
// JSON object it passes in PULUMI_CONFIG) that the program does not read, sorted.
func unknownKeys(engineConfig string) []string {
	var all map[string]any
	if engineConfig == "" || json.Unmarshal([]byte(engineConfig), &all) != nil {
		return nil
	}
	var unknown []string
	for key := range all {
		if strings.HasPrefix(key, "servebench:") && !slices.Contains(KeyNames(), key) {
			unknown = append(unknown, key)
		}
	}
	sort.Strings(unknown)
	return unknown
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
