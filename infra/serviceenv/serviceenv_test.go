package serviceenv

import "testing"

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
