package detect

import (
	"context"
	"fmt"
	"image"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/draw"
)

type refDet struct {
	label string
	score float32
	box   [4]float32
}

// references are YOLOX-nano's detections (score ≥ 0.5, NMS 0.45 per class) with the
// official preprocessing, computed by a runtime independent of this project (OpenCV DNN);
// see DESIGN.md.
var references = map[string][]refDet{
	"000000000872.jpg": {{"person", 0.860, [4]float32{147, 130, 412, 614}}, {"person", 0.752, [4]float32{278, 109, 437, 596}}},
	"bus.jpg": {{"bus", 0.903, [4]float32{14, 231, 801, 733}}, {"person", 0.858, [4]float32{50, 395, 216, 898}},
		{"person", 0.808, [4]float32{220, 402, 347, 855}}, {"person", 0.696, [4]float32{685, 454, 810, 874}}},
	"dog.jpg": {{"dog", 0.855, [4]float32{133, 207, 326, 543}}, {"bicycle", 0.803, [4]float32{52, 137, 572, 424}},
		{"car", 0.798, [4]float32{466, 78, 692, 171}}},
	"horses.jpg": {{"horse", 0.791, [4]float32{0, 184, 368, 411}}, {"horse", 0.594, [4]float32{243, 169, 438, 363}},
		{"horse", 0.523, [4]float32{440, 215, 597, 344}}},
	"image1.jpg": {{"person", 0.905, [4]float32{4, 5, 397, 530}}, {"person", 0.905, [4]float32{246, 75, 637, 530}},
		{"tie", 0.612, [4]float32{196, 194, 258, 442}}},
	"image2.jpg": {{"person", 0.920, [4]float32{423, 26, 629, 476}}, {"person", 0.919, [4]float32{42, 36, 461, 474}},
		{"sports ball", 0.864, [4]float32{46, 191, 189, 337}}},
	"image3.jpg": {{"horse", 0.921, [4]float32{100, 33, 425, 509}}, {"dog", 0.883, [4]float32{9, 318, 272, 573}}},
	"zidane.jpg": {{"person", 0.875, [4]float32{151, 201, 680, 713}}, {"person", 0.826, [4]float32{688, 37, 1150, 707}}},
}

// The reference boxes are whole pixels. With the letterbox bit-exact to OpenCV's, what
// remains is the decoder and the runtime: decoded by libjpeg-turbo (as cv2.imread
// decodes), scores come within 0.001 and box edges within 0.5 px of the reference; by
// image/jpeg, whose IDCT differs by a level or two on a few percent of values, within
// 0.004 and 1 px.
const (
	refScoreTol = 0.01
	refBoxTol   = 3 // pixels
)

// checkReference asserts that got has exactly the reference's detections: same labels,
// scores within refScoreTol, boxes within refBoxTol, sorted by score.
func checkReference(t *testing.T, name string, got []Detection) {
	t.Helper()
	want := references[name]
	var log strings.Builder
	for _, d := range got {
		fmt.Fprintf(&log, "\n  %s %.3f %.1f", d.Label, d.Score, d.Box)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d detections, want %d:%s", name, len(got), len(want), log.String())
	}
	if !slices.IsSortedFunc(got, func(a, b Detection) int { return -cmpF(a.Score, b.Score) }) {
		t.Errorf("%s: detections not sorted by score:%s", name, log.String())
	}
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if used[i] || g.Label != w.label || g.Label != Labels[g.ClassID] {
				continue
			}
			if math.Abs(float64(g.Score-w.score)) <= refScoreTol && boxDist(g.Box, w.box) <= refBoxTol {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("%s: no detection matching %s %.3f %v (score ±%v, box ±%vpx); got:%s",
				name, w.label, w.score, w.box, refScoreTol, refBoxTol, log.String())
		}
	}
	worstScore, worstBox := 0.0, 0.0
	for _, w := range want {
		for _, g := range got {
			if g.Label == w.label && boxDist(g.Box, w.box) <= refBoxTol {
				worstScore = max(worstScore, math.Abs(float64(g.Score-w.score)))
				worstBox = max(worstBox, boxDist(g.Box, w.box))
			}
		}
	}
	t.Logf("%s: largest differences: score %.4f, box %.2f px;%s", name, worstScore, worstBox, log.String())
}

func cmpF(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// boxDist is the largest difference between the coordinates of two boxes.
func boxDist(a, b [4]float32) float64 {
	d := 0.0
	for k := range a {
		d = max(d, math.Abs(float64(a[k]-b[k])))
	}
	return d
}

// decoders are the two ways the service reads a JPEG: libjpeg-turbo when its library
// loads (*image.RGBA), else image/jpeg (*image.YCbCr, upsampled the libjpeg way by the
// letterbox).
var decoders = map[string]func(testing.TB, string) image.Image{
	"turbojpeg": func(tb testing.TB, name string) image.Image { return turboImage(tb, name) },
	"go":        loadImage,
}

// TestReference checks every backend against the reference detections: ONNX Runtime on
// all the images, each decoded both ways; gomlx (seconds per image) on two, decoded by
// image/jpeg. The images of a backend run at the same time.
func TestReference(t *testing.T) {
	for _, backend := range Backends() {
		t.Run(backend, func(t *testing.T) {
			if backend == BackendGoMLX {
				skipGoMLXRunUnderRace(t)
			}
			d := testDetector(t, backend)
			names, decs := []string{"dog.jpg", "horses.jpg"}, []string{"go"}
			if backend == BackendONNXRuntime {
				names, decs = slices.Sorted(maps.Keys(references)), slices.Sorted(maps.Keys(decoders))
			}
			for _, dec := range decs {
				// In parallel: concurrent calls must give the same answers.
				for _, name := range names {
					t.Run(dec+"/"+name, func(t *testing.T) {
						t.Parallel()
						got, err := d.Detect(context.Background(), decoders[dec](t, name), Options{})
						if err != nil {
							t.Fatal(err)
						}
						checkReference(t, name, got)
					})
				}
			}
		})
	}
}

// TestReferenceTellsResizeApart shows that the reference check can tell the official
// preprocessing from x/image/draw.BiLinear (which smooths when it shrinks): through the
// same network and decoding, BiLinear's dog score falls outside the tolerance.
func TestReferenceTellsResizeApart(t *testing.T) {
	if Backends()[0] == BackendGoMLX {
		skipGoMLXRunUnderRace(t)
	}
	d := testDetector(t, Backends()[0])
	img := loadImage(t, "dog.jpg")
	b := img.Bounds()
	r := math.Min(float64(InputSize)/float64(b.Dy()), float64(InputSize)/float64(b.Dx()))
	small := image.NewRGBA(image.Rect(0, 0, int(float64(b.Dx())*r), int(float64(b.Dy())*r)))
	draw.BiLinear.Scale(small, small.Bounds(), img, b, draw.Src, nil)

	in, out := make([]float32, inputLen), make([]float32, outputLen)
	if got := letterbox(small, in); got != 1 {
		t.Fatalf("letterbox of the pre-scaled image: ratio %v, want 1", got)
	}
	if err := d.net.run(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	dets := decode(out, r, b.Dx(), b.Dy(), Options{ScoreThreshold: 0.5, IOUThreshold: 0.45})
	const want = 0.855 // the reference, which the official preprocessing meets
	for _, det := range dets {
		if det.Label == "dog" {
			if math.Abs(float64(det.Score-want)) <= refScoreTol {
				t.Fatalf("dog score %.3f with BiLinear is within %v of the reference %.3f: the check cannot tell the resizes apart",
					det.Score, refScoreTol, want)
			}
			t.Logf("BiLinear: dog %.3f (reference %.3f)", det.Score, want)
			return
		}
	}
	t.Fatalf("no dog with BiLinear preprocessing: %v", dets)
}
