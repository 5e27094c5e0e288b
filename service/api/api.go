// Package api is the service's one http.Handler, behind every entry point (the
// HTTP server, Lambda, Cloud Functions): POST /predict, GET /healthz, GET /files
// (signed URLs of file:// output buckets) and the routes other packages mount.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/imagein"
	"github.com/servebench/servebench/service/instance"
	"github.com/servebench/servebench/service/reply"
	"github.com/servebench/servebench/service/storage"
	"github.com/servebench/servebench/service/timing"
)

// DetectorFunc builds a detector from the model's bytes; detect.New in production.
type DetectorFunc func(ctx context.Context, backend string, model []byte, opt detect.LoadOptions) (detect.Detector, error)

// Options are what New needs. Buckets are opened by the caller (Open does it from
// the configuration) so tests can hand in buckets opened with clients of their own.
type Options struct {
	Config   config.Config
	Log      *slog.Logger
	Instance *instance.Instance
	Input    *storage.Bucket
	Output   *storage.Bucket
	// Model is the bucket holding the model and ModelKey its key; nil means Input.
	Model    *storage.Bucket
	ModelKey string
	// NewDetector builds the detector; nil means detect.New.
	NewDetector DetectorFunc
}

// API serves the service's routes. Its exported fields are for the packages that
// mount routes of their own (faces): read them, do not replace them.
type API struct {
	Config   config.Config
	Log      *slog.Logger
	Instance *instance.Instance
	Input    *storage.Bucket
	Output   *storage.Bucket
	Limits   imagein.Limits

	model    *storage.Bucket
	detector *lazyDetector
	mux      *http.ServeMux
	// threads is what the detector is given (instance.Instance.Threads) and
	// threadsFrom why, for the log.
	threads     int
	threadsFrom string
}

// New builds the handler. It loads nothing: the model is read on the first request
// that needs it (or by Preload).
func New(o Options) (*API, error) {
	if o.Input == nil || o.Output == nil || o.Log == nil || o.Instance == nil {
		return nil, errors.New("api.New: Input, Output, Log and Instance are required")
	}
	a := &API{
		Config:   o.Config,
		Log:      o.Log,
		Instance: o.Instance,
		Input:    o.Input,
		Output:   o.Output,
		Limits:   imagein.Limits{MaxBytes: o.Config.MaxImageBytes, MaxPixels: o.Config.MaxImagePixels},
		mux:      http.NewServeMux(),
	}
	a.threads, a.threadsFrom = o.Instance.Threads(o.Config.Threads)
	a.detector = &lazyDetector{load: a.loader(o)}

	a.Handle("POST /predict", http.HandlerFunc(a.predict))
	a.Handle("GET /healthz", http.HandlerFunc(a.healthz))
	if o.Output.LocalSigner() != nil {
		a.Handle("GET "+FilesPath, http.HandlerFunc(a.files))
	}
	// Routes of other packages are mounted here, one line each.
	a.HandleTimeout("/faces/", a.facesHandler(), 0) // each faces route sets its own deadline
	return a, nil
}

// FilesPath is the route serving signed URLs of a file:// output bucket; Open
// points the bucket's signer at Config.PublicURL + FilesPath.
const FilesPath = "/files"

// Handle mounts h at pattern (http.ServeMux syntax) behind the service's
// middleware: panic recovery, the request deadline (Config.RequestTimeout) and the
// access log.
func (a *API) Handle(pattern string, h http.Handler) {
	a.HandleTimeout(pattern, h, a.Config.RequestTimeout)
}

// HandleTimeout is Handle with a deadline of its own, for routes that run longer
// than the usual request (training).
func (a *API) HandleTimeout(pattern string, h http.Handler, timeout time.Duration) {
	a.mux.Handle(pattern, a.middleware(h, timeout))
}

// ServeHTTP serves every route; unknown paths and methods answer in the error
// contract too.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := a.mux.Handler(r)
	if pattern == "" {
		// The mux's own 404/405 answers are plain text; keep the JSON contract.
		rec := &statusRecorder{ResponseWriter: discard{header: http.Header{}}}
		h.ServeHTTP(rec, r)
		status := rec.status
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.Header().Get("Allow"))
			reply.WriteError(w, r, a.Log, reply.Errorf(status, "method_not_allowed", "%s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		reply.WriteError(w, r, a.Log, reply.Errorf(http.StatusNotFound, reply.CodeNotFound, "no route %s %s", r.Method, r.URL.Path))
		return
	}
	a.mux.ServeHTTP(w, r)
}

// Preload loads the model now instead of on the first request; the instance is
// ready (its init time ends) once the model is loaded.
func (a *API) Preload(ctx context.Context) error {
	_, _, err := a.detector.get(ctx)
	if err == nil {
		a.Instance.MarkReady()
	}
	return err
}

// ModelLoaded reports whether the detector is ready.
func (a *API) ModelLoaded() bool { return a.detector.ready() != nil }

// ModelLoads counts the model load attempts so far.
func (a *API) ModelLoads() int64 { return a.detector.loads.Load() }

// Close releases the detector and the buckets.
func (a *API) Close() error {
	errs := []error{a.detector.close(), a.Input.Close(), a.Output.Close()}
	if a.model != nil && a.model != a.Input {
		errs = append(errs, a.model.Close())
	}
	return errors.Join(errs...)
}

// loader reads the model object and builds the detector, marking the instance
// ready when it is.
func (a *API) loader(o Options) func(ctx context.Context) (detect.Detector, error) {
	bucket, key := o.Model, o.ModelKey
	if bucket == nil {
		bucket = o.Input
	}
	a.model = bucket
	newDetector := o.NewDetector
	if newDetector == nil {
		newDetector = detect.New
	}
	return func(ctx context.Context) (detect.Detector, error) {
		start := time.Now()
		data, err := bucket.Read(ctx, key, 0)
		if err != nil {
			err = fmt.Errorf("load model %s from %s: %w", key, bucket.Name(), err)
			a.Log.ErrorContext(ctx, "model load failed", "err", err)
			return nil, err
		}
		// The detector outlives this load's deadline: hand it a context that is
		// never cancelled, in case a backend keeps it.
		det, err := newDetector(context.WithoutCancel(ctx), a.Config.Backend, data, a.loadOptions())
		if err != nil {
			err = fmt.Errorf("load model %s from %s on backend %s: %w", key, bucket.Name(), a.Config.Backend, err)
			a.Log.ErrorContext(ctx, "model load failed", "err", err)
			return nil, err
		}
		a.Log.InfoContext(ctx, "model loaded", "key", key, "bucket", bucket.Name(), "bytes", len(data),
			"backend", det.Backend(), "threads", det.Threads(), "threads_from", a.threadsFrom, "ms", time.Since(start).Milliseconds())
		return det, nil
	}
}

// middleware recovers panics, sets the deadline and logs each request.
func (a *API) middleware(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.Log.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if !rec.wrote {
					reply.WriteError(rec, r, a.Log, reply.Errorf(http.StatusInternalServerError, reply.CodeInternal, "internal error"))
				}
			}
			a.Log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "ms", float64(time.Since(start).Microseconds())/1000)
		}()
		if timeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(rec, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// discard is a ResponseWriter that keeps headers and drops the body.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// runsWith is what answers report of the detector: the loaded one's backend and
// threads, else the configured backend and the threads it will be given.
func (a *API) runsWith() (backend string, threads int, loaded bool) {
	if det := a.detector.ready(); det != nil {
		return det.Backend(), det.Threads(), true // the backend "auto" chose
	}
	return a.Config.Backend, a.threads, false
}

// describe completes an answer's server object with the detector's backend and
// threads as they are when the answer is written (the request may have loaded
// the model since it began) and the JPEG codec.
func (a *API) describe(server instance.Info) instance.Info {
	server.Backend, server.Threads, _ = a.runsWith()
	server.Codec = imagein.Codec()
	return server
}

// finish closes a request's stages: "init" (process start to ready) on an
// instance's cold answer only, as the contract says, then "total".
func (a *API) finish(server instance.Info, stages *timing.Stages) timing.Map {
	if server.Cold {
		stages.Add("init", a.Instance.Init())
	}
	return stages.Finish()
}
