// Package service registers the inference service's Google Cloud Functions
// (functions-framework-go): predict, faces_download_data, faces_train, faces_upload
// and faces_predict. A function URL has no path of its own, so each function
// serves one route of the one handler (api.API) the other entry points use. The
// configuration is read from the environment on the first call; if it is wrong,
// every call answers 500 in the error contract naming the variable.
//
// Cloud Functions builds this module from source without cgo; the detector loads
// ONNX Runtime at run time all the same (SERVEBENCH_ONNXRUNTIME_LIB), and under
// SERVEBENCH_BACKEND=auto falls back to the pure Go backend if it cannot.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/instance"
	"github.com/servebench/servebench/service/reply"
)

// Functions maps each Cloud Functions target to the route it serves.
var Functions = map[string]string{
	"predict":             "/predict",
	"faces_download_data": "/faces/download_data",
	"faces_train":         "/faces/train",
	"faces_upload":        "/faces/upload",
	"faces_predict":       "/faces/predict",
}

func init() {
	for name, route := range Functions {
		functions.HTTP(name, routeTo(route))
	}
}

// routeTo serves one route of the shared handler whatever path the request came
// in on; the query (?id=N) is kept.
func routeTo(route string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		h, err := shared.get(r.Context())
		if err != nil {
			reply.WriteError(w, r, slog.Default(), reply.Wrap(http.StatusInternalServerError, reply.CodeInternal,
				"the function is misconfigured: "+err.Error(), err))
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = route, ""
		h.ServeHTTP(w, r2)
	}
}

// shared is the process's one handler. It is built on the first call; a failure
// is answered and retried on the next call (a bucket may be reachable later; a
// bad variable fails the same way each time).
var shared lazyHandler

type lazyHandler struct {
	mu sync.Mutex
	h  *api.API
}

func (l *lazyHandler) get(ctx context.Context) (*api.API, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h != nil {
		return l.h, nil
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	log := api.NewLogger(cfg.LogLevel)
	h, err := api.Open(ctx, api.Options{Config: cfg, Log: log, Instance: instance.New()})
	if err != nil {
		log.Error("could not open the service", "err", err)
		return nil, fmt.Errorf("open the service: %w", err)
	}
	l.h = h
	return h, nil
}

// reset forgets the handler (tests change the environment between cases).
func (l *lazyHandler) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h != nil {
		_ = l.h.Close()
	}
	l.h = nil
}
