// Command server serves the inference service over HTTP on $PORT (ECS, local).
// It logs JSON to stderr and shuts down gracefully on SIGTERM or SIGINT: it stops
// accepting, lets requests in flight finish, then exits. With SERVEBENCH_DEBUG_ADDR
// set it also serves net/http/pprof on that loopback address, apart from the
// service's port; unset (the default) it serves nothing more.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/instance"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	log := api.NewLogger(cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	h, err := api.Open(ctx, api.Options{Config: cfg, Log: log, Instance: instance.New()})
	if err != nil {
		return err
	}
	defer h.Close()

	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// The handler's own deadline answers 504; these only cut off stuck clients.
		ReadTimeout:  cfg.RequestTimeout + 10*time.Second,
		WriteTimeout: cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on %s=%d: %w", config.EnvPort, cfg.Port, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "input", cfg.InputBucket, "output", cfg.OutputBucket,
		"backend", cfg.Backend, "preload", cfg.Preload)

	// Both listeners before either serves: an address taken stops the server
	// before it has answered anything.
	debugServed := make(chan error, 1)
	if cfg.DebugAddr != "" {
		dsrv, dln, err := debugServer(cfg.DebugAddr)
		if err != nil {
			_ = ln.Close()
			return err
		}
		dsrv.ErrorLog = srv.ErrorLog
		// Closed, not shut down gracefully: a profile in progress is of no use once
		// the process is stopping.
		defer dsrv.Close()
		log.Info("debug listening", "addr", dln.Addr().String(), "serves", "/debug/pprof/")
		go func() { debugServed <- dsrv.Serve(dln) }()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case err := <-debugServed:
		_ = srv.Close()
		return fmt.Errorf("serve debug on %s=%s: %w", config.EnvDebugAddr, cfg.DebugAddr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.RequestTimeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// debugServer listens on addr (config has checked it is loopback) and serves
// net/http/pprof there on a mux of its own: the package's init also registers on
// http.DefaultServeMux, which nothing here serves, so the service's port never
// answers /debug/pprof/.
func debugServer(addr string) (*http.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s=%s: %w", config.EnvDebugAddr, addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// No WriteTimeout: a CPU profile or trace streams for as long as asked (?seconds=).
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}, ln, nil
}
