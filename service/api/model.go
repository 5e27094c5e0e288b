package api

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/reply"
)

// modelLoadTimeout bounds one load attempt; it runs detached from the request that
// started it, so a client that gives up does not fail the load for the others.
const modelLoadTimeout = 5 * time.Minute

// lazyDetector loads the detector once per process, on first use. Concurrent first
// callers wait for the same load; a failed load is reported to everyone waiting on
// it and the next call tries again.
type lazyDetector struct {
	load  func(ctx context.Context) (detect.Detector, error)
	loads atomic.Int64 // attempts started, for tests and logs

	mu       sync.Mutex
	det      detect.Detector
	inflight chan struct{} // closed when the current attempt ends
	lastErr  error
}

// ready returns the detector if it is loaded, nil otherwise; it never loads.
func (l *lazyDetector) ready() detect.Detector {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.det
}

// get returns the detector, loading it if needed. waited is how long this call
// waited for a load (zero when the detector was ready).
func (l *lazyDetector) get(ctx context.Context) (det detect.Detector, waited time.Duration, err error) {
	l.mu.Lock()
	if l.det != nil {
		defer l.mu.Unlock()
		return l.det, 0, nil
	}
	start := time.Now()
	ch := l.inflight
	if ch == nil {
		ch = make(chan struct{})
		l.inflight = ch
		l.loads.Add(1)
		go l.attempt(context.WithoutCancel(ctx), ch)
	}
	l.mu.Unlock()

	select {
	case <-ch:
	case <-ctx.Done():
		return nil, time.Since(start), fmt.Errorf("wait for the model: %w", ctx.Err())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.det != nil {
		return l.det, time.Since(start), nil
	}
	return nil, time.Since(start), reply.Wrap(http.StatusServiceUnavailable, reply.CodeUnavailable,
		"the model could not be loaded; the next request will try again", l.lastErr)
}

func (l *lazyDetector) attempt(ctx context.Context, done chan struct{}) {
	var det detect.Detector
	var err error
	defer func() {
		// A panic here would take the whole process down: no request's recover
		// covers this goroutine.
		if p := recover(); p != nil {
			det, err = nil, fmt.Errorf("panic loading the model: %v", p)
		}
		if err != nil {
			det = nil
		}
		l.mu.Lock()
		l.det, l.lastErr, l.inflight = det, err, nil
		l.mu.Unlock()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(ctx, modelLoadTimeout)
	defer cancel()
	det, err = l.load(ctx)
}

// close releases the detector if it was loaded.
func (l *lazyDetector) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.det == nil {
		return nil
	}
	err := l.det.Close()
	l.det = nil
	return err
}
