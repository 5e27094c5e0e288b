package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/imagein"
	"github.com/servebench/servebench/service/storage"
)

// Open opens the buckets o.Config names and builds the API on them, the way every
// entry point does; o needs Config, Log and Instance (NewDetector is optional). The
// model is read later, on first use, unless Config.Preload asks for it now.
func Open(ctx context.Context, o Options) (*API, error) {
	cfg := o.Config
	sopt := storage.Options{FileBaseURL: cfg.PublicURL + FilesPath}
	in, err := storage.Open(ctx, cfg.InputBucket, storage.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvInputBucket, err)
	}
	out, err := storage.Open(ctx, cfg.OutputBucket, sopt)
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("%s: %w", config.EnvOutputBucket, err)
	}
	o.Input, o.Output = in, out
	// The model usually sits in the input bucket; reuse that bucket then (a mem://
	// bucket opened twice would be two empty buckets).
	if key, ok := storage.KeyIn(cfg.InputBucket, cfg.Model); ok {
		o.ModelKey = key
	} else {
		burl, key, err := storage.SplitObjectURL(cfg.Model)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s: %w", config.EnvModel, err), in.Close(), out.Close())
		}
		mb, err := storage.Open(ctx, burl, storage.Options{})
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s: %w", config.EnvModel, err), in.Close(), out.Close())
		}
		o.Model, o.ModelKey = mb, key
	}
	a, err := New(o)
	if err != nil {
		return nil, errors.Join(err, in.Close(), out.Close())
	}
	// The model loads lazily, but whether its backend can run here is known now: a
	// library that does not load is a start-up error naming its variable (or, under
	// auto, a logged fallback), not a 500 on the first request.
	if err := detect.CheckBackend(ctx, cfg.Backend, a.loadOptions()); err != nil {
		return nil, errors.Join(fmt.Errorf("%s=%s: %w", config.EnvBackend, cfg.Backend, err), a.Close())
	}
	// Likewise the JPEG codec: a SERVEBENCH_TURBOJPEG_LIB that does not load is a
	// start-up error naming it; otherwise this logs, once, which codec runs and why.
	if err := imagein.LoadCodec(a.Log); err != nil {
		return nil, errors.Join(err, a.Close())
	}
	if cfg.Preload {
		if err := a.Preload(ctx); err != nil {
			return nil, errors.Join(fmt.Errorf("%s=true: %w", config.EnvPreload, err), a.Close())
		}
	}
	// The instance's init time ends here: configuration read, buckets open and,
	// with preload, the model loaded. A lazily loaded model is not part of it; the
	// request that waits for it reports the wait as its own "model" stage, so init
	// never counts the idle time before the first request.
	a.Instance.MarkReady()
	return a, nil
}

// loadOptions are what the detector is loaded with: the platform's threads, the
// configured ONNX Runtime library, and the service's log for auto's fallback warning.
func (a *API) loadOptions() detect.LoadOptions {
	return detect.LoadOptions{Threads: a.threads, Library: a.Config.ONNXRuntimeLib, Log: a.Log}
}

// NewLogger is the JSON logger every entry point uses, at level (debug, info, warn,
// error; config has checked it).
func NewLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
