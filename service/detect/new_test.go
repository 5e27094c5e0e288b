package detect

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"
)

// identityModel is a valid ONNX file that is not YOLOX: one Identity node on a float
// tensor of the given shape.
func identityModel(t *testing.T, dims ...int64) []byte {
	t.Helper()
	var shape protos.TensorShapeProto
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &protos.TensorShapeProto_Dimension{
			Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	value := func(name string) *protos.ValueInfoProto {
		return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{
			Value: &protos.TypeProto_TensorType{TensorType: &protos.TypeProto_Tensor{
				ElemType: int32(protos.TensorProto_FLOAT), Shape: &shape}}}}
	}
	m := &protos.ModelProto{
		IrVersion:   8,
		OpsetImport: []*protos.OperatorSetIdProto{{Version: 17}},
		Graph: &protos.GraphProto{
			Name:   "identity",
			Node:   []*protos.NodeProto{{OpType: "Identity", Input: []string{"x"}, Output: []string{"y"}}},
			Input:  []*protos.ValueInfoProto{value("x")},
			Output: []*protos.ValueInfoProto{value("y")},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewRejectsBadModels(t *testing.T) {
	model := testModel(t)
	bad := map[string]struct {
		model []byte
		want  string // in the message
	}{
		"empty":         {nil, "empty"},
		"not ONNX":      {[]byte("GIF89a this is not a model"), "not a valid ONNX file"},
		"truncated":     {model[:len(model)/2], "not a valid ONNX file"},
		"wrong input":   {identityModel(t, 1, 3, 320, 320), "input shape [1 3 320 320]"},
		"wrong output":  {identityModel(t, 1, 3, 416, 416), "output shape [1 3 416 416]"},
		"wrong rank in": {identityModel(t, 416, 416), "input shape"},
	}
	for _, backend := range Backends() {
		for name, c := range bad {
			t.Run(backend+"/"+name, func(t *testing.T) {
				d, err := New(context.Background(), backend, c.model, LoadOptions{})
				if err == nil {
					d.Close()
					t.Fatal("New accepted the model")
				}
				if !errors.Is(err, ErrInvalidModel) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %q: want ErrInvalidModel mentioning %q", err, c.want)
				}
			})
		}
	}
}

func TestNewUnknownBackend(t *testing.T) {
	_, err := New(context.Background(), "tensorflow", []byte("x"), LoadOptions{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range append([]string{"tensorflow", BackendAuto}, Backends()...) {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not mention %q", err, name)
		}
	}
}

func TestNewCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New(ctx, BackendAuto, testModel(t), LoadOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestAutoPicksPreferredBackend(t *testing.T) {
	if !slices.Equal(Backends(), []string{BackendONNXRuntime, BackendGoMLX}) {
		t.Errorf("Backends() = %v, want onnxruntime then gomlx, always", Backends())
	}
	d, err := New(context.Background(), BackendAuto, testModel(t), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Backend() != BackendONNXRuntime {
		t.Errorf("auto chose %s, want %s (its library loads here)%s", d.Backend(), BackendONNXRuntime, libraryHint(BackendONNXRuntime))
	}
}

func TestAutoFallback(t *testing.T) {
	fallback := newDetector("fallback", &fakeNet{})
	fail := func(err error) constructor {
		return func(context.Context, []byte, LoadOptions) (Detector, error) { return nil, err }
	}
	second := func(context.Context, []byte, LoadOptions) (Detector, error) { return fallback, nil }

	d, err := preferFirst(context.Background(), nil, LoadOptions{}, fail(errors.New("libonnxruntime.so.1 not found")), second)
	if err != nil || d != fallback {
		t.Errorf("library missing: %v, %v; want the fallback", d, err)
	}
	badModel := fmt.Errorf("%w: output shape", ErrInvalidModel)
	if _, err := preferFirst(context.Background(), nil, LoadOptions{}, fail(badModel), second); !errors.Is(err, ErrInvalidModel) {
		t.Errorf("bad model: %v; want the error, not the fallback", err)
	}
	first := newDetector("first", &fakeNet{})
	if d, err := preferFirst(context.Background(), nil, LoadOptions{},
		func(context.Context, []byte, LoadOptions) (Detector, error) { return first, nil }, second); err != nil || d != first {
		t.Errorf("first available: %v, %v; want it", d, err)
	}
}

// fakeNet stands in for a backend in the tests of the shared detector.
type fakeNet struct {
	runFn  func(in, out []float32) error
	closed bool
}

func (f *fakeNet) run(_ context.Context, in, out []float32) error { return f.runFn(in, out) }
func (f *fakeNet) threads() int                                   { return 1 }
func (f *fakeNet) close() error                                   { f.closed = true; return nil }

func TestDetectRecoversFromPanics(t *testing.T) {
	d := newDetector("fake", &fakeNet{runFn: func(in, out []float32) error {
		var m map[string]int
		m["boom"]++ // a nil-map write, as a backend bug would do
		return nil
	}})
	_, err := d.Detect(context.Background(), image.NewGray(image.Rect(0, 0, 4, 4)), Options{})
	if err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("error %v, want the recovered panic", err)
	}
}

func TestDetectRejects(t *testing.T) {
	net := &fakeNet{runFn: func(in, out []float32) error { return nil }}
	d := newDetector("fake", net)
	img := image.NewGray(image.Rect(0, 0, 4, 4))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Detect(ctx, img, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v, want context.Canceled", err)
	}
	if _, err := d.Detect(context.Background(), img, Options{ScoreThreshold: 2}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("score threshold 2: %v, want ErrInvalidOptions", err)
	}
	for name, img := range map[string]image.Image{"nil": nil, "empty": image.NewRGBA(image.Rect(3, 3, 3, 10))} {
		if _, err := d.Detect(context.Background(), img, Options{}); !errors.Is(err, ErrInvalidImage) {
			t.Errorf("%s image: %v, want ErrInvalidImage", name, err)
		}
	}
	var nilRGBA *image.RGBA // a typed nil: Bounds panics
	if _, err := d.Detect(context.Background(), nilRGBA, Options{}); err == nil {
		t.Error("typed nil image: no error")
	}
	netErr := errors.New("device lost")
	net.runFn = func(in, out []float32) error { return netErr }
	if _, err := d.Detect(context.Background(), img, Options{}); !errors.Is(err, netErr) || !strings.Contains(err.Error(), "fake") {
		t.Errorf("network error: %v, want it wrapped with the backend name", err)
	}

	if err := d.Close(); err != nil || !net.closed {
		t.Fatalf("Close: %v, network closed %v", err, net.closed)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := d.Detect(context.Background(), img, Options{}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("after Close: %v, want a closed error", err)
	}
}
