package pgm

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"slices"
	"strconv"
	"testing"

	"github.com/servebench/servebench/service/faces/internal/allocs"
)

// FuzzPGM: no input panics Decode or DecodeConfig; Decode allocates in
// proportion to its input, never to the size its header declares; what Decode
// accepts, DecodeConfig accepts with the same size and colour model, within
// MaxPixels, as a compact image at the origin; and that image written back as P5
// and as P2 (at full range) decodes to the same pixels.
func FuzzPGM(f *testing.F) {
	for _, s := range pgmSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, cfgErr := DecodeConfig(bytes.NewReader(data))
		var img image.Image
		var err error
		if n, most := allocs.Bytes(func() { img, err = Decode(bytes.NewReader(data)) }), allocBound(len(data)); n > most {
			t.Fatalf("Decode of %d bytes (%v) allocated %d bytes, more than %d", len(data), err, n, most)
		}
		if err != nil {
			if img != nil {
				t.Fatalf("an image and an error: %v", err)
			}
			return
		}
		if cfgErr != nil {
			t.Fatalf("Decode accepted what DecodeConfig refused: %v", cfgErr)
		}
		if b := img.Bounds(); b != image.Rect(0, 0, cfg.Width, cfg.Height) || cfg.Width*cfg.Height > MaxPixels {
			t.Fatalf("image %v, config %d×%d", b, cfg.Width, cfg.Height)
		}
		if _, model := samples(t, img); model != cfg.ColorModel {
			t.Fatalf("%T with colour model %v", img, cfg.ColorModel)
		}
		for _, plain := range []bool{false, true} {
			back, err := Decode(bytes.NewReader(encode(t, img, plain)))
			if err != nil {
				t.Fatalf("written back (plain %v): %v", plain, err)
			}
			a, _ := samples(t, img)
			b, _ := samples(t, back)
			if back.Bounds() != img.Bounds() || !slices.Equal(a, b) {
				t.Fatalf("written back (plain %v): pixels differ", plain)
			}
		}
	})
}

// allocBound is what Decode may allocate for n bytes of input: the buffered
// reader, the image, and the raster grown as it arrives (at most about twice its
// final size; a sample takes at least one byte of input and two of output).
func allocBound(n int) uint64 { return 64<<10 + 8*uint64(n) }

func pgmSeeds(tb testing.TB) [][]byte {
	orl := orlFile(tb, "s1/1.pgm")
	img, err := Decode(bytes.NewReader(orl))
	if err != nil {
		tb.Fatal(err)
	}
	// A part of the face keeps real pixels in a seed small enough to mutate and
	// minimize quickly (a whole ORL image as P2 is 40 KB).
	face := img.(*image.Gray).SubImage(image.Rect(30, 40, 46, 60))
	wide := image.NewGray16(image.Rect(0, 0, 4, 2))
	for i := range wide.Pix {
		wide.Pix[i] = uint8(i * 37)
	}
	tenBits := "P5\n# 10-bit\n2 2\n1000\n"
	seeds := [][]byte{
		orl, // P5, 92×112, maxval 255
		encode(tb, face, false),
		encode(tb, face, true),
		encode(tb, wide, false), // 16 bits, maxval 65535
		encode(tb, wide, true),
		append([]byte(tenBits), 0, 0, 0x01, 0xf4, 0x03, 0xe8, 0x00, 0x07), // 16 bits, maxval 1000
		append([]byte(tenBits), 0, 0, 0x01, 0xf4, 0x03, 0xe8, 0x03, 0xe9), // a sample over maxval
		[]byte("P2 2 2 15\n0 5\n# mid-raster comment\n10 15\n"),
		[]byte("P5\n# a comment\n# another\n3 2\n255\n\x00\x0a\x14\x1e\x28\xff"),
		[]byte("P5 1 1 255\n#"), // a comment as the sample
		[]byte("P2 1 1 255 #no newline"),
		orl[:len(orl)/2],             // cut in the raster
		orl[:15],                     // cut in the header
		[]byte("P5 8192 8192 255\n"), // MaxPixels declared, nothing sent
		[]byte("P2 8192 8192 65535\n1 2 3"),
		[]byte("P5 100000 100000 255\n"),
		[]byte("P5 99999999999999999999 1 255\n"),
		[]byte("P5 3 2 0\n\x00\x00\x00\x00\x00\x00"),
		[]byte("P6 1 1 255\n\x00\x00\x00"),
		[]byte("P2"),
		nil,
	}
	return seeds
}

// samples returns the grey levels of a decoded image, checking that it is one of
// the two kinds Decode makes, compact, and returning its colour model.
func samples(tb testing.TB, img image.Image) ([]int, color.Model) {
	tb.Helper()
	b := img.Bounds()
	n := b.Dx() * b.Dy()
	var out []int
	var model color.Model
	switch g := img.(type) {
	case *image.Gray:
		if g.Stride != b.Dx() || len(g.Pix) != n {
			tb.Fatalf("Gray %v with stride %d and %d bytes", b, g.Stride, len(g.Pix))
		}
		for _, p := range g.Pix {
			out = append(out, int(p))
		}
		model = color.GrayModel
	case *image.Gray16:
		if g.Stride != 2*b.Dx() || len(g.Pix) != 2*n {
			tb.Fatalf("Gray16 %v with stride %d and %d bytes", b, g.Stride, len(g.Pix))
		}
		for i := 0; i < len(g.Pix); i += 2 {
			out = append(out, int(g.Pix[i])<<8|int(g.Pix[i+1]))
		}
		model = color.Gray16Model
	default:
		tb.Fatalf("decoded a %T", img)
	}
	return out, model
}

// encode writes a grey image as a PGM at full range (maxval 255, or 65535 for
// 16 bits), so decoding it gives the same samples.
func encode(tb testing.TB, img image.Image, plain bool) []byte {
	tb.Helper()
	r := img.Bounds()
	maxval := 255
	if img.ColorModel() == color.Gray16Model {
		maxval = 65535
	}
	magic := "P5"
	if plain {
		magic = "P2"
	}
	b := fmt.Appendf(nil, "%s\n%d %d\n%d\n", magic, r.Dx(), r.Dy(), maxval)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			v := int(color.Gray16Model.Convert(img.At(x, y)).(color.Gray16).Y)
			switch {
			case plain && maxval == 255:
				b = append(strconv.AppendInt(b, int64(v>>8), 10), ' ')
			case plain:
				b = append(strconv.AppendInt(b, int64(v), 10), ' ')
			case maxval == 255:
				b = append(b, byte(v>>8))
			default:
				b = append(b, byte(v>>8), byte(v))
			}
		}
		if plain {
			b[len(b)-1] = '\n'
		}
	}
	return b
}
