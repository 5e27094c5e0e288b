package detect

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// Sizes of the network's input and output tensors.
const (
	inputLen  = 3 * InputSize * InputSize
	outputLen = numAnchors * rowLen
)

var (
	inputShape  = []int64{1, 3, InputSize, InputSize}
	outputShape = []int64{1, numAnchors, int64(rowLen)}
)

// network is what differs between backends: YOLOX run on one letterboxed input (inputShape,
// planar BGR) into one raw output (outputShape). Implementations are safe for concurrent
// use; close is called once, after every run has returned.
type network interface {
	run(ctx context.Context, in, out []float32) error
	// threads is how many threads one run spreads over.
	threads() int
	close() error
}

// detector is the Detector of every backend: shared letterbox and decoding around the
// backend's network.
type detector struct {
	backend string
	net     network

	// mu makes Close wait for running calls; closed is guarded by it.
	mu     sync.RWMutex
	closed bool

	bufs sync.Pool // *buffers
}

// buffers are one call's input and output, pooled: 3.3 MB per call is worth reusing.
type buffers struct{ in, out []float32 }

func newDetector(backend string, net network) *detector {
	return &detector{
		backend: backend,
		net:     net,
		bufs: sync.Pool{New: func() any {
			return &buffers{make([]float32, inputLen), make([]float32, outputLen)}
		}},
	}
}

func (d *detector) Backend() string { return d.backend }

func (d *detector) Threads() int { return d.net.threads() }

// stages is how long each part of one Detect call took.
type stages struct{ preprocess, network, postprocess time.Duration }

func (d *detector) Detect(ctx context.Context, img image.Image, opt Options) ([]Detection, error) {
	dets, _, err := d.detect(ctx, img, opt)
	return dets, err
}

func (d *detector) detect(ctx context.Context, img image.Image, opt Options) (dets []Detection, st stages, err error) {
	defer func() {
		// A bug or an odd input must cost one request, not the instance. The stack goes
		// to the log, not into an error a client may see.
		if p := recover(); p != nil {
			slog.ErrorContext(ctx, "detector panic", "backend", d.backend, "panic", p, "stack", string(debug.Stack()))
			dets, err = nil, fmt.Errorf("detect with %s: internal error (panic: %v)", d.backend, p)
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}
	opt, err = opt.withDefaults()
	if err != nil {
		return nil, st, err
	}
	if img == nil || img.Bounds().Empty() {
		return nil, st, fmt.Errorf("%w: no pixels", ErrInvalidImage)
	}

	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, st, errors.New("detect: detector is closed")
	}

	t := d.bufs.Get().(*buffers)
	defer d.bufs.Put(t)

	start := time.Now()
	r := letterbox(img, t.in)
	st.preprocess = time.Since(start)

	start = time.Now()
	if err := d.net.run(ctx, t.in, t.out); err != nil {
		return nil, st, fmt.Errorf("detect with %s: %w", d.backend, err)
	}
	st.network = time.Since(start)

	start = time.Now()
	b := img.Bounds()
	dets = decode(t.out, r, b.Dx(), b.Dy(), opt)
	st.postprocess = time.Since(start)
	return dets, st, nil
}

func (d *detector) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if err := d.net.close(); err != nil {
		return fmt.Errorf("close %s detector: %w", d.backend, err)
	}
	return nil
}

// checkShapes verifies that a model has YOLOX-nano's single input and output, so that a
// wrong file fails at load time with a message rather than at the first image.
func checkShapes(inputs, outputs [][]int64) error {
	if len(inputs) != 1 || len(outputs) != 1 {
		return fmt.Errorf("%w: want 1 input and 1 output, the model has %d and %d",
			ErrInvalidModel, len(inputs), len(outputs))
	}
	if !sameDims(inputs[0], inputShape) {
		return fmt.Errorf("%w: input shape %v, want %v (YOLOX-nano)", ErrInvalidModel, inputs[0], inputShape)
	}
	if !sameDims(outputs[0], outputShape) {
		return fmt.Errorf("%w: output shape %v, want %v (YOLOX-nano)", ErrInvalidModel, outputs[0], outputShape)
	}
	return nil
}

// sameDims compares dimensions, a dynamic one (negative) matching anything.
func sameDims(got, want []int64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] >= 0 && got[i] != want[i] {
			return false
		}
	}
	return true
}
