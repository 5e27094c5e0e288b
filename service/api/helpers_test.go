package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/instance"
	"github.com/servebench/servebench/service/storage"
)

func readData(t *testing.T, rel string) []byte { return apitest.Read(t, rel) }

func decodeBody(t *testing.T, resp *http.Response, out any) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, b)
	}
}

func outputKeys(t *testing.T, s *service) []string { return apitest.Keys(t, s.bs.Out) }

func newPanickyService(t *testing.T) *service {
	return newServiceWith(t, nil, func(context.Context, string, []byte, detect.LoadOptions) (detect.Detector, error) {
		return panicky{}, nil
	})
}

// newServiceWith is a mem:// service whose detector comes from newDetector (nil:
// detect.New, as the entry points load it).
func newServiceWith(t *testing.T, edit func(*config.Config), newDetector api.DetectorFunc) *service {
	t.Helper()
	bs := apitest.Open(t, "mem", storage.Options{})
	apitest.Seed(t, bs.In, "dog.jpg")
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	a, err := api.New(api.Options{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Instance: instance.New(),
		Input: bs.In, Output: bs.Out, ModelKey: apitest.ModelKey, NewDetector: newDetector})
	if err != nil {
		t.Fatal(err)
	}
	if newDetector == nil {
		// A real detector's session is released; the fakes have nothing to close.
		t.Cleanup(func() { a.Close() })
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &service{api: a, srv: srv, bs: bs}
}
