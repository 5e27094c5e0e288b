package serviceenv

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func TestURL(t *testing.T) {
	s3 := Env{Scheme: "s3", Region: "eu-west-1"}
	gs := Env{Scheme: "gs", Region: "ignored"}
	for _, c := range []struct{ got, want string }{
		{s3.URL("in", ""), "s3://in?region=eu-west-1"},
		{s3.URL("in", ModelKey), "s3://in/models/yolox_nano.onnx?region=eu-west-1"},
		{gs.URL("in", FacesKey), "gs://in/faces/orl.zip"},
		{gs.URL("out", ""), "gs://out"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// The deployer's copy of a library defaults to where its setup script leaves it,
// which honours SERVEBENCH_CACHE, then XDG_CACHE_HOME, then ~/.cache.
func TestCachePath(t *testing.T) {
	for _, c := range []struct{ cache, xdg, home, want string }{
		{"/c", "/x", "/h", "/c/onnxruntime-1.30.0/libonnxruntime.so.1"},
		{"", "/x", "/h", "/x/servebench/onnxruntime-1.30.0/libonnxruntime.so.1"},
		{"", "", "/h", "/h/.cache/servebench/onnxruntime-1.30.0/libonnxruntime.so.1"},
	} {
		t.Setenv("SERVEBENCH_CACHE", c.cache)
		t.Setenv("XDG_CACHE_HOME", c.xdg)
		t.Setenv("HOME", c.home)
		if got := ONNXRuntimeLib.CachePath(); got != c.want {
			t.Errorf("SERVEBENCH_CACHE=%q XDG_CACHE_HOME=%q HOME=%q: %s, want %s", c.cache, c.xdg, c.home, got, c.want)
		}
	}
	if got, want := TurboJPEGLib.CachePath(), "/h/.cache/servebench/turbojpeg-2.1.5/libturbojpeg.so.0"; got != want {
		t.Errorf("TurboJPEGLib.CachePath() = %s, want %s", got, want)
	}
}

// The faces functions fetch the uploaded copy unless the deployment names a public
// face set; the caller still may not choose one (?source= stays off).
func TestFacesSource(t *testing.T) {
	const public = "https://www.cl.cam.ac.uk/research/dtg/attarchive/pub/data/att_faces.zip"
	in, out := pulumi.String("in"), pulumi.String("out")
	upload := Env{Scheme: "s3", Region: "us-east-1"}.Vars(in, out)
	if _, literal := upload["SERVEBENCH_FACES_SOURCE"].(pulumi.String); literal {
		t.Errorf("without FacesSource the source is %v, want the input bucket's %s", upload["SERVEBENCH_FACES_SOURCE"], FacesKey)
	}
	vars := Env{Scheme: "s3", Region: "us-east-1", FacesSource: public}.Vars(in, out)
	if got := vars["SERVEBENCH_FACES_SOURCE"]; got != pulumi.String(public) {
		t.Errorf("SERVEBENCH_FACES_SOURCE = %v, want %s", got, public)
	}
	if got := vars["SERVEBENCH_FACES_ALLOW_SOURCE"]; got != pulumi.String("false") {
		t.Errorf("SERVEBENCH_FACES_ALLOW_SOURCE = %v, want false", got)
	}
}
