// Package apitest holds what the service's tests share: the test data, one real
// detector per test binary, and input/output buckets on every storage backend
// (mem://, file://, S3 through gofakes3, GCS through fake-gcs-server), all in
// process.
package apitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"

	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/storage"
)

// ModelSHA256 is the checksum of models/yolox_nano.onnx (DESIGN.md).
const ModelSHA256 = "d39bee73564e338080378b0ad567fbb40e818b55bbfaf971de82a0267ed16b8a"

// ModelKey is where the model sits in the input bucket.
const ModelKey = "models/yolox_nano.onnx"

// DataDir is the test data directory: $SERVEBENCH_DATA, else shared/data beside
// the checkout. It fails the test, with what to do, if neither exists.
func DataDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("SERVEBENCH_DATA"); d != "" {
		if _, err := os.Stat(filepath.Join(d, ModelKey)); err != nil {
			tb.Fatalf("SERVEBENCH_DATA=%s has no %s: %v", d, ModelKey, err)
		}
		return d
	}
	wd, _ := os.Getwd()
	for dir := wd; ; dir = filepath.Dir(dir) {
		d := filepath.Join(dir, "..", "shared", "data")
		if _, err := os.Stat(filepath.Join(d, ModelKey)); err == nil {
			return d
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	tb.Fatalf("test data not found: set SERVEBENCH_DATA (scripts/test does, from `go run ./cmd/servebench assets`) or put it at ../shared/data beside the checkout")
	return ""
}

// Read reads a file of the test data.
func Read(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(DataDir(tb), rel))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var shared struct {
	once sync.Once
	det  detect.Detector
	err  error
}

// Detector is the test binary's one real detector (ONNX Runtime): loading it once
// keeps the tests fast.
func Detector(tb testing.TB) detect.Detector {
	tb.Helper()
	shared.once.Do(func() {
		shared.det, shared.err = detect.New(context.Background(), detect.BackendONNXRuntime, Read(tb, ModelKey), detect.LoadOptions{})
	})
	if shared.err != nil {
		tb.Fatalf("detector: %v\nthe service's tests run the ONNX Runtime detector: set %s to libonnxruntime.so.1 "+
			"(scripts/setup-onnxruntime fetches it; scripts/test does both)", shared.err, detect.LibraryEnv)
	}
	return shared.det
}

// Loader stands in for detect.New in api.Options: it checks it was handed the real
// model's bytes, counts the loads, and returns the shared detector.
type Loader struct {
	TB    testing.TB
	Loads atomic.Int64
	Fail  atomic.Bool // when set, every load fails
}

// New has the signature of detect.New.
func (l *Loader) New(ctx context.Context, backend string, model []byte, opt detect.LoadOptions) (detect.Detector, error) {
	l.Loads.Add(1)
	if l.Fail.Load() {
		return nil, fmt.Errorf("loader told to fail")
	}
	if sum := sha256.Sum256(model); hex.EncodeToString(sum[:]) != ModelSHA256 {
		return nil, fmt.Errorf("model bytes have sha256 %x, want %s", sum, ModelSHA256)
	}
	return keepOpen{Detector(l.TB)}, nil
}

// keepOpen shares the detector: closing one API must not close it for the rest.
type keepOpen struct{ detect.Detector }

func (keepOpen) Close() error { return nil }

// Buckets are a test's input and output buckets and how to reach them by URL.
type Buckets struct {
	Backend       string
	In, Out       *storage.Bucket
	InURL, OutURL string
	InDir, OutDir string // file:// only
	GCP           *GCP   // gcs only: the metadata server and IAM they sign through
}

// BackendNames lists the storage backends Open can make.
var BackendNames = []string{"mem", "file", "s3", "gcs"}

// Open makes an empty input and output bucket on backend. For s3 and gcs it sets
// the environment for the fakes (so the test may not be parallel).
func Open(tb testing.TB, backend string, opt storage.Options) Buckets {
	tb.Helper()
	ctx := context.Background()
	open := func(u string, o storage.Options) *storage.Bucket {
		b, err := storage.Open(ctx, u, o)
		if err != nil {
			tb.Fatalf("open %s: %v", u, err)
		}
		tb.Cleanup(func() { b.Close() })
		return b
	}
	bs := Buckets{Backend: backend}
	var inOpt storage.Options
	switch backend {
	case "mem":
		bs.InURL, bs.OutURL = "mem://", "mem://"
	case "file":
		bs.InDir, bs.OutDir = tb.TempDir(), tb.TempDir()
		bs.InURL, bs.OutURL = "file://"+bs.InDir, "file://"+bs.OutDir
	case "s3":
		mem := s3mem.New()
		for _, n := range []string{"in", "out"} {
			if err := mem.CreateBucket(n); err != nil {
				tb.Fatal(err)
			}
		}
		srv := httptest.NewServer(gofakes3.New(mem).Server())
		tb.Cleanup(srv.Close)
		for k, v := range map[string]string{
			"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
			"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		} {
			tb.(interface{ Setenv(k, v string) }).Setenv(k, v)
		}
		q := "?endpoint=" + srv.URL + "&use_path_style=true&region=us-east-1&disable_https=true"
		bs.InURL, bs.OutURL = "s3://in"+q, "s3://out"+q
	case "gcs":
		// The buckets open as on Cloud Functions: credentials from the metadata
		// server, no private key, URLs signed by IAM SignBlob (all faked here).
		srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Host: "127.0.0.1", PublicHost: "127.0.0.1", Scheme: "http", Writer: io.Discard})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(srv.Stop)
		srv.CreateBucket("in")
		srv.CreateBucket("out")
		tb.(interface{ Setenv(k, v string) }).Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(srv.URL(), "http://"))
		bs.GCP = NewGCP(tb)
		inOpt.IAMCredentialsEndpoint, opt.IAMCredentialsEndpoint = bs.GCP.IAMURL, bs.GCP.IAMURL
		bs.InURL, bs.OutURL = "gs://in", "gs://out"
	default:
		tb.Fatalf("unknown backend %q", backend)
	}
	bs.In, bs.Out = open(bs.InURL, inOpt), open(bs.OutURL, opt)
	return bs
}

// Seed writes the model and the named images (from the data set's images/) into b.
func Seed(tb testing.TB, b *storage.Bucket, images ...string) {
	tb.Helper()
	ctx := context.Background()
	if err := b.Write(ctx, ModelKey, "application/octet-stream", Read(tb, ModelKey)); err != nil {
		tb.Fatal(err)
	}
	for _, name := range images {
		if err := b.Write(ctx, "images/"+name, "image/jpeg", Read(tb, "images/"+name)); err != nil {
			tb.Fatal(err)
		}
	}
}

// Keys lists every key in b (fileblob's attribute sidecars are not objects).
func Keys(tb testing.TB, b *storage.Bucket) []string {
	tb.Helper()
	var keys []string
	it := b.List(&blob.ListOptions{})
	for {
		o, err := it.Next(context.Background())
		if err != nil {
			break
		}
		keys = append(keys, o.Key)
	}
	return keys
}

// Want is one expected detection.
type Want struct {
	Label string
	Score float32
	Box   [4]float32
}

// Dog is the reference answer for images/dog.jpg (DESIGN.md; OpenCV DNN with the
// official YOLOX preprocessing).
var Dog = []Want{
	{"dog", 0.855, [4]float32{133, 207, 326, 543}},
	{"bicycle", 0.803, [4]float32{52, 137, 572, 424}},
	{"car", 0.798, [4]float32{466, 78, 692, 171}},
}

// CheckDetections fails unless got has exactly the wanted objects: the same
// labels, scores within 0.01, boxes within 5 pixels.
func CheckDetections(tb testing.TB, got []detect.Detection, want []Want) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d detections %+v, want %d: %+v", len(got), got, len(want), want)
	}
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if used[i] || g.Label != w.Label || math.Abs(float64(g.Score-w.Score)) > 0.01 {
				continue
			}
			ok := true
			for j := range 4 {
				if math.Abs(float64(g.Box[j]-w.Box[j])) > 5 {
					ok = false
				}
			}
			if ok {
				used[i], found = true, true
				break
			}
		}
		if !found {
			tb.Errorf("no detection matches %s %.3f %v in %+v", w.Label, w.Score, w.Box, got)
		}
	}
}

// CheckAnnotated checks an annotated image against its input: it decodes, has the
// same size, and differs clearly along each box's outline.
func CheckAnnotated(tb testing.TB, input, output []byte, dets []detect.Detection) {
	tb.Helper()
	in, _, err := image.Decode(bytes.NewReader(input))
	if err != nil {
		tb.Fatalf("decode input: %v", err)
	}
	out, _, err := image.Decode(bytes.NewReader(output))
	if err != nil {
		tb.Fatalf("the annotated image does not decode: %v", err)
	}
	if in.Bounds().Size() != out.Bounds().Size() {
		tb.Fatalf("annotated image is %v, input %v", out.Bounds().Size(), in.Bounds().Size())
	}
	for _, d := range dets {
		// Mean colour difference along the box's left edge, where the outline is.
		x := int(d.Box[0]) + 1
		var diff float64
		n := 0
		for y := int(d.Box[1]) + 2; y < int(d.Box[3])-2; y++ {
			diff += colourDist(in.At(x, y), out.At(x, y))
			n++
		}
		if n == 0 || diff/float64(n) < 30 {
			tb.Errorf("the box of %s at %v is not visible: mean difference %.1f along its edge", d.Label, d.Box, diff/float64(max(n, 1)))
		}
	}
}

func colourDist(a, b interface{ RGBA() (r, g, b, a uint32) }) float64 {
	r1, g1, b1, _ := a.RGBA()
	r2, g2, b2, _ := b.RGBA()
	d := func(x, y uint32) float64 { return math.Abs(float64(x>>8) - float64(y>>8)) }
	return (d(r1, r2) + d(g1, g2) + d(b1, b2)) / 3
}
