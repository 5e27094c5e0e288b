package imagein

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/servebench/servebench/service/imagein/internal/imagetest"
	"github.com/servebench/servebench/service/imagein/turbojpeg"
	"github.com/servebench/servebench/service/reply"
)

func pngOf(tb testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	return pngImage(tb, img)
}

// withSize rewrites a PNG's IHDR to claim w×h pixels (a decompression bomb's header).
func withSize(p []byte, w, h uint32) []byte {
	p = append([]byte(nil), p...)
	binary.BigEndian.PutUint32(p[16:], w)
	binary.BigEndian.PutUint32(p[20:], h)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

// jpegWithSize rewrites a JPEG's frame header to claim w×h pixels.
func jpegWithSize(tb testing.TB, j []byte, w, h uint16) []byte {
	j = bytes.Clone(j)
	for i := 2; i+9 < len(j); {
		n := int(binary.BigEndian.Uint16(j[i+2:]))
		if j[i+1] == 0xc0 || j[i+1] == 0xc2 {
			binary.BigEndian.PutUint16(j[i+5:], h)
			binary.BigEndian.PutUint16(j[i+7:], w)
			return j
		}
		i += 2 + n
	}
	tb.Fatal("no frame header")
	return nil
}

var turbo = sync.OnceValues(func() (*turbojpeg.Codec, error) { return turbojpeg.Open(turbojpeg.Library) })

// codecs are both JPEG codecs, to run every test through each. libturbojpeg missing
// fails the test, the error naming SERVEBENCH_TURBOJPEG_LIB and scripts/setup-turbojpeg.
func codecs(tb testing.TB) map[string]codec {
	tb.Helper()
	c, err := turbo()
	if err != nil {
		tb.Fatalf("libturbojpeg: %v", err)
	}
	return map[string]codec{CodecTurboJPEG: turboCodec{c}, CodecGo: goCodec{}}
}

func TestDecode(t *testing.T) {
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1_000_000}
	dog := imagetest.Dog(t)
	for name, jc := range codecs(t) {
		t.Run(name, func(t *testing.T) {
			img, f, err := decode(dog, lim, jc)
			if err != nil || f != JPEG || img.Bounds() != image.Rect(0, 0, 768, 576) {
				t.Fatalf("dog.jpg: %v %s %v", img.Bounds(), f, err)
			}
			if _, rgba := img.(*image.RGBA); rgba != (name == CodecTurboJPEG) {
				t.Errorf("dog.jpg decoded to %T", img)
			}
			img, f, err = decode(pngOf(t, 30, 20), lim, jc)
			if err != nil || f != PNG || img.Bounds().Dx() != 30 {
				t.Fatalf("png: %v %s %v", img, f, err)
			}
			for what, c := range map[string]struct {
				data   []byte
				lim    Limits
				status int
			}{
				"empty":                 {nil, lim, http.StatusUnsupportedMediaType},
				"text":                  {[]byte("hello"), lim, http.StatusUnsupportedMediaType},
				"gif":                   {[]byte("GIF89a\x01\x00\x01\x00"), lim, http.StatusUnsupportedMediaType},
				"jpeg truncated":        {dog[:len(dog)/2], lim, http.StatusUnsupportedMediaType},
				"jpeg header truncated": {dog[:5000], lim, http.StatusUnsupportedMediaType},
				"zero-size png":         {withSize(pngOf(t, 1, 1), 0, 5), lim, http.StatusUnsupportedMediaType},
				"zero-size jpeg":        {jpegWithSize(t, dog, 768, 0), lim, http.StatusUnsupportedMediaType},
				"bomb":                  {withSize(pngOf(t, 1, 1), 100_000, 100_000), lim, http.StatusRequestEntityTooLarge},
				"jpeg bomb":             {jpegWithSize(t, dog, 60_000, 60_000), lim, http.StatusRequestEntityTooLarge},
				"just over pixels":      {pngOf(t, 1001, 1000), lim, http.StatusRequestEntityTooLarge},
				"jpeg over pixels":      {dog, Limits{MaxPixels: 768*576 - 1}, http.StatusRequestEntityTooLarge},
				"over bytes":            {dog, Limits{MaxBytes: 1000, MaxPixels: 1 << 30}, http.StatusRequestEntityTooLarge},
			} {
				_, _, err := decode(c.data, c.lim, jc)
				if e := reply.As(err); err == nil || e.Status != c.status {
					t.Errorf("%s: %v, want %d", what, err, c.status)
				}
			}
		})
	}
}

// TestTurboJPEGDecode: what libjpeg-turbo decodes and what it leaves to image/jpeg.
func TestTurboJPEGDecode(t *testing.T) {
	tc := codecs(t)[CodecTurboJPEG]
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}
	dog := imagetest.Dog(t)
	corrupt := bytes.Clone(dog)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] = 0xff
	}
	// Corrupt or truncated scans are refused, not half decoded: libjpeg stops at its
	// warning and image/jpeg refuses them too.
	for what, data := range map[string][]byte{"truncated": dog[:len(dog)/2], "corrupt": corrupt} {
		if _, _, err := decode(data, lim, tc); err == nil || reply.As(err).Status != http.StatusUnsupportedMediaType {
			t.Errorf("%s: %v, want a 415", what, err)
		}
	}
	// A slip libjpeg only warns about (extraneous bytes before the end marker), which
	// image/jpeg reads past as it always did, still decodes.
	slip := append(bytes.Clone(dog[:len(dog)-2]), 0x00, 0x00, 0xff, 0xd9)
	tj0 := tc.(turboCodec).c
	if _, err := tj0.Header(slip); err != nil {
		t.Fatal(err)
	}
	var tj *turbojpeg.Error
	if err := tj0.DecodeRGBA(slip, image.NewRGBA(image.Rect(0, 0, 768, 576))); !errors.As(err, &tj) || !tj.Warning {
		t.Fatalf("libjpeg-turbo on extraneous bytes: %v, want a warning (the case this checks)", err)
	}
	if img, _, err := decode(slip, lim, tc); err != nil || img.Bounds().Dx() != 768 {
		t.Errorf("extraneous bytes before the end marker: %v, want the image decoded", err)
	}
	for _, c := range []struct {
		file string
		want string // the decoded type
	}{
		{"video-001.progressive.jpeg", "*image.RGBA"},
		{"video-005.gray.jpeg", "*image.RGBA"},
		{"video-001.rgb.jpeg", "*image.RGBA"},
		// libjpeg does not turn CMYK into RGB, and libjpeg-turbo 2.x refuses the header
		// of a 4:1:0 JPEG: image/jpeg reads both, as before.
		{"video-001.cmyk.jpeg", "*image.CMYK"},
		{"video-001.q50.410.jpeg", "*image.YCbCr"},
	} {
		img, f, err := decode(imagetest.GoTestdata(t, c.file), lim, tc)
		if err != nil || f != JPEG || img.Bounds() != image.Rect(0, 0, 150, 103) {
			t.Errorf("%s: %v, %v", c.file, img, err)
			continue
		}
		if got := typeName(img); got != c.want {
			t.Errorf("%s decoded to %s, want %s", c.file, got, c.want)
		}
	}
	// The limits hold on the image/jpeg side too.
	if _, _, err := decode(imagetest.GoTestdata(t, "video-001.cmyk.jpeg"), Limits{MaxPixels: 100}, tc); reply.As(err).Status != http.StatusRequestEntityTooLarge {
		t.Errorf("CMYK over the pixel limit: %v, want 413", err)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *image.RGBA:
		return "*image.RGBA"
	case *image.CMYK:
		return "*image.CMYK"
	case *image.YCbCr:
		return "*image.YCbCr"
	}
	return "other"
}

// spyCodec records whether it was called.
type spyCodec struct{ calls *int }

func (spyCodec) name() string { return "spy" }
func (s spyCodec) decode([]byte, Limits) (image.Image, error) {
	*s.calls++
	return nil, errors.New("spy")
}
func (s spyCodec) encode(io.Writer, image.Image) error { *s.calls++; return errors.New("spy") }

func TestPNGNeverGoesToTheJPEGCodec(t *testing.T) {
	calls := 0
	img, f, err := decode(pngOf(t, 3, 2), Limits{}, spyCodec{&calls})
	if err != nil || f != PNG || img.Bounds().Dx() != 3 || calls != 0 {
		t.Errorf("png: %v %s %v; the JPEG codec called %d times", img, f, err, calls)
	}
	if _, _, err := decode(imagetest.Dog(t), Limits{}, spyCodec{&calls}); err == nil || calls != 1 {
		t.Errorf("jpeg: %v; the JPEG codec called %d times, want once", err, calls)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 16, 8))
	draw.Draw(src, src.Bounds(), image.NewUniform(color.RGBA{200, 30, 90, 255}), image.Point{}, draw.Src)
	for name, jc := range codecs(t) {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := jc.encode(&b, src); err != nil {
				t.Fatal(err)
			}
			for dec, jd := range codecs(t) {
				img, got, err := decode(b.Bytes(), Limits{}, jd)
				if err != nil || got != JPEG || img.Bounds() != src.Bounds() {
					t.Fatalf("decoded by %s: %v %s %v", dec, img.Bounds(), got, err)
				}
				if r, g, bl, _ := img.At(8, 4).RGBA(); absDiff(r>>8, 200) > 3 || absDiff(g>>8, 30) > 3 || absDiff(bl>>8, 90) > 3 {
					t.Errorf("decoded by %s: the colour came back as %d,%d,%d, want about 200,30,90", dec, r>>8, g>>8, bl>>8)
				}
			}
		})
	}
	var b bytes.Buffer
	if err := Encode(&b, src, PNG); err != nil {
		t.Fatal(err)
	}
	if img, f, err := Decode(b.Bytes(), Limits{}); err != nil || f != PNG || img.Bounds() != src.Bounds() {
		t.Errorf("png round trip: %v %s %v", img, f, err)
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestTurboJPEGEncodesRGBAOnly: the service's RGBA canvas goes to libjpeg-turbo; any
// other layout still encodes, through image/jpeg.
func TestTurboJPEGEncodesRGBAOnly(t *testing.T) {
	tc := codecs(t)[CodecTurboJPEG]
	gray := image.NewGray(image.Rect(0, 0, 8, 8))
	var b bytes.Buffer
	if err := tc.encode(&b, gray); err != nil {
		t.Fatalf("gray: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(b.Bytes())); err == nil {
		t.Fatal("wrote a PNG")
	}
	if _, _, err := decode(b.Bytes(), Limits{}, tc); err != nil {
		t.Errorf("gray encoded through image/jpeg does not decode: %v", err)
	}
}

// TestChooseCodec: libjpeg-turbo when it loads; image/jpeg, with the reason logged, when
// it is not found; a start-up error naming the variable when the path set does not load.
func TestChooseCodec(t *testing.T) {
	if _, err := turbo(); err != nil {
		t.Fatalf("libturbojpeg: %v", err)
	}
	dir := t.TempDir()
	text := filepath.Join(dir, "libturbojpeg.so.0")
	if err := os.WriteFile(text, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := turbojpeg.Library
	missing.Candidates = []string{filepath.Join(dir, "nowhere", "libturbojpeg.so.0")}
	found, err := turbojpeg.Library.Find()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		env      string
		codec    string
		err      bool
		logWants []string
	}{
		{"found", found, CodecTurboJPEG, false, []string{"level=INFO", "codec=turbojpeg", found}},
		{"not found", "", CodecGo, false, []string{"level=WARN", "codec=go", turbojpeg.Env, "scripts/setup-turbojpeg"}},
		{"set, missing", filepath.Join(dir, "gone.so"), CodecGo, true, []string{"level=ERROR", "codec=go", turbojpeg.Env, "gone.so"}},
		{"set, not a library", text, CodecGo, true, []string{"level=ERROR", "codec=go", turbojpeg.Env, text}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(turbojpeg.Env, c.env)
			var logged strings.Builder
			log := slog.New(slog.NewTextHandler(&logged, nil))
			got, err := chooseCodec(missing, log)
			if got.name() != c.codec || (err != nil) != c.err {
				t.Errorf("codec %s, error %v; want %s, error %v", got.name(), err, c.codec, c.err)
			}
			if err != nil && !strings.Contains(err.Error(), turbojpeg.Env) {
				t.Errorf("error %q does not name %s", err, turbojpeg.Env)
			}
			for _, w := range c.logWants {
				if !strings.Contains(logged.String(), w) {
					t.Errorf("log %q does not say %q", logged.String(), w)
				}
			}
			if n := strings.Count(logged.String(), "\n"); n != 1 {
				t.Errorf("%d log lines, want 1: %s", n, logged.String())
			}
			if tc, ok := got.(turboCodec); ok {
				tc.c.Close()
			}
		})
	}
}

// TestProcessCodec: the process, as tests run it (scripts/test sets
// SERVEBENCH_TURBOJPEG_LIB), uses libjpeg-turbo, and Decode goes through it.
func TestProcessCodec(t *testing.T) {
	if err := LoadCodec(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil || Codec() != CodecTurboJPEG {
		t.Fatalf("codec %s (%v), want %s: set %s to libturbojpeg.so.0 (scripts/setup-turbojpeg prints its path)",
			Codec(), err, CodecTurboJPEG, turbojpeg.Env)
	}
	img, _, err := Decode(imagetest.Dog(t), Limits{})
	if _, ok := img.(*image.RGBA); err != nil || !ok {
		t.Errorf("Decode gave %T, %v; want libjpeg-turbo's *image.RGBA", img, err)
	}
}

// BenchmarkDecode and BenchmarkEncode time dog.jpg through each codec, as Decode and
// Encode run them:
//
//	go test -run '^$' -bench . ./imagein/
func BenchmarkDecode(b *testing.B) {
	dog := imagetest.Dog(b)
	for _, name := range []string{CodecTurboJPEG, CodecGo} {
		jc := codecs(b)[name]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := decode(dog, Limits{}, jc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	dog := imagetest.Dog(b)
	img, _, err := decode(dog, Limits{}, codecs(b)[CodecTurboJPEG])
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	for _, name := range []string{CodecTurboJPEG, CodecGo} {
		jc := codecs(b)[name]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				out.Reset()
				if err := jc.encode(&out, img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
