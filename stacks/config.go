package stacks

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/assets"
	"github.com/servebench/servebench/infra/gcpfunctions"
	"github.com/servebench/servebench/infra/lambda"
	"github.com/servebench/servebench/infra/network"
	"github.com/servebench/servebench/infra/serviceenv"
	"github.com/servebench/servebench/infra/storage"
	"github.com/servebench/servebench/stacks/stackconfig"
	"github.com/servebench/servebench/study"
)

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

	// FacesSource is the face-set URL the faces functions fetch themselves
	// (servebench:facesSource); "" = the uploaded faces/orl.zip.
	FacesSource string

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
	// GCPLibraries are the native libraries the functions' source archive carries
	// (checked to be linux/x64 shared objects); empty without GCPProject.
	GCPLibraries []gcpfunctions.Library
}

// Load reads and validates the stack's configuration. Every bad value is reported,
// each naming its key, before any resource exists.
func Load(ctx *pulumi.Context) (*Config, error) {
	r := &reader{get: ctx.GetConfig}
	c := &Config{}

	modes := slices.Sorted(maps.Keys(Programs))
	c.Mode = r.str(stackconfig.KeyMode, "")
	switch {
	case c.Mode == "":
		r.fail(stackconfig.KeyMode, "", "not set; valid modes: "+strings.Join(modes, ", "))
		return nil, r.err()
	case Programs[c.Mode] == nil:
		r.fail(stackconfig.KeyMode, c.Mode, "unknown mode; valid modes: "+strings.Join(modes, ", "))
		return nil, r.err()
	}
	for _, key := range unknownKeys(os.Getenv(pulumi.EnvConfig)) {
		r.fail(key, "", "unknown key (a typo?); known keys: "+strings.Join(stackconfig.KeyNames(), ", "))
	}
	for _, k := range stackconfig.Keys {
		if _, set := ctx.GetConfig(k.Name); set && k.Mode != "" && k.Mode != c.Mode {
			r.fail(k.Name, "", fmt.Sprintf("applies to mode %s, not %s", k.Mode, c.Mode))
		}
	}

	c.AWSRegion = r.str(stackconfig.KeyAWSRegion, "")
	if c.AWSRegion == "" {
		r.fail(stackconfig.KeyAWSRegion, "", "not set; the service's bucket URLs need the region (e.g. us-east-1)")
	} else if !regionRE.MatchString(c.AWSRegion) {
		r.fail(stackconfig.KeyAWSRegion, c.AWSRegion, "not an AWS region name (e.g. us-east-1)")
	}
	root := projectRoot(ctx.RootDirectory())
	c.SourceDir = relative(filepath.Join(root, "service"))
	c.FacesSource = r.facesSource()
	c.AssetsDir, c.Objects = r.assets(root, c.FacesSource == "")
	c.InputBucket = r.bucket(stackconfig.KeyInputBucket, s3NameRE, "an S3 bucket name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit")
	c.OutputBucket = r.bucket(stackconfig.KeyOutputBucket, s3NameRE, "an S3 bucket name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit")
	if c.InputBucket != "" && c.InputBucket == c.OutputBucket {
		r.fail(stackconfig.KeyOutputBucket, c.OutputBucket, "same as "+stackconfig.KeyInputBucket+"; the buckets must differ")
	}
	c.ImageKeep = r.integer(stackconfig.KeyImageKeep, study.ImagesKept, 1, 1000)
	c.LogRetentionDays = r.integer(stackconfig.KeyLogRetentionDays, study.LogRetentionDays, 1, 3653)
	if !slices.Contains(logRetentions, c.LogRetentionDays) {
		r.fail(stackconfig.KeyLogRetentionDays, strconv.Itoa(c.LogRetentionDays), fmt.Sprintf("CloudWatch keeps logs for one of %v days", logRetentions))
	}

	switch c.Mode {
	case stackconfig.ModeServerful:
		c.Serverful = r.serverful()
	case stackconfig.ModeServerless:
		c.Serverless = r.serverless(root)
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (r *reader) serverful() ServerfulConfig {
	s := ServerfulConfig{
		VpcID:            r.str(stackconfig.KeyVpcID, ""),
		SubnetIDs:        r.strs(stackconfig.KeySubnetIDs, nil),
		VpcCIDR:          r.str(stackconfig.KeyVpcCIDR, study.VpcCIDR),
		InstanceType:     r.str(stackconfig.KeyInstanceType, study.InstanceType),
		MinSize:          r.integer(stackconfig.KeyMinSize, study.MinInstances, 1, 100),
		MaxSize:          r.integer(stackconfig.KeyMaxSize, study.MaxInstances, 1, 100),
		CPUTarget:        float64(r.integer(stackconfig.KeyCPUTarget, int(study.CPUTargetPercent), 1, 100)),
		ScaleInCooldown:  r.integer(stackconfig.KeyScaleInCooldown, study.ScaleInCooldownSeconds, 0, 3600),
		ScaleOutCooldown: r.integer(stackconfig.KeyScaleOutCooldown, study.ScaleOutCooldownSeconds, 0, 3600),
		TaskCPU:          r.integer(stackconfig.KeyTaskCPU, study.TaskCPU, 128, 196608),
		TaskMemoryMB:     r.integer(stackconfig.KeyTaskMemoryMB, study.TaskMemoryMB, 128, 1048576),
		ListenerPort:     r.integer(stackconfig.KeyListenerPort, study.ListenerPort, 1, 65535),
		IngressCIDRs:     r.strs(stackconfig.KeyIngressCIDRs, []string{study.IngressCIDR}),
	}
	if s.MaxSize < s.MinSize {
		r.fail(stackconfig.KeyMaxSize, strconv.Itoa(s.MaxSize), fmt.Sprintf("below %s (%d)", stackconfig.KeyMinSize, s.MinSize))
	}
	switch {
	case s.VpcID != "" && len(s.SubnetIDs) == 0:
		r.fail(stackconfig.KeySubnetIDs, "", "not set; "+stackconfig.KeyVpcID+" needs its public subnets")
	case s.VpcID == "" && len(s.SubnetIDs) > 0:
		r.fail(stackconfig.KeyVpcID, "", "not set; "+stackconfig.KeySubnetIDs+" needs the VPC they belong to")
	}
	if s.VpcID != "" && !vpcRE.MatchString(s.VpcID) {
		r.fail(stackconfig.KeyVpcID, s.VpcID, "not a VPC id (vpc-0123abcd)")
	}
	if len(s.SubnetIDs) == 1 {
		r.failValue(stackconfig.KeySubnetIDs, strings.Join(s.SubnetIDs, ","), "an ALB needs subnets in at least two zones")
	}
	for _, id := range s.SubnetIDs {
		if !subnetRE.MatchString(id) {
			r.failValue(stackconfig.KeySubnetIDs, id, "not a subnet id (subnet-0123abcd)")
		}
	}
	if _, err := network.SubnetCIDRs(s.VpcCIDR, network.DefaultZones); err != nil {
		r.fail(stackconfig.KeyVpcCIDR, s.VpcCIDR, "want an IPv4 block from /16 to /27 with room for two subnets")
	}
	if !instanceRE.MatchString(s.InstanceType) {
		r.fail(stackconfig.KeyInstanceType, s.InstanceType, "not an EC2 instance type (family.size, e.g. t3a.xlarge)")
	}
	if len(s.IngressCIDRs) == 0 {
		r.fail(stackconfig.KeyIngressCIDRs, "[]", "empty: nobody could reach the load balancer")
	}
	for _, cidr := range s.IngressCIDRs {
		if p, err := netip.ParsePrefix(cidr); err != nil || p.Masked() != p {
			r.failValue(stackconfig.KeyIngressCIDRs, cidr, "not a CIDR block (e.g. 203.0.113.0/24)")
		}
	}
	return s
}

func (r *reader) serverless(root string) ServerlessConfig {
	s := ServerlessConfig{
		LambdaMemoryMB:  r.integer(stackconfig.KeyLambdaMemoryMB, study.LambdaMemoryMB, 128, 10240),
		LambdaTimeout:   r.integer(stackconfig.KeyLambdaTimeout, study.LambdaTimeoutSeconds, lambda.MinTimeoutSeconds, 900),
		ThrottleRate:    r.integer(stackconfig.KeyThrottleRate, study.ThrottleRate, 1, 10000),
		ThrottleBurst:   r.integer(stackconfig.KeyThrottleBurst, study.ThrottleBurst, 1, 5000),
		GCPProject:      r.str(stackconfig.KeyGCPProject, ""),
		GCPRegion:       r.str(stackconfig.KeyGCPRegion, gcpfunctions.DefaultRegion),
		GCPMemoriesMB:   r.ints(stackconfig.KeyGCPMemoriesMB, []int{study.GCFMemoryMB}),
		GCPTimeout:      r.integer(stackconfig.KeyGCPTimeout, study.GCFTimeoutSeconds, 1, 3600),
		GCPMaxInstances: r.integer(stackconfig.KeyGCPMaxInstances, study.GCFMaxInstances, 1, 1000),
		GCPPublic:       r.boolean(stackconfig.KeyGCPPublic, study.GCFPublic),
		GCPInvokers:     r.strs(stackconfig.KeyGCPInvokers, nil),
	}
	if s.LambdaTimeout > lambda.MaxIntegrationTimeoutSeconds {
		r.fail(stackconfig.KeyLambdaTimeout, strconv.Itoa(s.LambdaTimeout), fmt.Sprintf("above the %d s an API Gateway HTTP API waits for Lambda", lambda.MaxIntegrationTimeoutSeconds))
	}
	if _, set := r.get(stackconfig.KeyLambdaReservedConcurrency); set {
		n := r.integer(stackconfig.KeyLambdaReservedConcurrency, 0, 1, 1000000)
		s.ReservedConcurrency = &n
	}
	s.GCPInputBucket = r.bucket(stackconfig.KeyGCPInputBucket, gcsNameRE, "a GCS bucket name: 3-63 of a-z 0-9 - _, starting and ending with a letter or digit")
	s.GCPOutputBucket = r.bucket(stackconfig.KeyGCPOutputBucket, gcsNameRE, "a GCS bucket name: 3-63 of a-z 0-9 - _, starting and ending with a letter or digit")
	seen := map[int]bool{}
	for _, mb := range s.GCPMemoriesMB {
		if !slices.Contains(gcpMemories, mb) {
			r.fail(stackconfig.KeyGCPMemoriesMB, strconv.Itoa(mb), fmt.Sprintf("Cloud Functions offers %v MiB", gcpMemories))
		}
		if seen[mb] {
			r.fail(stackconfig.KeyGCPMemoriesMB, strconv.Itoa(mb), "listed twice")
		}
		seen[mb] = true
	}
	if len(s.GCPMemoriesMB) == 0 {
		given, _ := r.get(stackconfig.KeyGCPMemoriesMB) // as written ("[ ]", "null")
		r.failValue(stackconfig.KeyGCPMemoriesMB, given, "empty; list at least one memory size")
	}
	for _, m := range s.GCPInvokers {
		if !invokerRE.MatchString(m) {
			r.failValue(stackconfig.KeyGCPInvokers, m, "not an IAM member (user:, serviceAccount:, group: or domain: followed by a name)")
		}
	}
	if s.GCPProject != "" && !gcpProjectRE.MatchString(s.GCPProject) {
		r.fail(stackconfig.KeyGCPProject, s.GCPProject, "not a GCP project id (6-30 of a-z 0-9 -, starting with a letter)")
	}
	if s.GCPProject != "" {
		for _, l := range []struct {
			key string
			lib serviceenv.NativeLib
		}{{stackconfig.KeyONNXRuntimeLib, serviceenv.ONNXRuntimeLib}, {stackconfig.KeyTurboJPEGLib, serviceenv.TurboJPEGLib}} {
			if path := r.nativeLib(l.key, l.lib, root); path != "" {
				s.GCPLibraries = append(s.GCPLibraries, gcpfunctions.Library{NativeLib: l.lib, Path: path})
			}
		}
	}
	if !gcpRegionRE.MatchString(s.GCPRegion) {
		r.fail(stackconfig.KeyGCPRegion, s.GCPRegion, "not a GCP region name (e.g. us-central1)")
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
	// oneLine escapes line breaks, so that each error stays one line.
	oneLine = strings.NewReplacer("\r", `\r`, "\n", `\n`)
)

// reader reads typed values, collecting one error per bad value.
type reader struct {
	get  func(key string) (string, bool)
	errs []error
}

// fail records a bad value of key; "" for one not set, or refused whatever it is.
func (r *reader) fail(key, value, why string) {
	if value == "" {
		// A path or an error quoted in why may hold a line break from the
		// value: escaped, so that every line of the report names its key.
		r.errs = append(r.errs, fmt.Errorf("config %s: %s", key, oneLine.Replace(why)))
		return
	}
	r.failValue(key, value, why)
}

// failValue is fail for a value named even when it is empty: an element of a
// list (`[""]`) is set, and the message must say which.
func (r *reader) failValue(key, value, why string) {
	r.errs = append(r.errs, fmt.Errorf("config %s = %q: %s", key, value, oneLine.Replace(why)))
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
func (r *reader) assets(root string, faces bool) (string, []storage.Object) {
	dir, from := r.str(stackconfig.KeyAssetsDir, ""), stackconfig.KeyAssetsDir
	if dir == "" {
		dir, from = os.Getenv(stackconfig.EnvData), stackconfig.EnvData
	}
	if dir == "" {
		shared := filepath.Join(root, "..", "shared", "data")
		if _, err := os.Stat(shared); err != nil {
			r.fail(stackconfig.KeyAssetsDir, "", "not set, "+stackconfig.EnvData+" is not set and "+shared+" does not exist; point it at a directory with "+study.ModelPath+", images/*.jpg and faces/orl/")
			return "", nil
		}
		dir, from = shared, "../shared/data"
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	objs, err := storage.Objects(dir, faces)
	if err != nil {
		r.fail(stackconfig.KeyAssetsDir, dir, fmt.Sprintf("(from %s) %v", from, err))
		return dir, nil
	}
	return dir, objs
}

// facesSource reads servebench:facesSource: a face-set archive URL the deployed
// faces functions fetch themselves, or "" to upload the assets directory's copy.
func (r *reader) facesSource() string {
	v := r.str(stackconfig.KeyFacesSource, "")
	if v == "" {
		return ""
	}
	if u, err := url.Parse(v); err != nil || u.Host == "" || !slices.Contains([]string{"https", "http", "s3", "gs"}, u.Scheme) {
		r.fail(stackconfig.KeyFacesSource, v, "not a face-set archive URL the functions can fetch: want https://, http://, s3:// or gs:// with a host (e.g. "+assets.ORLArchiveURL+")")
		return ""
	}
	return v
}

// nativeLib finds the deployer's copy of a library the Cloud Functions source
// archive carries (config, else the library's variable, else the setup script's
// cache) and checks it is what Cloud Functions can load: a linux/x64 shared object.
// It returns "" after a failure.
func (r *reader) nativeLib(key string, lib serviceenv.NativeLib, root string) string {
	path, from := r.str(key, ""), key
	if path == "" {
		path, from = os.Getenv(lib.Env), lib.Env
	}
	if path == "" {
		path, from = lib.CachePath(), lib.Setup+"'s cache ("+lib.Env+" unset)"
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	fetch := fmt.Sprintf("%s fetches a linux/x64 %s and prints its path; set %s or %s to it", lib.Setup, lib.Name, key, lib.Env)
	if _, err := os.Stat(path); err != nil {
		r.fail(key, path, fmt.Sprintf("(from %s) %v; %s", from, err, fetch))
		return ""
	}
	f, err := elf.Open(path)
	if err != nil {
		r.fail(key, path, fmt.Sprintf("(from %s) not an ELF x86-64 shared object (%v); %s", from, err, fetch))
		return ""
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_DYN {
		r.fail(key, path, fmt.Sprintf("(from %s) not an ELF x86-64 shared object but %v %v %v: Cloud Functions runs linux/x64; %s", from, f.Class, f.Machine, f.Type, fetch))
		return ""
	}
	return path
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
		if strings.HasPrefix(key, "servebench:") && !slices.Contains(stackconfig.KeyNames(), key) {
			unknown = append(unknown, key)
		}
	}
	sort.Strings(unknown)
	return unknown
}
