package imagein

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"maps"
	"slices"
	"testing"

	"github.com/servebench/servebench/service/imagein/internal/imagetest"
	"github.com/servebench/servebench/service/reply"
)

// fuzzLimits are small on purpose: the limit checks are the same code at any size,
// and an input that declares a big image within them would be decoded in full, so
// with the service's 40-megapixel default the fuzzer spends its time filling pixels
// instead of exploring headers (BenchmarkWorstDecode measures that cost).
var fuzzLimits = Limits{MaxBytes: 64 << 10, MaxPixels: 128 * 128}

// FuzzDecode: no input panics, every error is a 413 or 415 (500 never), and whatever
// decodes is non-empty and within the limits, with either codec. The two codecs may
// disagree on a damaged JPEG (libjpeg-turbo recovers from some damage image/jpeg
// refuses, and the other way round), so only each one's contract is checked.
func FuzzDecode(f *testing.F) {
	dog := imagetest.Dog(f)
	f.Add(dog) // over both limits: refused from the header
	f.Add(dog[:len(dog)/2])
	f.Add(jpegWithSize(f, dog, 120, 90)) // the dog's data under a small header: damaged
	f.Add(imagetest.GoTestdata(f, "video-001.progressive.jpeg"))
	f.Add(imagetest.GoTestdata(f, "video-001.cmyk.jpeg"))
	small := gradient(48, 32)
	for _, o := range []*jpeg.Options{{Quality: 90}, {Quality: 10}} {
		f.Add(jpegOf(f, small, o))
	}
	f.Add(jpegOf(f, grayOf(small), nil))
	f.Add(pngOf(f, 3, 2))
	f.Add(pngImage(f, small))
	f.Add(pngImage(f, grayOf(small)))
	f.Add(pngImage(f, image.NewPaletted(image.Rect(0, 0, 5, 7), color.Palette{color.Black, color.White})))
	f.Add(withSize(pngOf(f, 1, 1), 128, 128))     // at the limit, the data short
	f.Add(withSize(pngOf(f, 1, 1), 1<<20, 1<<20)) // a bomb's header
	f.Add([]byte("\xff\xd8\xff"))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	all := codecs(f)
	names := slices.Sorted(maps.Keys(all))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range names {
			img, _, err := decode(data, fuzzLimits, all[name])
			if err != nil {
				if s := reply.As(err).Status; s != 413 && s != 415 {
					t.Fatalf("%s: status %d for %v", name, s, err)
				}
				continue
			}
			b := img.Bounds()
			if int64(b.Dx())*int64(b.Dy()) > fuzzLimits.MaxPixels || b.Empty() {
				t.Fatalf("%s: decoded %v, outside the limits", name, b)
			}
		}
	})
}

// gradient is a w×h image with some detail, so that its JPEG has non-trivial blocks.
func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 5), uint8(y * 7), uint8((x ^ y) * 3), 255})
		}
	}
	return img
}

func grayOf(img image.Image) *image.Gray {
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	return g
}

func jpegOf(tb testing.TB, img image.Image, o *jpeg.Options) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, o); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func pngImage(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}
