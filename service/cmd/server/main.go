// Command server serves the inference service over HTTP on $PORT (ECS, local).
// It logs JSON to stderr and shuts down gracefully on SIGTERM or SIGINT: it stops
// accepting, lets requests in flight finish, then exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
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
