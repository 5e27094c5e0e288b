package turbojpeg

import (
	"bufio"
	"bytes"
	"errors"
	"image"
	"image/draw"
	"image/jpeg"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/servebench/servebench/service/imagein/internal/imagetest"
	"github.com/servebench/servebench/service/nativelib"
)

// openCodec loads the library as the service does; a missing one fails the test, and
// the error names SERVEBENCH_TURBOJPEG_LIB and scripts/setup-turbojpeg.
func openCodec(tb testing.TB) *Codec {
	tb.Helper()
	c, err := Open(Library)
	if err != nil {
		tb.Fatalf("libturbojpeg: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return c
}

func decodeRGBA(tb testing.TB, c *Codec, data []byte) *image.RGBA {
	tb.Helper()
	h, err := c.Header(data)
	if err != nil {
		tb.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, h.Width, h.Height))
	if err := c.DecodeRGBA(data, img); err != nil {
		tb.Fatal(err)
	}
	return img
}

// goRGBA decodes with image/jpeg, for comparison.
func goRGBA(tb testing.TB, data []byte) *image.RGBA {
	tb.Helper()
	src, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	dst := image.NewRGBA(src.Bounds())
	draw.Draw(dst, dst.Bounds(), src, src.Bounds().Min, draw.Src)
	return dst
}

// meanAbsDiff compares the R, G, B values of two images of one size.
func meanAbsDiff(a, b *image.RGBA) float64 {
	sum, n := 0.0, 0
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		sum += math.Abs(float64(a.Pix[i]) - float64(b.Pix[i]))
		n++
	}
	return sum / float64(n)
}

func TestDecodeRGBA(t *testing.T) {
	c := openCodec(t)
	data := imagetest.Dog(t)
	h, err := c.Header(data)
	if err != nil || h != (Header{Width: 768, Height: 576, Colorspace: YCbCr}) {
		t.Fatalf("header %+v, %v; want 768×576 YCbCr", h, err)
	}
	got := decodeRGBA(t, c, data)
	for i := 3; i < len(got.Pix); i += 4 {
		if got.Pix[i] != 0xff {
			t.Fatalf("alpha %d at byte %d, want opaque", got.Pix[i], i)
		}
	}
	// image/jpeg repeats chroma where libjpeg interpolates it, and its IDCT rounds
	// differently: the two differ by about a level on average, far less than a swapped
	// channel or a wrong row pitch would.
	if d := meanAbsDiff(got, goRGBA(t, data)); d > 1.5 {
		t.Errorf("mean difference from image/jpeg's decoding %.2f levels, want ≤ 1.5", d)
	} else {
		t.Logf("mean difference from image/jpeg's decoding: %.3f levels", d)
	}
}

// TestDecodeIntoSubImage: rows go Stride apart from the sub-image's first pixel.
func TestDecodeIntoSubImage(t *testing.T) {
	c := openCodec(t)
	data := imagetest.Dog(t)
	want := decodeRGBA(t, c, data)
	big := image.NewRGBA(image.Rect(0, 0, 800, 600))
	sub := big.SubImage(image.Rect(10, 7, 778, 583)).(*image.RGBA)
	if err := c.DecodeRGBA(data, sub); err != nil {
		t.Fatal(err)
	}
	for y := range 576 {
		for x := range 768 {
			if sub.RGBAAt(10+x, 7+y) != want.RGBAAt(x, y) {
				t.Fatalf("pixel (%d,%d) in the sub-image is %v, want %v", x, y, sub.RGBAAt(10+x, 7+y), want.RGBAAt(x, y))
			}
		}
	}
	for _, p := range []image.Point{{9, 7}, {778, 7}, {10, 6}, {10, 583}} {
		if big.RGBAAt(p.X, p.Y).A != 0 {
			t.Errorf("decoding wrote outside the sub-image, at %v", p)
		}
	}
	small := image.NewRGBA(image.Rect(0, 0, 768, 575))
	if err := c.DecodeRGBA(data, small); err == nil {
		t.Errorf("decoding 768×576 into %v succeeded, want an error", small.Bounds())
	}
}

func TestDecodeErrors(t *testing.T) {
	c := openCodec(t)
	data := imagetest.Dog(t)
	corrupt := bytes.Clone(data)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] = 0xff // markers in the middle of the entropy-coded data
	}
	for name, d := range map[string][]byte{
		"truncated": data[:len(data)/2],
		"corrupt":   corrupt,
	} {
		dst := image.NewRGBA(image.Rect(0, 0, 768, 576))
		err := c.DecodeRGBA(d, dst)
		var e *Error
		if !errors.As(err, &e) || e.Op != "tjDecompress2" || e.Message == "" {
			t.Errorf("%s: %v, want a tjDecompress2 *Error with libjpeg's message", name, err)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	// A premature end is only a warning to libjpeg, which would fill the rest grey.
	err := c.DecodeRGBA(data[:len(data)/2], image.NewRGBA(image.Rect(0, 0, 768, 576)))
	if e := (*Error)(nil); !errors.As(err, &e) || !e.Warning {
		t.Errorf("truncated: %v, want a warning", err)
	}
	for name, d := range map[string][]byte{
		"empty":   nil,
		"garbage": []byte("\xff\xd8\xffhello, world"),
		"no SOI":  data[2:],
		// dog.jpg's frame header starts at byte 8338: libjpeg reads this as a stream of
		// tables only, which has no size.
		"truncated before the frame": data[:5000],
	} {
		if h, err := c.Header(d); err == nil {
			t.Errorf("%s: header %+v, want an error", name, h)
		}
	}
}

// TestFailureDoesNotSpoilTheNextCall: after a call that fails, the next one (which may
// get the same handle from the pool) works. libjpeg-turbo 2.1 leaves a decompressor
// mid-header after a bad header, and refuses its next header.
func TestFailureDoesNotSpoilTheNextCall(t *testing.T) {
	c := openCodec(t)
	dog := imagetest.Dog(t)
	zeroHeight := bytes.Clone(dog)
	zeroHeight[8338+5], zeroHeight[8338+6] = 0, 0 // dog.jpg's frame header, its height
	for name, bad := range map[string]func() error{
		"zero height": func() error { _, err := c.Header(zeroHeight); return err },
		"garbage":     func() error { _, err := c.Header([]byte("\xff\xd8\xff\xc0garbage")); return err },
		"truncated": func() error {
			return c.DecodeRGBA(dog[:len(dog)/2], image.NewRGBA(image.Rect(0, 0, 768, 576)))
		},
		"encode": func() error { return c.EncodeRGBA(failingWriter{}, image.NewRGBA(image.Rect(0, 0, 8, 8)), 90) },
	} {
		if err := bad(); err == nil {
			t.Errorf("%s: no error", name)
		}
		if h, err := c.Header(dog); err != nil || h.Width != 768 {
			t.Errorf("after %s: header %+v, %v", name, h, err)
		}
		decodeRGBA(t, c, dog)
		if err := c.EncodeRGBA(io.Discard, image.NewRGBA(image.Rect(0, 0, 8, 8)), 90); err != nil {
			t.Errorf("after %s: encode: %v", name, err)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("cannot write") }

func TestColorspaces(t *testing.T) {
	c := openCodec(t)
	for _, f := range []struct {
		name string
		cs   Colorspace
		tol  float64 // mean difference from image/jpeg, in levels
	}{
		{"video-001.jpeg", YCbCr, 2},
		{"video-001.progressive.jpeg", YCbCr, 2},
		{"video-001.q50.444.progressive.jpeg", YCbCr, 2},
		// Its G and B are stored at half the resolution of R: libjpeg interpolates them,
		// image/jpeg repeats them.
		{"video-001.rgb.jpeg", RGB, 5},
		{"video-005.gray.jpeg", Gray, 2},
		{"video-001.cmyk.jpeg", CMYK, 0},
	} {
		data := imagetest.GoTestdata(t, f.name)
		h, err := c.Header(data)
		if err != nil || h.Colorspace != f.cs || h.Width != 150 || h.Height != 103 {
			t.Errorf("%s: header %+v, %v; want 150×103 %s", f.name, h, err, f.cs)
			continue
		}
		dst := image.NewRGBA(image.Rect(0, 0, h.Width, h.Height))
		err = c.DecodeRGBA(data, dst)
		if f.cs == CMYK {
			// libjpeg does not convert CMYK to RGB; the caller must decode it another way.
			if err == nil {
				t.Errorf("%s: decoded to RGBA, want an error", f.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", f.name, err)
			continue
		}
		if d := meanAbsDiff(dst, goRGBA(t, data)); d > f.tol {
			t.Errorf("%s: mean difference from image/jpeg %.2f levels, want ≤ %v", f.name, d, f.tol)
		}
		if f.cs == Gray {
			for i := 0; i < len(dst.Pix); i += 4 {
				if p := dst.Pix[i : i+3]; p[0] != p[1] || p[1] != p[2] {
					t.Fatalf("%s: pixel %v at byte %d is not gray", f.name, p, i)
				}
			}
		}
	}
	// libjpeg-turbo 2.x names no subsampling type for 4:1:0 and refuses the header.
	if h, err := c.Header(imagetest.GoTestdata(t, "video-001.q50.410.jpeg")); err == nil {
		t.Logf("4:1:0: header %+v accepted (a newer library)", h)
	}
}

// dqt collects the quantization tables of a JPEG (8-bit precision, zigzag order) and
// tells whether its frame is baseline 4:2:0 (Y 2×2, Cb and Cr 1×1).
func dqt(tb testing.TB, data []byte) (tables [][64]byte, baseline420 bool) {
	tb.Helper()
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xff {
			tb.Fatalf("no marker at byte %d", i)
		}
		marker, n := data[i+1], int(data[i+2])<<8|int(data[i+3])
		seg := data[i+4 : i+2+n]
		switch marker {
		case 0xdb:
			for len(seg) >= 65 {
				if seg[0]>>4 != 0 {
					tb.Fatalf("16-bit quantization table")
				}
				tables = append(tables, [64]byte(seg[1:65]))
				seg = seg[65:]
			}
		case 0xc0:
			baseline420 = seg[5] == 3 && seg[7] == 0x22 && seg[10] == 0x11 && seg[13] == 0x11
		case 0xda:
			return tables, baseline420
		}
		i += 2 + n
	}
	tb.Fatal("no start of scan")
	return nil, false
}

func TestEncodeRGBA(t *testing.T) {
	c := openCodec(t)
	src := decodeRGBA(t, c, imagetest.Dog(t))
	var got bytes.Buffer
	if err := c.EncodeRGBA(&got, src, 90); err != nil {
		t.Fatal(err)
	}
	// The same quality as image/jpeg at 90: the same tables, baseline, 4:2:0.
	var std bytes.Buffer
	if err := jpeg.Encode(&std, src, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	gotTables, baseline420 := dqt(t, got.Bytes())
	wantTables, _ := dqt(t, std.Bytes())
	if !baseline420 {
		t.Errorf("the JPEG is not baseline 4:2:0")
	}
	if len(gotTables) != 2 || gotTables[0] != wantTables[0] || gotTables[1] != wantTables[1] {
		t.Errorf("quantization tables %v, image/jpeg at quality 90 writes %v", gotTables, wantTables)
	}
	back := goRGBA(t, got.Bytes())
	if back.Bounds() != src.Bounds() {
		t.Fatalf("decoded back to %v, want %v", back.Bounds(), src.Bounds())
	}
	if d := meanAbsDiff(back, src); d > 3 {
		t.Errorf("decoded back, the image differs by %.2f levels on average, want ≤ 3", d)
	}
	t.Logf("%d bytes (image/jpeg: %d)", got.Len(), std.Len())

	if err := c.EncodeRGBA(&got, src, 0); err == nil {
		t.Errorf("quality 0 accepted")
	}
	if err := c.EncodeRGBA(&got, image.NewRGBA(image.Rectangle{}), 90); err == nil {
		t.Errorf("an empty image accepted")
	}
}

// TestEncodeReusesBuffer: an encoder's buffer, grown by a large image and reused for
// small ones, gives the same bytes as a fresh encoder.
func TestEncodeReusesBuffer(t *testing.T) {
	c := openCodec(t)
	big := decodeRGBA(t, c, imagetest.Dog(t))
	small := big.SubImage(image.Rect(100, 100, 140, 130)).(*image.RGBA)
	encode := func(c *Codec, img *image.RGBA) []byte {
		var b bytes.Buffer
		if err := c.EncodeRGBA(&b, img, 90); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	fresh := func(img *image.RGBA) []byte { return encode(openCodec(t), img) }
	wantSmall, wantBig := fresh(small), fresh(big)
	for i, img := range []*image.RGBA{small, big, small, big} {
		want := wantSmall
		if img == big {
			want = wantBig
		}
		if got := encode(c, img); !bytes.Equal(got, want) {
			t.Errorf("encoding %d (%v): %d bytes differ from a fresh encoder's %d", i, img.Bounds(), len(got), len(want))
		}
	}
}

// TestConcurrentUse: calls from many goroutines (each handle used by one at a time)
// give what one call alone gives.
func TestConcurrentUse(t *testing.T) {
	c := openCodec(t)
	data := imagetest.Dog(t)
	want := decodeRGBA(t, c, data)
	var wantJPEG bytes.Buffer
	if err := c.EncodeRGBA(&wantJPEG, want, 90); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 3 {
				got := image.NewRGBA(want.Bounds())
				if err := c.DecodeRGBA(data, got); err != nil || !bytes.Equal(got.Pix, want.Pix) {
					t.Errorf("goroutine %d: decoding differs (%v)", g, err)
					return
				}
				var b bytes.Buffer
				if err := c.EncodeRGBA(&b, got, 90); err != nil || !bytes.Equal(b.Bytes(), wantJPEG.Bytes()) {
					t.Errorf("goroutine %d: encoding differs (%v)", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestPoolReleasesEveryHandle: what the pool made it releases exactly once, whether
// it comes back before Close (idle), after it (in use then), or over the idle limit.
func TestPoolReleasesEveryHandle(t *testing.T) {
	made, released := 0, map[int]int{}
	p := newPool(func() (int, error) { made++; return made, nil },
		func(h int) error { released[h]++; return nil })
	var held []int
	for range maxIdle() + 3 {
		h, _ := p.get()
		held = append(held, h)
	}
	for _, h := range held[:len(held)-1] {
		p.put(h) // the last 3 are over the idle limit and released now
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	p.put(held[len(held)-1]) // in use during Close
	if len(released) != made {
		t.Errorf("%d handles made, %d released", made, len(released))
	}
	for h, n := range released {
		if n != 1 {
			t.Errorf("handle %d released %d times", h, n)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "libturbojpeg.so.0")
	if err := os.WriteFile(text, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	lib := Library
	for name, c := range map[string]struct {
		path string
		want []string
	}{
		"missing":       {filepath.Join(dir, "nowhere.so"), []string{Env, "nowhere.so", "scripts/setup-turbojpeg"}},
		"not a library": {text, []string{Env, text}},
		// A library that loads but is not TurboJPEG: the C library this process runs on.
		"no TurboJPEG": {libcPath(t), []string{"tjInitDecompress", "TurboJPEG 2.0", Env}},
	} {
		t.Setenv(Env, c.path)
		_, err := Open(lib)
		if err == nil {
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not name %q", name, err, w)
			}
		}
	}
	t.Setenv(Env, "")
	lib.Candidates = []string{filepath.Join(dir, "a.so"), filepath.Join(dir, "b.so")}
	if _, err := Open(lib); err == nil || !strings.Contains(err.Error(), Env) || !strings.Contains(err.Error(), "b.so") {
		t.Errorf("no candidate present: %v, want an error naming %s and the places searched", err, Env)
	}
}

// libcPath finds the C library mapped into this process (purego loads it).
func libcPath(tb testing.TB) string {
	tb.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if p := fields[len(fields)-1]; strings.Contains(filepath.Base(p), "libc.so") || strings.HasPrefix(filepath.Base(p), "libc-") {
			return p
		}
	}
	tb.Fatal("no libc in /proc/self/maps")
	return ""
}

func TestCandidates(t *testing.T) {
	if got := nativelib.WithCache("", cacheDir, "libturbojpeg.so.0", "/a", "/b"); len(got) != 2 {
		t.Errorf("no cache dir: %v, want the fixed places only", got)
	}
	got := nativelib.WithCache("/c", cacheDir, "libturbojpeg.so.0", "/a")
	if want := []string{"/a", "/c/turbojpeg-2.1.5/libturbojpeg.so.0"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("candidates %v, want %v (scripts/setup-turbojpeg's cache last)", got, want)
	}
	if Library.Candidates[0] != "/opt/turbojpeg/lib/libturbojpeg.so.0" {
		t.Errorf("first candidate %s, want the container images' copy", Library.Candidates[0])
	}
}

// BenchmarkDecode and BenchmarkEncode time dog.jpg (768×576) against image/jpeg:
//
//	go test -run '^$' -bench . ./imagein/turbojpeg/
func BenchmarkDecode(b *testing.B) {
	data := imagetest.Dog(b)
	b.Run("turbojpeg", func(b *testing.B) {
		c := openCodec(b)
		for b.Loop() {
			decodeRGBA(b, c, data)
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	c := openCodec(b)
	img := decodeRGBA(b, c, imagetest.Dog(b))
	var out bytes.Buffer
	b.Run("turbojpeg", func(b *testing.B) {
		for b.Loop() {
			out.Reset()
			if err := c.EncodeRGBA(&out, img, 90); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			out.Reset()
			if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: 90}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
