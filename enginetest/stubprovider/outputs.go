package stubprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Account is the AWS account id in every ARN, repository URL and identity.
const Account = "123456789012"

// AMI is the image id the SSM parameter answers.
const AMI = "ami-0abcdef1234567890"

// ECRPassword is the registry password the ECR authorization token carries.
const ECRPassword = "stub-ecr-password"

// out is one resource being created or updated: its inputs, the outputs being
// built from them, and its id.
type out struct {
	p    *Provider
	urn  resource.URN
	in   resource.PropertyMap
	out  resource.PropertyMap
	id   string
	seed string // what the made-up values derive from: the URN, stable across runs
}

func (o *out) set(k string, v any) { o.out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }

func (o *out) str(k string) string { return str(o.in, k) }

// hex returns n hex digits derived from the URN and a salt.
func (o *out) hex(salt string, n int) string {
	sum := sha256.Sum256([]byte(o.seed + "\x00" + salt))
	return hex.EncodeToString(sum[:])[:n]
}

// digits returns n decimal digits derived from the URN and a salt.
func (o *out) digits(salt string, n int) string {
	sum := sha256.Sum256([]byte(o.seed + "\x00" + salt))
	s := new(big.Int).SetBytes(sum[:]).String()
	return s[len(s)-n:]
}

func (o *out) arn(service, rest string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, o.p.region, Account, rest)
}

// str reads a string property, looking through secrets; "" if it is not a known string.
func str(m resource.PropertyMap, k string) string {
	v, ok := m[resource.PropertyKey(k)]
	if !ok {
		return ""
	}
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// outputs is what Create and Update answer: the inputs plus the computed outputs
// of the type, with the id kept on update.
func (p *Provider) outputs(urn resource.URN, id string, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	o := &out{p: p, urn: urn, in: in, out: in.Copy(), seed: string(urn)}
	typ := string(urn.Type())
	if f, ok := computed[typ]; ok {
		if err := f(o); err != nil {
			return "", nil, fmt.Errorf("%s %s: %w", typ, urn.Name(), err)
		}
	}
	if o.id == "" {
		switch prefix, ok := ec2Prefixes[typ]; {
		case ok:
			o.id = prefix + "-" + o.hex("id", 17)
		case o.str("name") != "":
			o.id = o.str("name")
		default:
			o.id = urn.Name() + "-" + o.hex("id", 7)
		}
	}
	if strings.HasPrefix(typ, "aws:") {
		if _, ok := o.out["arn"]; !ok {
			mod, name := typeParts(typ)
			o.set("arn", o.arn(mod, strings.ToLower(name)+"/"+o.id))
		}
	}
	if id != "" {
		o.id = id
	}
	return o.id, o.out, nil
}

// typeParts splits "aws:ecs/cluster:Cluster" into "ecs" and "Cluster".
func typeParts(typ string) (string, string) {
	parts := strings.Split(typ, ":")
	if len(parts) != 3 {
		return typ, typ
	}
	mod, _, _ := strings.Cut(parts[1], "/")
	return mod, parts[2]
}

// EC2 ids are a prefix and 17 hex digits.
var ec2Prefixes = map[string]string{
	"aws:ec2/vpc:Vpc":                                     "vpc",
	"aws:ec2/subnet:Subnet":                               "subnet",
	"aws:ec2/internetGateway:InternetGateway":             "igw",
	"aws:ec2/routeTable:RouteTable":                       "rtb",
	"aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
	"aws:ec2/securityGroup:SecurityGroup":                 "sg",
	"aws:ec2/launchTemplate:LaunchTemplate":               "lt",
}

// computed adds, by type token, the outputs a real provider computes and the
// program (or a test) reads.
var computed = map[string]func(o *out) error{
	"aws:s3/bucketV2:BucketV2": func(o *out) error {
		name := o.str("bucket")
		if name == "" { // AWS appends a 26-character unique suffix to the prefix
			name = o.str("bucketPrefix") + o.digits("bucket", 26)
		}
		o.id = name
		o.set("bucket", name)
		o.set("arn", "arn:aws:s3:::"+name)
		o.set("bucketDomainName", name+".s3.amazonaws.com")
		o.set("region", o.p.region)
		return nil
	},
	"aws:s3/bucketObjectv2:BucketObjectv2": func(o *out) error {
		o.id = o.str("key")
		o.set("etag", o.hex("etag", 32))
		o.set("arn", "arn:aws:s3:::"+o.str("bucket")+"/"+o.str("key"))
		return nil
	},
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": func(o *out) error {
		o.id = o.str("bucket")
		return nil
	},
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": func(o *out) error {
		o.id = o.str("bucket")
		return nil
	},
	"aws:ecr/repository:Repository": func(o *out) error {
		name := o.str("name")
		o.set("arn", o.arn("ecr", "repository/"+name))
		o.set("registryId", Account)
		o.set("repositoryUrl", fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", Account, o.p.region, name))
		return nil
	},
	"aws:ecr/lifecyclePolicy:LifecyclePolicy": func(o *out) error {
		o.id = o.str("repository")
		o.set("registryId", Account)
		return nil
	},
	"docker:index/image:Image": dockerImage,
	"aws:iam/role:Role": func(o *out) error {
		o.set("arn", "arn:aws:iam::"+Account+":role/"+o.str("name"))
		o.set("uniqueId", "AROA"+strings.ToUpper(o.hex("uid", 17)))
		return nil
	},
	"aws:iam/instanceProfile:InstanceProfile": func(o *out) error {
		o.set("arn", "arn:aws:iam::"+Account+":instance-profile/"+o.str("name"))
		return nil
	},
	"aws:iam/rolePolicy:RolePolicy": func(o *out) error {
		if o.str("name") == "" {
			o.set("name", o.urn.Name()+"-"+o.hex("name", 7))
		}
		o.id = o.str("role") + ":" + str(o.out, "name")
		return nil
	},
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": func(o *out) error {
		o.id = o.str("role") + "-" + o.hex("id", 26)
		return nil
	},
	"aws:lb/loadBalancer:LoadBalancer": func(o *out) error {
		name := o.str("name")
		o.id = o.arn("elasticloadbalancing", "loadbalancer/app/"+name+"/"+o.hex("lb", 16))
		o.set("arn", o.id)
		o.set("arnSuffix", "app/"+name+"/"+o.hex("lb", 16))
		o.set("dnsName", endpointOr(EndpointLB, fmt.Sprintf("%s-%s.%s.elb.amazonaws.com", name, o.digits("dns", 10), o.p.region)))
		o.set("zoneId", "Z35SXDOTRQ7X7K")
		return nil
	},
	"aws:lb/targetGroup:TargetGroup": func(o *out) error {
		o.id = o.arn("elasticloadbalancing", "targetgroup/"+o.str("name")+"/"+o.hex("tg", 16))
		o.set("arn", o.id)
		o.set("arnSuffix", "targetgroup/"+o.str("name")+"/"+o.hex("tg", 16))
		return nil
	},
	"aws:lb/listener:Listener": func(o *out) error {
		o.id = strings.Replace(o.str("loadBalancerArn"), ":loadbalancer/", ":listener/", 1) + "/" + o.hex("listener", 16)
		o.set("arn", o.id)
		return nil
	},
	"aws:autoscaling/group:Group": func(o *out) error {
		o.set("arn", o.arn("autoscaling", "autoScalingGroup:"+uuid(o)+":autoScalingGroupName/"+o.str("name")))
		return nil
	},
	"aws:ecs/cluster:Cluster": func(o *out) error {
		o.id = o.arn("ecs", "cluster/"+o.str("name"))
		o.set("arn", o.id)
		return nil
	},
	"aws:ecs/capacityProvider:CapacityProvider": func(o *out) error {
		o.id = o.arn("ecs", "capacity-provider/"+o.str("name"))
		o.set("arn", o.id)
		return nil
	},
	"aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": func(o *out) error {
		o.id = o.str("clusterName")
		return nil
	},
	"aws:ecs/taskDefinition:TaskDefinition": func(o *out) error {
		family := o.str("family")
		o.id = family
		o.set("arn", o.arn("ecs", "task-definition/"+family+":1"))
		o.set("arnWithoutRevision", o.arn("ecs", "task-definition/"+family))
		o.set("revision", 1.0)
		return nil
	},
	"aws:ecs/service:Service": func(o *out) error {
		cluster := o.str("cluster")
		cluster = cluster[strings.LastIndex(cluster, "/")+1:]
		o.id = o.arn("ecs", "service/"+cluster+"/"+o.str("name"))
		return nil
	},
	"aws:cloudwatch/logGroup:LogGroup": func(o *out) error {
		o.set("arn", o.arn("logs", "log-group:"+o.str("name")))
		return nil
	},
	"aws:lambda/function:Function": func(o *out) error {
		arn := o.arn("lambda", "function:"+o.str("name"))
		o.set("arn", arn)
		o.set("qualifiedArn", arn+":$LATEST")
		o.set("invokeArn", fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", o.p.region, arn))
		o.set("version", "$LATEST")
		return nil
	},
	"aws:lambda/permission:Permission": func(o *out) error {
		o.id = o.str("statementId")
		if o.id == "" {
			o.id = "terraform-" + o.digits("sid", 26)
			o.set("statementId", o.id)
		}
		return nil
	},
	"aws:apigatewayv2/api:Api": func(o *out) error {
		o.id = o.base36("api", 10)
		o.set("apiEndpoint", endpointOr(EndpointAPI, fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com", o.id, o.p.region)))
		o.set("executionArn", o.arn("execute-api", o.id))
		o.set("arn", fmt.Sprintf("arn:aws:apigateway:%s::/apis/%s", o.p.region, o.id))
		return nil
	},
	"aws:apigatewayv2/integration:Integration": func(o *out) error { o.id = o.base36("id", 7); return nil },
	"aws:apigatewayv2/route:Route":             func(o *out) error { o.id = o.base36("id", 7); return nil },
	"aws:apigatewayv2/stage:Stage": func(o *out) error {
		api := o.str("apiId")
		o.set("invokeUrl", fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com/", api, o.p.region))
		o.set("arn", fmt.Sprintf("arn:aws:apigateway:%s::/apis/%s/stages/%s", o.p.region, api, o.str("name")))
		return nil
	},
	"aws:appautoscaling/target:Target": func(o *out) error {
		o.id = o.str("resourceId")
		return nil
	},
	"aws:appautoscaling/policy:Policy": func(o *out) error {
		o.set("arn", o.arn("autoscaling", "scalingPolicy:"+uuid(o)+":resource/"+o.str("resourceId")+":policyName/"+o.str("name")))
		return nil
	},

	"gcp:storage/bucket:Bucket": func(o *out) error {
		name := o.str("name")
		if name == "" { // Pulumi's autonaming: the logical name and a random suffix
			name = o.urn.Name() + "-" + o.hex("name", 7)
		}
		o.id = name
		o.set("name", name)
		o.set("url", "gs://"+name)
		o.set("selfLink", "https://www.googleapis.com/storage/v1/b/"+name)
		return nil
	},
	"gcp:storage/bucketObject:BucketObject": func(o *out) error {
		o.id = o.str("bucket") + "-" + o.str("name")
		o.set("outputName", o.str("name"))
		o.set("md5hash", base64.StdEncoding.EncodeToString([]byte(o.hex("md5", 16))))
		o.set("mediaLink", "https://storage.googleapis.com/download/storage/v1/b/"+o.str("bucket")+"/o/"+o.str("name")+"?alt=media")
		return nil
	},
	"gcp:serviceaccount/account:Account": func(o *out) error {
		email := fmt.Sprintf("%s@%s.iam.gserviceaccount.com", o.str("accountId"), o.p.gcpProject(o.in))
		o.id = fmt.Sprintf("projects/%s/serviceAccounts/%s", o.p.gcpProject(o.in), email)
		o.set("email", email)
		o.set("name", o.id)
		o.set("member", "serviceAccount:"+email)
		o.set("uniqueId", o.digits("uid", 21))
		return nil
	},
	"gcp:storage/bucketIAMMember:BucketIAMMember": func(o *out) error {
		o.id = fmt.Sprintf("b/%s/%s/%s", o.str("bucket"), o.str("role"), o.str("member"))
		o.set("etag", "BwY"+o.hex("etag", 9))
		return nil
	},
	"gcp:cloudfunctionsv2/function:Function": gcpFunction,
	"gcp:cloudrunv2/serviceIamMember:ServiceIamMember": func(o *out) error {
		o.id = fmt.Sprintf("projects/%s/locations/%s/services/%s/%s/%s", o.p.gcpProject(o.in), o.str("location"), o.str("name"), o.str("role"), o.str("member"))
		o.set("etag", "BwY"+o.hex("etag", 9))
		return nil
	},
	// An IAM member's id is its resource's, then the role and the member (and
	// the condition's title), as the provider's iam_member resources set it.
	"gcp:serviceaccount/iAMMember:IAMMember": func(o *out) error {
		o.id = iamMemberID(o, o.str("serviceAccountId"))
		return nil
	},
	"gcp:projects/iAMMember:IAMMember": func(o *out) error {
		o.id = iamMemberID(o, o.p.gcpProject(o.in))
		return nil
	},
	"gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": func(o *out) error {
		o.id = iamMemberID(o, fmt.Sprintf("projects/%s/locations/%s/repositories/%s", o.p.gcpProject(o.in), o.str("location"), o.str("repository")))
		return nil
	},
	"gcp:projects/service:Service": func(o *out) error {
		o.id = o.p.gcpProject(o.in) + "/" + o.str("service")
		o.set("project", o.p.gcpProject(o.in))
		return nil
	},
	"gcp:artifactregistry/repository:Repository": func(o *out) error {
		project, loc, repo := o.p.gcpProject(o.in), o.str("location"), o.str("repositoryId")
		o.id = fmt.Sprintf("projects/%s/locations/%s/repositories/%s", project, loc, repo)
		o.set("name", repo) // the provider's name is the repository id alone
		o.set("project", project)
		o.set("mode", "STANDARD_REPOSITORY")
		o.set("createTime", "2026-11-23T00:00:00.000000Z")
		o.set("updateTime", "2026-11-23T00:00:00.000000Z")
		return nil
	},
}

// base36 returns n lower-case letters and digits, as API Gateway ids look.
func (o *out) base36(salt string, n int) string {
	sum := sha256.Sum256([]byte(o.seed + "\x00" + salt))
	return new(big.Int).SetBytes(sum[:]).Text(36)[:n]
}

func uuid(o *out) string {
	h := o.hex("uuid", 32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// dockerImage stands for a build and push: no image is built, but the build
// context must hold a Dockerfile with the requested target stage, as docker
// build would insist. The digest derives from the image name and target.
func dockerImage(o *out) error {
	build := resource.PropertyMap{}
	if v, ok := o.in["build"]; ok && v.IsObject() {
		build = v.ObjectValue()
	}
	context, target := str(build, "context"), str(build, "target")
	dockerfile := str(build, "dockerfile")
	if dockerfile == "" {
		dockerfile = filepath.Join(context, "Dockerfile")
	}
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		return fmt.Errorf("docker build (context %q): %w", context, err)
	}
	if target != "" && !regexp.MustCompile(`(?im)^FROM\s+\S+\s+AS\s+`+regexp.QuoteMeta(target)+`\s*$`).Match(b) {
		return fmt.Errorf("docker build: %s has no stage %q", dockerfile, target)
	}
	name := o.str("imageName")
	repo := name
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		repo = name[:i]
	}
	o.seed = name + "\x00" + target
	digest := "sha256:" + o.hex("digest", 64)
	o.id = repo + "@" + digest
	o.set("repoDigest", o.id)
	o.set("baseImageName", name)
	if reg, ok := o.in["registry"]; ok && reg.IsObject() {
		o.set("registryServer", str(reg.ObjectValue(), "server"))
	}
	return nil
}

// gcpFunction adds the Cloud Run service behind a 2nd gen function and its URL.
func gcpFunction(o *out) error {
	project, loc, name := o.p.gcpProject(o.in), o.str("location"), o.str("name")
	o.id = fmt.Sprintf("projects/%s/locations/%s/functions/%s", project, loc, name)
	url := fmt.Sprintf("https://%s-%s-uc.a.run.app", name, o.base36("url", 10))
	o.set("url", url)
	o.set("state", "ACTIVE")
	svc := resource.PropertyMap{}
	if v, ok := o.in["serviceConfig"]; ok && v.IsObject() {
		svc = v.ObjectValue().Copy()
	}
	svc["service"] = resource.NewStringProperty(fmt.Sprintf("projects/%s/locations/%s/services/%s", project, loc, name))
	svc["uri"] = resource.NewStringProperty(url)
	o.out["serviceConfig"] = resource.NewObjectProperty(svc)
	return nil
}

// iamMemberID is the id of a grant on the resource with id parent.
func iamMemberID(o *out, parent string) string {
	o.set("etag", "BwY"+o.hex("etag", 9))
	id := parent + "/" + o.str("role") + "/" + strings.ToLower(o.str("member"))
	if v, ok := o.in["condition"]; ok && v.IsObject() {
		id += "/" + str(v.ObjectValue(), "title")
	}
	return id
}

// gcpProject is the resource's project, else the provider's.
func (p *Provider) gcpProject(in resource.PropertyMap) string {
	if s := str(in, "project"); s != "" {
		return s
	}
	return p.project
}

// zone is one availability zone as DescribeAvailabilityZones describes it.
type zone struct{ name, id, group, zoneType, optIn string }

// availabilityZones answers getAvailabilityZones as for an account that opted in
// to a Local Zone: DescribeAvailabilityZones lists it with the region's zones
// unless a filter leaves it out, and the provider sorts by name, which puts it
// first. It applies the state and the filters DescribeAvailabilityZones has that
// select on these fields, and refuses others rather than ignore them.
func (p *Provider) availabilityZones(args resource.PropertyMap) (map[string]any, error) {
	zones := []zone{{p.region + "-bos-1a", "use1-bos1-az1", p.region + "-bos-1", "local-zone", "opted-in"}}
	for i, z := range []string{"a", "b", "c"} {
		zones = append(zones, zone{p.region + z, fmt.Sprintf("use1-az%d", i+1), p.region, "availability-zone", "opt-in-not-required"})
	}
	field := map[string]func(zone) string{
		"zone-name":     func(z zone) string { return z.name },
		"zone-id":       func(z zone) string { return z.id },
		"group-name":    func(z zone) string { return z.group },
		"zone-type":     func(z zone) string { return z.zoneType },
		"opt-in-status": func(z zone) string { return z.optIn },
		"state":         func(zone) string { return "available" },
	}
	type filter struct {
		get    func(zone) string
		values []string
	}
	var filters []filter
	if s := str(args, "state"); s != "" {
		filters = append(filters, filter{field["state"], []string{s}})
	}
	if v, ok := args["filters"]; ok && v.IsArray() {
		for _, f := range v.ArrayValue() {
			if !f.IsObject() {
				return nil, fmt.Errorf("stub provider: getAvailabilityZones filter %v is not an object", f)
			}
			name := str(f.ObjectValue(), "name")
			get, ok := field[name]
			if !ok {
				return nil, fmt.Errorf("stub provider: getAvailabilityZones filter %q not supported (add it in enginetest/stubprovider)", name)
			}
			var values []string
			if vs, ok := f.ObjectValue()["values"]; ok && vs.IsArray() {
				for _, v := range vs.ArrayValue() {
					if v.IsString() {
						values = append(values, v.StringValue())
					}
				}
			}
			filters = append(filters, filter{get, values})
		}
	}
	var names, ids, groups []any
	seen := map[string]bool{}
	slices.SortFunc(zones, func(a, b zone) int { return strings.Compare(a.name, b.name) }) // as the provider does
	for _, z := range zones {
		keep := true
		for _, f := range filters {
			keep = keep && slices.Contains(f.values, f.get(z))
		}
		if !keep {
			continue
		}
		names, ids = append(names, z.name), append(ids, z.id)
		if !seen[z.group] {
			seen[z.group] = true
			groups = append(groups, z.group)
		}
	}
	return map[string]any{"id": p.region, "names": names, "zoneIds": ids, "groupNames": groups}, nil
}

// invoke answers the data sources the program calls; any other is an error that
// names it, so a new call in the program shows up here first.
func (p *Provider) invoke(tok string, args resource.PropertyMap) (resource.PropertyMap, error) {
	var ret map[string]any
	switch tok {
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		var err error
		if ret, err = p.availabilityZones(args); err != nil {
			return nil, err
		}
	case "aws:ssm/getParameter:getParameter":
		name := str(args, "name")
		if !strings.HasSuffix(name, "/image_id") {
			return nil, fmt.Errorf("stub provider: no SSM parameter %q (only AMI ids, .../image_id)", name)
		}
		ret = map[string]any{"id": name, "name": name, "type": "String", "value": AMI, "insecureValue": AMI,
			"arn": fmt.Sprintf("arn:aws:ssm:%s::parameter%s", p.region, name), "version": 1.0, "withDecryption": true}
	case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
		registry := str(args, "registryId")
		if registry == "" {
			registry = Account
		}
		ret = map[string]any{"id": p.region, "registryId": registry, "userName": "AWS", "password": ECRPassword,
			"authorizationToken": base64.StdEncoding.EncodeToString([]byte("AWS:" + ECRPassword)),
			"proxyEndpoint":      fmt.Sprintf("https://%s.dkr.ecr.%s.amazonaws.com", registry, p.region),
			"expiresAt":          "2099-01-01T00:00:00Z"}
	case "aws:index/getCallerIdentity:getCallerIdentity":
		ret = map[string]any{"id": Account, "accountId": Account, "arn": "arn:aws:iam::" + Account + ":user/stub", "userId": "AIDASTUB"}
	case "aws:index/getRegion:getRegion":
		ret = map[string]any{"id": p.region, "name": p.region, "description": p.region, "endpoint": "ec2." + p.region + ".amazonaws.com"}
	default:
		return nil, fmt.Errorf("stub provider %s: no answer for invoke %s (add one in enginetest/stubprovider)", p.pkg, tok)
	}
	return resource.NewPropertyMapFromMap(ret), nil
}
