package annotate

import (
	"image"
	"image/color"
	"testing"

	"github.com/servebench/servebench/service/detect"
)

func TestDraw(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 400, 300))
	for i := range src.Pix {
		src.Pix[i] = 128
	}
	dets := []detect.Detection{
		{Label: "dog", ClassID: 16, Score: 0.85, Box: [4]float32{100, 100, 300, 250}},
		{Label: "person", ClassID: 0, Score: 0.5, Box: [4]float32{-20, -5, 50, 40}},   // clipped, no room above
		{Label: "ghost", ClassID: 1, Score: 0.5, Box: [4]float32{500, 500, 600, 600}}, // outside: skipped
	}
	out := Draw(src, dets)
	if out.Bounds() != src.Bounds() {
		t.Fatalf("bounds %v, want %v", out.Bounds(), src.Bounds())
	}
	want := Color(16)
	for _, p := range []image.Point{{100, 180}, {299, 180}, {200, 101}, {200, 249}} {
		if got := out.RGBAAt(p.X, p.Y); got != want {
			t.Errorf("box edge at %v is %v, want the class colour %v", p, got, want)
		}
	}
	if got := out.RGBAAt(200, 180); got != (color.RGBA{128, 128, 128, 255}) {
		t.Errorf("inside the box at (200,180) is %v, want the image untouched", got)
	}
	if got := out.RGBAAt(390, 290); got != (color.RGBA{128, 128, 128, 255}) {
		t.Errorf("far from boxes the image changed: %v", got)
	}
	// The tag above the box holds the label: some pixels there are neither the
	// image nor the tag colour (the text).
	text := 0
	for y := 100 - 15; y < 100; y++ {
		for x := 100; x < 180; x++ {
			if c := out.RGBAAt(x, y); c != want && c != (color.RGBA{128, 128, 128, 255}) {
				text++
			}
		}
	}
	if text < 20 {
		t.Errorf("no label text drawn above the box (%d text pixels)", text)
	}
	if src.Pix[0] != 128 || src.GrayAt(100, 180).Y != 128 {
		t.Errorf("Draw changed its source image")
	}
	if got := out.RGBAAt(0, 20); got != Color(0) {
		t.Errorf("clipped box's edge at (0,20) is %v, want %v", got, Color(0))
	}
}
