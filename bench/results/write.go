package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Writer appends a run's lines to a JSON Lines file. Every line goes to the file in
// one write as soon as it is given, unbuffered, so what was measured survives a crash
// or Ctrl-C. Safe for concurrent use.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
	err    error // first write error; later writes are refused with it
	n      int   // records written
}

// Create makes a new results file at path (which must not exist: a run never
// overwrites another's measurements) and writes h as its first line.
func Create(path string, h Header) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create results file: %w", err)
	}
	w, err := NewWriter(f, h)
	if err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	w.closer = f
	return w, nil
}

// NewWriter writes h as the first line to w and returns a Writer for the rest.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Kind = "header"
	rw := &Writer{w: w}
	if err := rw.line(h); err != nil {
		return nil, fmt.Errorf("write results header: %w", err)
	}
	return rw, nil
}

// Record writes one request.
func (w *Writer) Record(r Record) error {
	r.Kind = "request"
	if err := w.line(r); err != nil {
		return fmt.Errorf("write result of request %d: %w", r.Seq, err)
	}
	w.mu.Lock()
	w.n++
	w.mu.Unlock()
	return nil
}

// Sample writes one point of a time series.
func (w *Writer) Sample(s Sample) error {
	s.Kind = "sample"
	if err := w.line(s); err != nil {
		return fmt.Errorf("write %s sample: %w", s.Metric, err)
	}
	return nil
}

// Capacity writes one capacity found by the rate scenario's search.
func (w *Writer) Capacity(c Capacity) error {
	c.Kind = "capacity"
	if err := w.line(c); err != nil {
		return fmt.Errorf("write capacity of %s %s (%s): %w", c.Target, c.Function, c.Scaling, err)
	}
	return nil
}

// Records is the number of request records written so far.
func (w *Writer) Records() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Close closes the file (when the Writer made it) and reports the first write error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	if w.closer != nil {
		err = w.closer.Close()
		w.closer = nil
	}
	return errors.Join(w.err, err)
}

func (w *Writer) line(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if _, err := w.w.Write(b); err != nil {
		w.err = err
		return err
	}
	return nil
}
