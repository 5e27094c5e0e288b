package annotate

import (
	"bytes"
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

// TestDrawOn: drawing in place gives the pixels Draw's copy gets, on the image itself,
// with boxes counted from its own top-left corner (a sub-image's too).
func TestDrawOn(t *testing.T) {
	base := image.NewRGBA(image.Rect(0, 0, 500, 400))
	for i := range base.Pix {
		base.Pix[i] = uint8(i * 7)
	}
	sub := base.SubImage(image.Rect(50, 40, 450, 340)).(*image.RGBA)
	dets := []detect.Detection{
		{Label: "dog", ClassID: 16, Score: 0.85, Box: [4]float32{100, 100, 300, 250}},
		{Label: "person", ClassID: 0, Score: 0.5, Box: [4]float32{-20, -5, 50, 40}}, // no room above
	}
	want := Draw(sub, dets)
	before := bytes.Clone(base.Pix)
	if got := Draw(sub, dets); !bytes.Equal(base.Pix, before) || !bytes.Equal(got.Pix, want.Pix) {
		t.Fatalf("Draw changed an RGBA source, or drew differently twice")
	}
	DrawOn(sub, dets)
	for y := range 300 {
		for x := range 400 {
			if g, w := sub.RGBAAt(50+x, 40+y), want.RGBAAt(x, y); g != w {
				t.Fatalf("pixel (%d,%d) of the sub-image is %v in place, %v in Draw's copy", x, y, g, w)
			}
		}
	}
	outside := 0
	for y := range 400 {
		for x := range 500 {
			if !(image.Point{x, y}).In(sub.Rect) && base.RGBAAt(x, y) != rgbaOf(before, base.Stride, x, y) {
				outside++
			}
		}
	}
	if outside > 0 {
		t.Errorf("DrawOn changed %d pixels outside the sub-image", outside)
	}
}

func rgbaOf(pix []uint8, stride, x, y int) color.RGBA {
	p := pix[y*stride+4*x:]
	return color.RGBA{p[0], p[1], p[2], p[3]}
}

// BenchmarkDraw times drawing dog.jpg's three detections on a 768×576 image, on a copy
// (Draw) and in place (DrawOn):
//
//	go test -run '^$' -bench Draw ./annotate/
func BenchmarkDraw(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, 768, 576))
	dets := []detect.Detection{
		{Label: "dog", ClassID: 16, Score: 0.855, Box: [4]float32{133, 207, 326, 543}},
		{Label: "bicycle", ClassID: 1, Score: 0.803, Box: [4]float32{52, 137, 572, 424}},
		{Label: "car", ClassID: 2, Score: 0.798, Box: [4]float32{466, 78, 692, 171}},
	}
	b.Run("copy", func(b *testing.B) {
		for b.Loop() {
			Draw(img, dets)
		}
	})
	b.Run("in place", func(b *testing.B) {
		for b.Loop() {
			DrawOn(img, dets)
		}
	})
}
