// Package detect finds objects in images with YOLOX-nano (COCO, 80 classes).
//
// Two backends sit behind Detector: ONNX Runtime (cgo, build tag onnxruntime) and
// pure Go (gomlx). Both share the preprocessing (letterbox) and the decoding (grid
// decode, score filter, per-class NMS), so only the network itself differs.
package detect

import (
	"context"
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
	Close() error
}
