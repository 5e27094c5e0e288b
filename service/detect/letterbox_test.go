package detect

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servebench/servebench/service/imagein/turbojpeg"
)

// rgbRow reads row y of a w pixels wide image through rr, packed as R, G, B.
func rgbRow(rr rowReader, y, w int) []uint8 {
	row := rr.row(y, make([]uint8, 3*w))
	out := make([]uint8, 0, 3*w)
	for x := range w {
		out = append(out, row[rr.step*x:rr.step*x+3]...)
	}
	return out
}

// pixel reads the B, G, R values of the letterboxed input at (x, y).
func pixel(in []float32, x, y int) [3]float32 {
	const plane = InputSize * InputSize
	i := y*InputSize + x
	return [3]float32{in[i], in[plane+i], in[2*plane+i]}
}

func TestLetterboxShrinkSamplesWithoutSmoothing(t *testing.T) {
	// 1248×3 shrinks by exactly 3 to 416×1: output pixel x samples the source at
	// (x+0.5)·3−0.5 = 3x+1, row (0.5)·3−0.5 = 1, with weight 1. A smoothing resize would
	// average the three columns instead. (cv2.resize gives the same values.)
	img := image.NewRGBA(image.Rect(0, 0, 1248, 3))
	for y := range 3 {
		for x := range 1248 {
			img.SetRGBA(x, y, color.RGBA{uint8(x % 251), uint8(y * 50), uint8(x % 3 * 100), 255})
		}
	}
	in := make([]float32, inputLen)
	if r := letterbox(img, in); r != 1.0/3 {
		t.Fatalf("ratio %v, want 1/3", r)
	}
	for _, x := range []int{0, 1, 100, 415} {
		sx := 3*x + 1
		want := [3]float32{float32(sx % 3 * 100), 50, float32(sx % 251)} // B, G, R of (3x+1, 1)
		if got := pixel(in, x, 0); got != want {
			t.Errorf("pixel (%d,0) = %v, want %v (source pixel (%d,1))", x, got, want, sx)
		}
	}
	// Below the resized row, and nowhere else, the canvas is padding.
	for _, p := range [][2]int{{0, 1}, {415, 1}, {200, 415}} {
		if got := pixel(in, p[0], p[1]); got != [3]float32{114, 114, 114} {
			t.Errorf("pixel %v = %v, want padding 114", p, got)
		}
	}
}

func TestLetterboxShrinkByTwoAveragesBlocks(t *testing.T) {
	// 832×2 → 416×1: every output pixel is the mean of a 2×2 block, rounded half up.
	img := image.NewRGBA(image.Rect(0, 0, 832, 2))
	block := [4]uint8{10, 20, 30, 41} // (0,0) (1,0) (0,1) (1,1): mean 25.25
	for y := range 2 {
		for x := range 832 {
			v := block[2*y+x%2]
			img.SetRGBA(x, y, color.RGBA{v, v + 1, v + 3, 255}) // R, G, B means 25.25, 26.25, 28.25
		}
	}
	in := make([]float32, inputLen)
	letterbox(img, in)
	for _, x := range []int{0, 207, 415} {
		if got, want := pixel(in, x, 0), [3]float32{28, 26, 25}; got != want {
			t.Errorf("pixel (%d,0) = %v, want BGR %v", x, got, want)
		}
	}
}

func TestLetterboxEnlarge(t *testing.T) {
	// 2×1 (black, red 200) → 416×208. Column d samples (d+0.5)/208−0.5: clamped to the
	// first pixel up to d = 103, the last from d = 312. At d = 207 the weights are
	// 1029:1019 (of 2048), so the row holds 200·1019 = 203800; each output row takes
	// source row 0 twice with weights 1019 and 1029, and OpenCV's vertical pass truncates
	// each product: (203800>>4)·1019>>16 = 198, ·1029>>16 = 199, (198+199+2)>>2 = 99,
	// where exact rounding would give 100. (cv2.resize gives the same values.)
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.SetRGBA(1, 0, color.RGBA{200, 0, 0, 255})
	img.SetRGBA(0, 0, color.RGBA{0, 0, 0, 255})
	in := make([]float32, inputLen)
	if r := letterbox(img, in); r != 208 {
		t.Fatalf("ratio %v, want 208", r)
	}
	for _, c := range []struct{ x, y, red int }{
		{0, 0, 0}, {103, 100, 0}, {207, 0, 99}, {207, 100, 99}, {312, 207, 200}, {415, 207, 200},
	} {
		if got, want := pixel(in, c.x, c.y), [3]float32{0, 0, float32(c.red)}; got != want {
			t.Errorf("pixel (%d,%d) = %v, want %v", c.x, c.y, got, want)
		}
	}
	if got := pixel(in, 0, 208); got != [3]float32{114, 114, 114} {
		t.Errorf("pixel (0,208) = %v, want padding", got)
	}
}

func TestFancyUpsampling(t *testing.T) {
	// A 4×2 4:2:0 image with one chroma row: Cb 100, 200. libjpeg's triangle filter
	// gives Cb 100, 125, 175, 200 across the row (where repeating would give 100, 100,
	// 200, 200), then B = Y + round(1.772·(Cb−128)) and G = Y − round(0.34414·(Cb−128)).
	img := image.NewYCbCr(image.Rect(0, 0, 4, 2), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = 100
	}
	img.Cb[0], img.Cb[1] = 100, 200
	img.Cr[0], img.Cr[1] = 128, 128
	row := rgbRow(newRowReader(img), 1, 4)
	want := []uint8{100, 110, 50, 100, 101, 95, 100, 84, 183, 100, 75, 228} // R, G, B per pixel
	if !bytes.Equal(row, want) {
		t.Errorf("row 1 = %v, want %v", row, want)
	}
}

// TestRowReadersAgree checks each direct pixel-buffer path against image.Image.At,
// including sub-images whose bounds do not start at the origin.
func TestRowReadersAgree(t *testing.T) {
	rect := image.Rect(0, 0, 7, 5)
	rgba, nrgba, gray := image.NewRGBA(rect), image.NewNRGBA(rect), image.NewGray(rect)
	ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
	for y := range 5 {
		for x := range 7 {
			c := color.RGBA{uint8(30 * x), uint8(40 * y), uint8(x * y * 7), 255}
			rgba.SetRGBA(x, y, c)
			nrgba.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, 255})
			gray.SetGray(x, y, color.Gray{uint8(x*30 + y)})
			ycc.Y[ycc.YOffset(x, y)] = uint8(x*30 + y)
			ycc.Cb[ycc.COffset(x, y)] = uint8(100 + x*10)
			ycc.Cr[ycc.COffset(x, y)] = uint8(90 + y*20)
		}
	}
	sub := image.Rect(1, 2, 6, 5)
	for name, img := range map[string]image.Image{
		"RGBA": rgba, "NRGBA": nrgba, "Gray": gray,
		"RGBA sub": rgba.SubImage(sub), "Gray sub": gray.SubImage(sub),
		// Off the origin the YCbCr path converts pixel by pixel, like At.
		"YCbCr sub": ycc.SubImage(sub),
	} {
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		fast, slow := newRowReader(img), newRowReader(struct{ image.Image }{img})
		for y := range h {
			got, want := rgbRow(fast, y, w), rgbRow(slow, y, w)
			if !bytes.Equal(got, want) {
				t.Errorf("%s row %d: %v, At gives %v", name, y, got, want)
			}
		}
	}
}

// oddImages are inputs a service sees sooner or later.
func oddImages(t *testing.T) map[string]image.Image {
	t.Helper()
	pal := image.NewPaletted(image.Rect(0, 0, 50, 30), palette.Plan9)
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, pal); err != nil {
		t.Fatal(err)
	}
	decoded, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := decoded.(*image.Paletted); !ok {
		t.Fatalf("paletted PNG decoded as %T", decoded)
	}
	cmyk := image.NewCMYK(image.Rect(0, 0, 64, 48)) // what image/jpeg gives for a CMYK JPEG
	for i := range cmyk.Pix {
		cmyk.Pix[i] = uint8(i * 13)
	}
	gray := image.NewGray(image.Rect(0, 0, 300, 200))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	return map[string]image.Image{
		"1x1":           image.NewRGBA(image.Rect(0, 0, 1, 1)),
		"1x1 YCbCr":     image.NewYCbCr(image.Rect(0, 0, 1, 1), image.YCbCrSubsampleRatio420),
		"3000x1":        image.NewNRGBA(image.Rect(0, 0, 3000, 1)),
		"1x3000":        image.NewGray(image.Rect(0, 0, 1, 3000)),
		"9x5 YCbCr 440": image.NewYCbCr(image.Rect(0, 0, 9, 5), image.YCbCrSubsampleRatio440),
		"5x9 YCbCr 411": image.NewYCbCr(image.Rect(0, 0, 5, 9), image.YCbCrSubsampleRatio411),
		"gray":          gray,
		"CMYK":          cmyk,
		"paletted PNG":  decoded,
		"offset bounds": image.NewRGBA(image.Rect(-20, 7, 40, 90)),
	}
}

func TestLetterboxOddImages(t *testing.T) {
	in := make([]float32, inputLen)
	for name, img := range oddImages(t) {
		fill(in, -1) // what a previous call left must all be overwritten
		r := letterbox(img, in)
		b := img.Bounds()
		if r <= 0 || int(float64(max(b.Dx(), b.Dy()))*r) > InputSize {
			t.Errorf("%s: ratio %v for %v", name, r, b)
		}
		for i, v := range in {
			if v < 0 || v > 255 {
				t.Fatalf("%s: input[%d] = %v, outside 0–255", name, i, v)
			}
		}
	}
}

// TestLetterboxPathsAgree: splitting the rows into bands, and reading RGBA rows in
// place rather than through image.Image.At, change nothing.
func TestLetterboxPathsAgree(t *testing.T) {
	images := oddImages(t)
	images["dog RGBA"] = turboImage(t, "dog.jpg")
	images["dog YCbCr"] = loadImage(t, "dog.jpg")
	want, got := make([]float32, inputLen), make([]float32, inputLen)
	for name, img := range images {
		rWant := letterboxBands(img, want, 1)
		for _, bands := range []int{2, 3} {
			fill(got, -1)
			if r := letterboxBands(img, got, bands); r != rWant || !slices.Equal(got, want) {
				t.Errorf("%s: %d bands give another input than one", name, bands)
			}
		}
		if _, ok := img.(*image.RGBA); ok {
			fill(got, -1)
			letterboxBands(struct{ image.Image }{img}, got, 1)
			if !slices.Equal(got, want) {
				t.Errorf("%s: reading the pixels in place gives another input than image.At", name)
			}
		}
	}
	if n := letterboxBandsFor(images["dog RGBA"]); runtime.GOMAXPROCS(0) >= 2 && n != 2 {
		t.Errorf("dog.jpg letterboxed in %d bands with %d CPUs, want 2", n, runtime.GOMAXPROCS(0))
	}
	if n := letterboxBandsFor(images["1x1"]); n != 1 {
		t.Errorf("a 1×1 image letterboxed in %d bands, want 1", n)
	}
}

// panicAt is an image whose pixels in rows [y0, y1) panic when read.
type panicAt struct {
	image.Image
	y0, y1 int
}

func (p panicAt) At(x, y int) color.Color {
	if y >= p.y0 && y < p.y1 {
		panic("odd pixel")
	}
	return p.Image.At(x, y)
}

// TestLetterboxBandPanics: a panic while resizing another band reaches the caller,
// whose recover (the detector's) catches it, rather than ending the process; a panic
// in the caller's own band returns only once the other band is done with dst.
func TestLetterboxBandPanics(t *testing.T) {
	letterboxPanic := func(img image.Image) (p any) {
		defer func() { p = recover() }()
		letterboxBands(img, make([]float32, inputLen), 2)
		return nil
	}
	if got := letterboxPanic(panicAt{image.NewRGBA(image.Rect(0, 0, 800, 600)), 500, 600}); got != "odd pixel" {
		t.Errorf("second band: recovered %v, want the band's panic", got)
	}
	var done atomic.Bool
	slow := slowRows{image.NewRGBA(image.Rect(0, 0, 800, 600)), &done}
	if got := letterboxPanic(panicAt{slow, 0, 10}); got != "odd pixel" || !done.Load() {
		t.Errorf("first band: recovered %v with the second band done %v, want its panic after the second band", got, done.Load())
	}
}

// slowRows is an image whose last row takes a while to read, and says when it was.
type slowRows struct {
	image.Image
	done *atomic.Bool
}

func (s slowRows) At(x, y int) color.Color {
	if y == s.Bounds().Max.Y-1 && x == 0 {
		time.Sleep(50 * time.Millisecond)
		s.done.Store(true)
	}
	return s.Image.At(x, y)
}

func TestNRGBAIgnoresAlpha(t *testing.T) {
	// cv2.imread(IMREAD_COLOR) drops alpha and keeps the colour as stored; image.At would
	// premultiply it to black.
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0})
	img.SetNRGBA(1, 0, color.NRGBA{10, 20, 30, 128})
	row := rgbRow(newRowReader(img), 0, 2)
	if want := []uint8{200, 100, 50, 10, 20, 30}; !bytes.Equal(row, want) {
		t.Errorf("row %v, want %v", row, want)
	}
}

// turboImage decodes a test image with libjpeg-turbo, as the service does when the
// library loads; a missing library fails the test, naming SERVEBENCH_TURBOJPEG_LIB and
// scripts/setup-turbojpeg.
func turboImage(tb testing.TB, name string) *image.RGBA {
	tb.Helper()
	c := turboCodec(tb)
	data, err := os.ReadFile(testData(tb, filepath.Join("images", name)))
	if err != nil {
		tb.Fatal(err)
	}
	h, err := c.Header(data)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	img := image.NewRGBA(image.Rect(0, 0, h.Width, h.Height))
	if err := c.DecodeRGBA(data, img); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return img
}

var turbo = sync.OnceValues(func() (*turbojpeg.Codec, error) { return turbojpeg.Open(turbojpeg.Library) })

func turboCodec(tb testing.TB) *turbojpeg.Codec {
	tb.Helper()
	c, err := turbo()
	if err != nil {
		tb.Fatalf("libturbojpeg: %v", err)
	}
	return c
}

// TestFancyRowsMatchLibjpeg: the rows rebuilt from image/jpeg's planes (ycbcr.go) are
// libjpeg-turbo's decoded pixels but for image/jpeg's IDCT rounding: a level or two on
// a few values in a hundred.
func TestFancyRowsMatchLibjpeg(t *testing.T) {
	for name := range references {
		goImg, ok := loadImage(t, name).(*image.YCbCr)
		if !ok {
			t.Fatalf("%s: image/jpeg gave %T, want *image.YCbCr", name, goImg)
		}
		tj := turboImage(t, name)
		w, h := goImg.Rect.Dx(), goImg.Rect.Dy()
		fancy, libjpeg := newRowReader(goImg), newRowReader(tj)
		worst, differ := 0, 0
		for y := range h {
			got, want := rgbRow(fancy, y, w), rgbRow(libjpeg, y, w)
			for i := range got {
				d := int(got[i]) - int(want[i])
				worst = max(worst, d, -d)
				if d != 0 {
					differ++
				}
			}
		}
		frac := float64(differ) / float64(3*w*h)
		if worst > 3 || frac > 0.05 {
			t.Errorf("%s: values differ from libjpeg-turbo's by up to %d levels, %.1f%% of them; want ≤ 3 and ≤ 5%%",
				name, worst, 100*frac)
		}
		t.Logf("%s: up to %d levels on %.2f%% of values", name, worst, 100*frac)
	}
}

// BenchmarkLetterbox times the letterbox of dog.jpg as each decoder leaves it:
//
//	go test -run '^$' -bench Letterbox ./detect/
func BenchmarkLetterbox(b *testing.B) {
	in := make([]float32, inputLen)
	for _, dec := range []string{"turbojpeg", "go"} {
		img := decoders[dec](b, "dog.jpg")
		for _, bands := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/bands=%d", dec, bands), func(b *testing.B) {
				for b.Loop() {
					letterboxBands(img, in, bands)
				}
			})
		}
	}
}
