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
