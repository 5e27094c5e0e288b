package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{EnvInputBucket: "s3://in?region=eu-west-1", EnvOutputBucket: "gs://out"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults
	want.InputBucket, want.OutputBucket = "s3://in?region=eu-west-1", "gs://out"
	want.Model = "s3://in/models/yolox_nano.onnx?region=eu-west-1"
	want.PublicURL = "http://localhost:8080"
	if c != want {
		t.Errorf("Load = %+v\nwant %+v", c, want)
	}
	if c.MaxImageBytes != 20<<20 || c.MaxImagePixels != 40_000_000 || c.RequestTimeout != 30*time.Second || c.Port != 8080 || c.Backend != "auto" {
		t.Errorf("defaults changed: %+v", c)
	}
}

func TestValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		EnvInputBucket: "file:///srv/in", EnvOutputBucket: "mem://", EnvModel: "file:///models/m.onnx",
		EnvBackend: "onnxruntime", EnvPort: "9000", EnvMaxImageBytes: "1000", EnvMaxImagePixels: "2000",
		EnvRequestTimeout: "2m", EnvURLTTL: "1h", EnvPreload: "true", EnvMemoryMB: "3000", EnvThreads: "3",
		EnvFacesSource: "https://example.com/orl.zip", EnvLogLevel: "debug", EnvFacesAllowSrc: "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "file:///models/m.onnx" || c.Backend != "onnxruntime" || c.Port != 9000 || c.MaxImageBytes != 1000 ||
		c.MaxImagePixels != 2000 || c.RequestTimeout != 2*time.Minute || c.URLTTL != time.Hour || !c.Preload ||
		c.MemoryMB != 3000 || c.FacesSource != "https://example.com/orl.zip" || c.PublicURL != "http://localhost:9000" || c.LogLevel != "debug" || c.FacesAllowSrc ||
		c.Threads != 3 {
		t.Errorf("Load = %+v", c)
	}
	c, _ = Load(env(map[string]string{EnvInputBucket: "file:///srv/in", EnvOutputBucket: "mem://"}))
	if c.Model != "file:///srv/in/models/yolox_nano.onnx" || !c.FacesAllowSrc {
		t.Errorf("defaults for a file bucket: model %q, faces ?source= allowed %v", c.Model, c.FacesAllowSrc)
	}
}

// TestDebugAddr: the debug listener is off unless asked for, and any loopback
// host:port is taken as given, port 0 included.
func TestDebugAddr(t *testing.T) {
	base := map[string]string{EnvInputBucket: "mem://", EnvOutputBucket: "mem://"}
	if c, err := Load(env(base)); err != nil || c.DebugAddr != "" {
		t.Errorf("default: DebugAddr %q, err %v; want off", c.DebugAddr, err)
	}
	for _, v := range []string{"127.0.0.1:6060", "127.0.0.1:0", "127.1.2.3:9", "[::1]:6060", "localhost:0"} {
		m := map[string]string{EnvDebugAddr: v}
		for k, x := range base {
			m[k] = x
		}
		if c, err := Load(env(m)); err != nil || c.DebugAddr != v {
			t.Errorf("%s=%q: DebugAddr %q, err %v", EnvDebugAddr, v, c.DebugAddr, err)
		}
	}
}

// TestErrors: each bad value is reported with the variable, the value and what
// is allowed; all problems at once.
func TestErrors(t *testing.T) {
	base := map[string]string{EnvInputBucket: "mem://", EnvOutputBucket: "mem://"}
	cases := []struct{ name, value, allowed string }{
		{EnvInputBucket, "", "required"},
		{EnvInputBucket, "ftp://x", "one of file, mem, s3, gs"},
		{EnvInputBucket, "s3://bucket/path", "no path"},
		{EnvOutputBucket, "file:///", "absolute/directory"},
		{EnvModel, "s3://bucket", ".onnx object"},
		{EnvModel, "http://x/m.onnx", "one of file"},
		{EnvBackend, "tensorflow", "auto, onnxruntime, gomlx"},
		{EnvPort, "http", "whole number from 1 to 65535"},
		{EnvPort, "70000", "from 1 to 65535"},
		{EnvMaxImageBytes, "-5", "whole number"},
		{EnvMaxImagePixels, "lots", "whole number"},
		{EnvMemoryMB, "3GB", "whole number"},
		{EnvThreads, "0", "whole number from 1 to 256"},
		{EnvThreads, "-2", "whole number from 1 to 256"},
		{EnvThreads, "two", "whole number from 1 to 256"},
		{EnvThreads, "1.5", "whole number from 1 to 256"},
		{EnvThreads, "257", "whole number from 1 to 256"},
		{EnvRequestTimeout, "30", "duration"},
		{EnvURLTTL, "30d", "duration"},
		{EnvURLTTL, "200h", "duration"},
		{EnvPreload, "yes please", "true or false"},
		{EnvFacesAllowSrc, "sometimes", "true or false"},
		{EnvPublicURL, "localhost:8080", "http://"},
		{EnvLogLevel, "loud", "debug, info, warn, error"},
		// Profiles must never be served on an interface others can reach.
		{EnvDebugAddr, ":6060", "loopback host:port"},
		{EnvDebugAddr, "0.0.0.0:6060", "loopback host:port"},
		{EnvDebugAddr, "[::]:6060", "loopback host:port"},
		{EnvDebugAddr, "192.168.1.5:6060", "loopback host:port"},
		{EnvDebugAddr, "example.com:6060", "loopback host:port"},
		{EnvDebugAddr, "127.0.0.1", "loopback host:port"},
		{EnvDebugAddr, "127.0.0.1:http", "loopback host:port"},
		{EnvDebugAddr, "127.0.0.1:70000", "loopback host:port"},
		{EnvDebugAddr, "127.0.0.1:-1", "loopback host:port"},
		{EnvDebugAddr, "127.0.0.1:+80", "loopback host:port"},
	}
	for _, c := range cases {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		m[c.name] = c.value
		_, err := Load(env(m))
		if err == nil {
			t.Errorf("%s=%q: no error", c.name, c.value)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.name+"=") || !strings.Contains(msg, `"`+c.value+`"`) || !strings.Contains(msg, c.allowed) {
			t.Errorf("%s=%q: error %q should name the variable, the value and %q", c.name, c.value, msg, c.allowed)
		}
	}
	_, err := Load(env(map[string]string{EnvBackend: "x"}))
	for _, name := range []string{EnvInputBucket, EnvOutputBucket, EnvBackend} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("all problems should be reported at once; %v lacks %s", err, name)
		}
	}
}
