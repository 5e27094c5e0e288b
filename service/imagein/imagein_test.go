package imagein

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/servebench/servebench/service/reply"
)

func pngOf(tb testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// withSize rewrites a PNG's IHDR to claim w×h pixels (a decompression bomb's header).
func withSize(p []byte, w, h uint32) []byte {
	p = append([]byte(nil), p...)
	binary.BigEndian.PutUint32(p[16:], w)
	binary.BigEndian.PutUint32(p[20:], h)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

func dog(tb testing.TB) []byte {
	d := os.Getenv("SERVEBENCH_DATA")
	if d == "" {
		d = "../../../shared/data"
	}
	b, err := os.ReadFile(filepath.Join(d, "images", "dog.jpg"))
	if err != nil {
		tb.Fatalf("dog.jpg (set SERVEBENCH_DATA): %v", err)
	}
	return b
}

func TestDecode(t *testing.T) {
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1_000_000}
	img, f, err := Decode(dog(t), lim)
	if err != nil || f != JPEG || img.Bounds().Dx() != 768 || img.Bounds().Dy() != 576 {
		t.Fatalf("dog.jpg: %v %s %v", img.Bounds(), f, err)
	}
	img, f, err = Decode(pngOf(t, 30, 20), lim)
	if err != nil || f != PNG || img.Bounds().Dx() != 30 {
		t.Fatalf("png: %v %s %v", img, f, err)
	}
	for name, c := range map[string]struct {
		data   []byte
		lim    Limits
		status int
	}{
		"empty":            {nil, lim, http.StatusUnsupportedMediaType},
		"text":             {[]byte("hello"), lim, http.StatusUnsupportedMediaType},
		"gif":              {[]byte("GIF89a\x01\x00\x01\x00"), lim, http.StatusUnsupportedMediaType},
		"truncated jpeg":   {dog(t)[:5000], lim, http.StatusUnsupportedMediaType},
		"zero-size png":    {withSize(pngOf(t, 1, 1), 0, 5), lim, http.StatusUnsupportedMediaType},
		"bomb":             {withSize(pngOf(t, 1, 1), 100_000, 100_000), lim, http.StatusRequestEntityTooLarge},
		"just over pixels": {pngOf(t, 1001, 1000), lim, http.StatusRequestEntityTooLarge},
		"over bytes":       {dog(t), Limits{MaxBytes: 1000, MaxPixels: 1 << 30}, http.StatusRequestEntityTooLarge},
	} {
		_, _, err := Decode(c.data, c.lim)
		if e := reply.As(err); err == nil || e.Status != c.status {
			t.Errorf("%s: %v, want %d", name, err, c.status)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	src, _, _ := Decode(pngOf(t, 16, 8), Limits{})
	for _, f := range []Format{JPEG, PNG} {
		var b bytes.Buffer
		if err := Encode(&b, src, f); err != nil {
			t.Fatal(err)
		}
		img, got, err := Decode(b.Bytes(), Limits{})
		if err != nil || got != f || img.Bounds() != src.Bounds() {
			t.Errorf("%s round trip: %v %s %v", f, img.Bounds(), got, err)
		}
	}
}

// FuzzDecode: no input panics, every error is a 413 or 415, and whatever decodes
// stays within the limits.
func FuzzDecode(f *testing.F) {
	f.Add(dog(f))
	f.Add(pngOf(f, 3, 2))
	f.Add(withSize(pngOf(f, 1, 1), 1<<20, 1<<20))
	f.Add([]byte("\xff\xd8\xff"))
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 4_000_000}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _, err := Decode(data, lim)
		if err != nil {
			if s := reply.As(err).Status; s != 413 && s != 415 {
				t.Fatalf("status %d for %v", s, err)
			}
			return
		}
		b := img.Bounds()
		if int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels || b.Empty() {
			t.Fatalf("decoded %v, outside the limits", b)
		}
	})
}
