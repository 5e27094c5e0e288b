// Package predicttest is the service's /predict answer as tests outside the service
// module decode it, and the reference detections they hold it to: DESIGN.md's for
// images/dog.jpg (OpenCV DNN with the official YOLOX preprocessing).
package predicttest

import (
	"math"
	"testing"
)

// Detection is one entry of an answer's "detections".
type Detection struct {
	Label string     `json:"label"`
	Score float64    `json:"score"`
	Box   [4]float64 `json:"box"` // x1, y1, x2, y2 in the original image's pixels
}

// Server is an answer's "server" object.
type Server struct {
	Cold     bool   `json:"cold"`
	Instance string `json:"instance"`
	Platform string `json:"platform"`
	Runtime  string `json:"runtime"`
	MemoryMB int    `json:"memory_mb"`
	Backend  string `json:"backend"`
	Threads  int    `json:"threads"`
	Codec    string `json:"codec"`
}

// Answer is the 200 answer of POST /predict.
type Answer struct {
	Bucket     string             `json:"bucket"`
	Filename   string             `json:"filename"`
	Location   string             `json:"location"`
	Detections []Detection        `json:"detections"`
	Server     Server             `json:"server"`
	TimingsMS  map[string]float64 `json:"timings_ms"`
}

// DogReference is DESIGN.md's reference for images/dog.jpg, in the service's order
// (score, highest first).
var DogReference = []Detection{
	{"dog", 0.855, [4]float64{133, 207, 326, 543}},
	{"bicycle", 0.803, [4]float64{52, 137, 572, 424}},
	{"car", 0.798, [4]float64{466, 78, 692, 171}},
}

// Tolerances against the reference: the service's preprocessing matches the official
// one to within these (DESIGN.md: scores within 0.01, boxes within a few pixels).
const (
	ScoreTolerance = 0.01
	BoxTolerancePx = 3
)

// CheckDog fails t unless got are DogReference's detections within the tolerances.
func CheckDog(t testing.TB, got []Detection) {
	t.Helper()
	if len(got) != len(DogReference) {
		t.Fatalf("detections %+v, want %+v", got, DogReference)
	}
	for i, want := range DogReference {
		g := got[i]
		if g.Label != want.Label || math.Abs(g.Score-want.Score) > ScoreTolerance {
			t.Errorf("detection %d: %s %.3f, want %s %.3f ± %g", i, g.Label, g.Score, want.Label, want.Score, ScoreTolerance)
		}
		for j := range g.Box {
			if math.Abs(g.Box[j]-want.Box[j]) > BoxTolerancePx {
				t.Errorf("detection %d (%s): box %v, want %v within %d px", i, g.Label, g.Box, want.Box, BoxTolerancePx)
				break
			}
		}
	}
}
