package detect

import (
	"bytes"
	"image"
	"image/color"
	"image/color/palette"
	"image/png"
	"testing"
)

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
	row := make([]uint8, 3*4)
	newRowReader(img).row(1, row)
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
		got, want := make([]uint8, 3*w), make([]uint8, 3*w)
		fast, slow := newRowReader(img), newRowReader(struct{ image.Image }{img})
		for y := range h {
			fast.row(y, got)
			slow.row(y, want)
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

func TestNRGBAIgnoresAlpha(t *testing.T) {
	// cv2.imread(IMREAD_COLOR) drops alpha and keeps the colour as stored; image.At would
	// premultiply it to black.
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0})
	img.SetNRGBA(1, 0, color.NRGBA{10, 20, 30, 128})
	row := make([]uint8, 6)
	newRowReader(img).row(0, row)
	if want := []uint8{200, 100, 50, 10, 20, 30}; !bytes.Equal(row, want) {
		t.Errorf("row %v, want %v", row, want)
	}
}
