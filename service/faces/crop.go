package faces

import (
	_ "embed"
	"errors"
	"fmt"
	"image"
	"math"
	"sync"

	pigo "github.com/esimov/pigo/core"
)

// facefinder is pigo's own face cascade (see cascade/NOTICE).
//
//go:embed cascade/facefinder
var facefinder []byte

var (
	cascadeOnce sync.Once
	cascade     *pigo.Pigo
	cascadeErr  error
)

func faceCascade() (*pigo.Pigo, error) {
	cascadeOnce.Do(func() {
		cascade, cascadeErr = pigo.NewPigo().Unpack(facefinder)
		if cascadeErr != nil {
			cascadeErr = fmt.Errorf("unpack the face cascade: %w", cascadeErr)
		}
	})
	return cascade, cascadeErr
}

// ErrNoFace is returned by FaceRegion when the photo holds no face.
var ErrNoFace = errors.New("no face found")

// The frame around a detection, in units of pigo's detection size: measured on
// ORL faces pasted into larger photos, an ORL image is 1.02 detection sizes wide
// and centred 0.03 to the right of and 0.04 above the detection's centre.
const (
	frameWidth = 1.02
	frameDX    = 0.03
	frameDY    = -0.04
)

// minFaceScore is pigo's detection quality below which a window is not a face
// (its examples use 5).
const minFaceScore = 5

// Face tells how the part of an uploaded image given to the classifier was found.
type Face struct {
	Box      [4]int  `json:"box"`      // x1, y1, x2, y2 in the uploaded image
	Detected bool    `json:"detected"` // false: the image was taken as a face crop as it is
	Score    float32 `json:"detection_score,omitempty"`
}

// FaceRegion returns the region of img to classify with a model trained on w×h
// images. An image already shaped like the training images (aspect within 5 %)
// and not much larger (each side at most 4×) is a face crop and is used whole.
// Otherwise pigo finds the face with the best score, and the region is a box of
// the training aspect around it that frames the face as an ORL image does;
// Model.Refine then aligns it with the model's face space.
func FaceRegion(img image.Image, w, h int) (Face, error) {
	b := img.Bounds()
	want := float64(w) / float64(h)
	got := float64(b.Dx()) / float64(b.Dy())
	if math.Abs(got/want-1) <= 0.05 && b.Dx() <= 4*w && b.Dy() <= 4*h {
		return Face{Box: [4]int{b.Min.X, b.Min.Y, b.Max.X, b.Max.Y}}, nil
	}
	c, err := faceCascade()
	if err != nil {
		return Face{}, err
	}
	pixels := pigo.RgbToGrayscale(img)
	cols, rows := b.Dx(), b.Dy()
	dets := c.RunCascade(pigo.CascadeParams{
		MinSize:     max(20, min(cols, rows)/20),
		MaxSize:     min(cols, rows),
		ShiftFactor: 0.1,
		ScaleFactor: 1.1,
		ImageParams: pigo.ImageParams{Pixels: pixels, Rows: rows, Cols: cols, Dim: cols},
	}, 0)
	dets = c.ClusterDetections(dets, 0.2)
	best := -1
	for i, d := range dets {
		if d.Q >= minFaceScore && (best < 0 || d.Q > dets[best].Q) {
			best = i
		}
	}
	if best < 0 {
		return Face{}, ErrNoFace
	}
	d := dets[best]
	s := float64(d.Scale)
	bw := s * frameWidth
	bh := bw / want
	cx, cy := float64(d.Col)+s*frameDX, float64(d.Row)+s*frameDY
	r := image.Rect(int(cx-bw/2), int(cy-bh/2), int(cx+bw/2), int(cy+bh/2)).Add(b.Min)
	r = r.Intersect(b)
	if r.Empty() {
		return Face{}, ErrNoFace
	}
	return Face{Box: [4]int{r.Min.X, r.Min.Y, r.Max.X, r.Max.Y}, Detected: true, Score: d.Q}, nil
}
