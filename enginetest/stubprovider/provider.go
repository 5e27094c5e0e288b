// Package stubprovider is a Pulumi resource provider that stands in for the aws,
// gcp and docker providers when the engine tests (package enginetest) run the
// servebench program under the real Pulumi engine, as gofakes3 stands in for S3.
//
// It accepts every resource and answers with its inputs plus the outputs a real
// provider computes and the program reads (ids, ARNs, bucket names, the repository
// URL and image digest, DNS names, API endpoints), derived from the URN so a
// second run gives the same values. It answers the program's invokes, diffs inputs
// so an unchanged program previews no changes, and appends every call to a JSON
// Lines log (EnvLog) so a test can check what the engine asked for and in which
// order. One binary serves every package: it takes the package name from its own
// file name (pulumi-resource-<package>, as `pulumi plugin install --file` names it)
// and the version from its plugin directory (resource-<package>-v<version>).
package stubprovider

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Environment variables that override what the binary's path says.
const (
	EnvPackage = "SERVEBENCH_STUB_PACKAGE"
	EnvVersion = "SERVEBENCH_STUB_VERSION"
)

// Main serves the provider to the engine by the plugin protocol: the engine's
// address is the one argument, the port goes to stdout, and the server runs until
// the engine sends SIGINT or stops answering health checks. (The sdk's
// provider.Main does the same but pulls in tracing modules this project does not
// otherwise need.)
func Main() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("stub provider: %w", err)
	}
	pkg, version := Identity(exe, os.Getenv(EnvPackage), os.Getenv(EnvVersion))
	if pkg == "" {
		return fmt.Errorf("stub provider: no package name: run it as pulumi-resource-<package> or set %s", EnvPackage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(os.Args) > 1 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		// An engine that died without stopping its plugins must not leave this one running.
		if err := rpcutil.Healthcheck(ctx, os.Args[len(os.Args)-1], time.Minute, cancel); err != nil {
			return fmt.Errorf("stub provider %s: health check of the engine: %w", pkg, err)
		}
	}
	stopped := make(chan bool)
	go func() { <-ctx.Done(); close(stopped) }()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stopped,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, New(pkg, version, os.Getenv(EnvLog)))
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("stub provider %s: %w", pkg, err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		return fmt.Errorf("stub provider %s: %w", pkg, err)
	}
	return nil
}

var pluginDirRE = regexp.MustCompile(`^resource-(.+)-v(\d+\.\d+\.\d+.*)$`)

// Identity is the package and version a binary at path serves: the explicit
// values when set, else from pulumi-resource-<package> and its plugin directory
// resource-<package>-v<version>.
func Identity(path, pkg, version string) (string, string) {
	if pkg == "" {
		pkg = strings.TrimPrefix(filepath.Base(path), "pulumi-resource-")
		if pkg == filepath.Base(path) {
			pkg = ""
		}
	}
	if version == "" {
		if m := pluginDirRE.FindStringSubmatch(filepath.Base(filepath.Dir(path))); m != nil && m[1] == pkg {
			version = m[2]
		}
	}
	if version == "" {
		version = "0.0.1"
	}
	return pkg, version
}

// Provider is the stub provider for one package.
type Provider struct {
	pulumirpc.UnimplementedResourceProviderServer

	pkg, version string
	// Set by Configure, which the engine finishes before it makes any other call.
	region  string // aws:region, for ARNs and endpoints
	project string // gcp:project, for resources that name none
	log     logger
}

// New returns the stub provider for a package, logging to logPath ("" logs nothing).
func New(pkg, version, logPath string) *Provider {
	return &Provider{pkg: pkg, version: version, region: "us-east-1", log: logger{path: logPath}}
}

// Properties cross the wire with secrets, unknowns and resource references kept,
// so the stub hands them back exactly as it got them.
var wire = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	m, err := plugin.UnmarshalProperties(s, wire)
	if err != nil {
		return nil, fmt.Errorf("stub provider: %w", err)
	}
	return m, nil
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	s, err := plugin.MarshalProperties(m, wire)
	if err != nil {
		return nil, fmt.Errorf("stub provider: %w", err)
	}
	return s, nil
}

// record logs one call when it returns; a log that cannot be written fails the call
// so a test never reads a silently incomplete log.
func (p *Provider) record(r Record, start time.Time, err *error) {
	r.Start, r.End, r.PID, r.Package = start, time.Now(), os.Getpid(), p.pkg
	if *err != nil {
		r.Error = (*err).Error()
	}
	if lerr := p.log.write(r); lerr != nil && *err == nil {
		*err = lerr
	}
}

// typeOf is the resource type token of a URN.
func typeOf(urn string) string { return string(resource.URN(urn).Type()) }

func (p *Provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.version}, nil
}

func (p *Provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (_ *pulumirpc.CheckResponse, err error) {
	defer p.record(Record{Method: "CheckConfig", URN: req.GetUrn()}, time.Now(), &err)
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *Provider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (_ *pulumirpc.DiffResponse, err error) {
	r, start := Record{Method: "DiffConfig", URN: req.GetUrn()}, time.Now()
	defer func() { p.record(r, start, &err) }()
	return p.diff(req, &r)
}

func (p *Provider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (_ *pulumirpc.ConfigureResponse, err error) {
	defer p.record(Record{Method: "Configure"}, time.Now(), &err)
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	if r := str(args, "region"); r != "" {
		p.region = r
	} else if r := req.GetVariables()[p.pkg+":config:region"]; r != "" {
		p.region = r
	}
	if p.pkg == "gcp" {
		p.project = str(args, "project")
	}
	// No preview support: during a preview the engine derives a new resource's
	// outputs from its inputs, as it does for most real providers' unknowns.
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *Provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (_ *pulumirpc.CheckResponse, err error) {
	defer p.record(Record{Method: "Check", Type: typeOf(req.GetUrn()), URN: req.GetUrn()}, time.Now(), &err)
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *Provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (_ *pulumirpc.DiffResponse, err error) {
	r, start := Record{Method: "Diff", Type: typeOf(req.GetUrn()), URN: req.GetUrn(), ID: req.GetId()}, time.Now()
	defer func() { p.record(r, start, &err) }()
	return p.diff(req, &r)
}

// diff compares the new inputs with the old ones (with the old outputs when the
// engine sends no old inputs); any difference, or an unknown, is an in-place update.
func (p *Provider) diff(req *pulumirpc.DiffRequest, r *Record) (*pulumirpc.DiffResponse, error) {
	olds := req.GetOldInputs()
	if olds == nil {
		olds = req.GetOlds()
	}
	old, err := unmarshal(olds)
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	if req.GetOldInputs() == nil { // outputs carry computed keys the inputs never had
		for k := range old {
			if _, ok := news[k]; !ok {
				delete(old, k)
			}
		}
	}
	d := old.DiffIncludeUnknowns(news)
	if d == nil || !d.AnyChanges() {
		r.Changes = "none"
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	var keys []string
	for _, k := range d.ChangedKeys() {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	r.Changes, r.Diffs = "some", keys
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: keys}, nil
}

func (p *Provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (_ *pulumirpc.CreateResponse, err error) {
	r, start := Record{Method: "Create", Type: typeOf(req.GetUrn()), URN: req.GetUrn(), Preview: req.GetPreview()}, time.Now()
	defer func() { p.record(r, start, &err) }()
	id, props, err := p.resolve(req.GetUrn(), "", req.GetProperties())
	if err != nil {
		return nil, err
	}
	r.ID = id
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (p *Provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (_ *pulumirpc.UpdateResponse, err error) {
	r, start := Record{Method: "Update", Type: typeOf(req.GetUrn()), URN: req.GetUrn(), ID: req.GetId(), Preview: req.GetPreview()}, time.Now()
	defer func() { p.record(r, start, &err) }()
	_, props, err := p.resolve(req.GetUrn(), req.GetId(), req.GetNews())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// resolve is outputs on the wire: Create and Update send and get structs.
func (p *Provider) resolve(urn, id string, inputs *structpb.Struct) (string, *structpb.Struct, error) {
	in, err := unmarshal(inputs)
	if err != nil {
		return "", nil, err
	}
	id, out, err := p.outputs(resource.URN(urn), id, in)
	if err != nil {
		return "", nil, err
	}
	props, err := marshal(out)
	return id, props, err
}

// Read reports the resource as the engine last saw it: nothing changes behind the
// engine's back here.
func (p *Provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (_ *pulumirpc.ReadResponse, err error) {
	defer p.record(Record{Method: "Read", Type: typeOf(req.GetUrn()), URN: req.GetUrn(), ID: req.GetId()}, time.Now(), &err)
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *Provider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (_ *emptypb.Empty, err error) {
	defer p.record(Record{Method: "Delete", Type: typeOf(req.GetUrn()), URN: req.GetUrn(), ID: req.GetId()}, time.Now(), &err)
	return &emptypb.Empty{}, nil
}

func (p *Provider) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (_ *pulumirpc.InvokeResponse, err error) {
	defer p.record(Record{Method: "Invoke", Type: req.GetTok(), Preview: req.GetPreview()}, time.Now(), &err)
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	ret, err := p.invoke(req.GetTok(), args)
	if err != nil {
		return nil, err
	}
	s, err := marshal(ret)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: s}, nil
}

func (p *Provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
