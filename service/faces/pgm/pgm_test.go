package pgm

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeBinary(t *testing.T) {
	data := append([]byte("P5\n# a comment\n3 2\n255\n"), 0, 10, 20, 30, 40, 255)
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if format != "pgm" || !ok {
		t.Fatalf("format %q type %T, want pgm *image.Gray", format, img)
	}
	if g.Bounds() != image.Rect(0, 0, 3, 2) || !bytes.Equal(g.Pix, []byte{0, 10, 20, 30, 40, 255}) {
		t.Errorf("got %v %v", g.Bounds(), g.Pix)
	}
}

func TestDecodePlainScalesMaxval(t *testing.T) {
	// maxval 15: 15 → 255, 5 → 85.
	img, err := Decode(strings.NewReader("P2 2 2 15\n0 5\n# mid-raster comment\n10 15\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := img.(*image.Gray).Pix; !bytes.Equal(got, []byte{0, 85, 170, 255}) {
		t.Errorf("pixels %v, want [0 85 170 255]", got)
	}
}

func TestDecode16Bit(t *testing.T) {
	data := append([]byte("P5 2 1 65535\n"), 0x12, 0x34, 0xff, 0xff)
	img, err := Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	g := img.(*image.Gray16)
	if g.Gray16At(0, 0).Y != 0x1234 || g.Gray16At(1, 0).Y != 0xffff {
		t.Errorf("got %v %v", g.Gray16At(0, 0), g.Gray16At(1, 0))
	}
}

// orlFile reads one image of the ORL set from the shared test data:
// $SERVEBENCH_DATA, else ../shared/data beside the checkout.
func orlFile(tb testing.TB, name string) []byte {
	tb.Helper()
	dir := os.Getenv("SERVEBENCH_DATA")
	if dir == "" {
		dir = "../../../../shared/data"
	}
	data, err := os.ReadFile(filepath.Join(dir, "faces/orl", name))
	if err != nil {
		tb.Fatalf("ORL data (set SERVEBENCH_DATA to the shared data directory): %v", err)
	}
	return data
}

func TestDecodeORLFile(t *testing.T) {
	img, err := Decode(bytes.NewReader(orlFile(t, "s1/1.pgm")))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, 92, 112) {
		t.Errorf("bounds %v, want 92×112", img.Bounds())
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := map[string]string{
		"magic":         "P6 1 1 255\n\x00\x00\x00",
		"truncated":     "P5 4 4 255\n\x00\x01",
		"zero width":    "P5 0 4 255\n",
		"huge":          "P5 100000 100000 255\n",
		"maxval":        "P5 1 1 70000\n\x00",
		"sample>maxval": "P2 1 1 10 11",
		"not a number":  "P2 x 1 255 1",
		"empty":         "",
	}
	for name, in := range cases {
		if _, err := Decode(strings.NewReader(in)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if _, err := DecodeConfig(strings.NewReader("P5 7 9 255\n")); err != nil {
		t.Errorf("DecodeConfig: %v", err)
	}
}
