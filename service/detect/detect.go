// Package detect finds objects in images with YOLOX-nano (COCO, 80 classes).
//
// Two backends sit behind Detector: ONNX Runtime (its C library loaded at run time
// through purego by package onnxrt: no cgo) and pure Go (gomlx). Both share the
// preprocessing (letterbox) and the decoding (grid decode, score filter, per-class
// NMS), so only the network itself differs.
package detect

import (
	"context"
	"errors"
	"fmt"
	"image"
)

// Detection is one object found in an image. Box is x1, y1, x2, y2 in the pixels of
// the original image.
type Detection struct {
	Label   string     `json:"label"`
	ClassID int        `json:"class_id"`
	Score   float32    `json:"score"`
	Box     [4]float32 `json:"box"`
}

// Options tune the decoding; zero values take the defaults.
type Options struct {
	ScoreThreshold float32 // default DefaultScoreThreshold
	IOUThreshold   float32 // default DefaultIOUThreshold
}

const (
	DefaultScoreThreshold float32 = 0.5
	DefaultIOUThreshold   float32 = 0.45
)

// Detector runs the network on one image at a time. Implementations are safe for
// concurrent use.
type Detector interface {
	Detect(ctx context.Context, img image.Image, opt Options) ([]Detection, error)
	// Backend names the backend ("onnxruntime" or "gomlx").
	Backend() string
	// Threads is how many threads one Detect spreads the network over (ONNX Runtime's
	// intra-op threads; gomlx's parallelism).
	Threads() int
	Close() error
}

// Errors a caller can tell apart with errors.Is: the first two are the caller's fault
// (a bad request), the third a bad model file.
var (
	ErrInvalidOptions = errors.New("invalid detection options")
	ErrInvalidImage   = errors.New("invalid image")
	ErrInvalidModel   = errors.New("invalid model")
)

// withDefaults fills zero thresholds with the defaults and rejects values outside (0, 1].
func (o Options) withDefaults() (Options, error) {
	if o.ScoreThreshold == 0 {
		o.ScoreThreshold = DefaultScoreThreshold
	}
	if o.IOUThreshold == 0 {
		o.IOUThreshold = DefaultIOUThreshold
	}
	// Written so that NaN fails too.
	if !(o.ScoreThreshold > 0 && o.ScoreThreshold <= 1) {
		return o, fmt.Errorf("%w: score threshold %v is not in (0, 1]", ErrInvalidOptions, o.ScoreThreshold)
	}
	if !(o.IOUThreshold > 0 && o.IOUThreshold <= 1) {
		return o, fmt.Errorf("%w: IoU threshold %v is not in (0, 1]", ErrInvalidOptions, o.IOUThreshold)
	}
	return o, nil
}

// Validate reports whether Detect would accept o (zero values meaning the defaults), so
// that a caller can reject a bad request before doing any work.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}
