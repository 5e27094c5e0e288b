package faces

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// lfwPhoto is a 250×250 JPEG: black, with the LFW crop (rows 70:195, columns
// 78:172) filled with c, so the features of a correct crop are c's grey level.
func lfwPhoto(t testing.TB, c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 250, 250))
	for y := 0; y < 250; y++ {
		for x := 0; x < 250; x++ {
			if y >= 70 && y < 195 && x >= 78 && x < 172 {
				img.SetRGBA(x, y, c)
			} else {
				img.SetRGBA(x, y, color.RGBA{A: 255})
			}
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoadLFWLayout(t *testing.T) {
	files := Files{"lfw/README.txt": []byte("not a face")}
	people := map[string]color.RGBA{
		"Ada_Lovelace":   {90, 150, 210, 255}, // grey (90+150+210)/3 = 150
		"Alan_Turing":    {200, 200, 200, 255},
		"Grace_Hopper":   {10, 10, 10, 255}, // only 3 photos: dropped
		"Not_Matching":   {0, 0, 0, 255},
		"Claude_Shannon": {60, 60, 60, 255},
	}
	count := map[string]int{"Ada_Lovelace": 70, "Alan_Turing": 71, "Grace_Hopper": 3, "Claude_Shannon": 70}
	for name, n := range count {
		photo := lfwPhoto(t, people[name])
		for i := 1; i <= n; i++ {
			files[fmt.Sprintf("lfw/%s/%s_%04d.jpg", name, name, i)] = photo
		}
	}
	files["lfw/Not_Matching/Someone_Else_0001.jpg"] = lfwPhoto(t, people["Not_Matching"])

	sel, layout, err := Select(files)
	if err != nil {
		t.Fatal(err)
	}
	if layout != LFW || len(sel) != 70+71+70 {
		t.Fatalf("layout %s, %d files kept, want lfw and 211", layout, len(sel))
	}
	for name := range sel {
		if strings.Contains(name, "Grace_Hopper") || strings.Contains(name, "Someone_Else") {
			t.Fatalf("%s kept", name)
		}
	}
	// Decoding 211 photos is slow under -race: decode a few per person, with the
	// threshold lowered to match.
	defer func(n int) { lfwMinPerPerson = n }(lfwMinPerPerson)
	lfwMinPerPerson = 3
	few := Files{}
	for name, data := range sel {
		if strings.HasSuffix(name, "_0001.jpg") || strings.HasSuffix(name, "_0002.jpg") || strings.HasSuffix(name, "_0003.jpg") {
			few[name] = data
		}
	}
	ds, err := Load(few)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Width != 37 || ds.Height != 50 || len(ds.X[0]) != 37*50 {
		t.Fatalf("size %d×%d, want 37×50", ds.Width, ds.Height)
	}
	if want := []string{"Ada_Lovelace", "Alan_Turing", "Claude_Shannon"}; fmt.Sprint(ds.Names) != fmt.Sprint(want) {
		t.Errorf("names %v, want %v", ds.Names, want)
	}
	grey := map[int]float64{0: 150, 1: 200, 2: 60}
	for i, x := range ds.X {
		want := grey[ds.Y[i]]
		for j, v := range x {
			// JPEG rounds and subsamples colour; the crop must not take in any
			// black border, which would pull edge values far down.
			if math.Abs(v-want) > 8 {
				t.Fatalf("image %d (person %d) pixel %d = %.1f, want about %.0f", i, ds.Y[i], j, v, want)
			}
		}
	}
}

func TestSelectRejects(t *testing.T) {
	pgm := []byte("P5 2 2 255\n\x00\x01\x02\x03")
	cases := map[string]Files{
		"nothing": {"README": []byte("x"), "a/b.png": []byte("x")},
		"mixed":   {"orl/s1/1.pgm": pgm, "lfw/A_B/A_B_0001.jpg": []byte("x")},
		"few lfw": {"lfw/A_B/A_B_0001.jpg": []byte("x")},
	}
	for name, files := range cases {
		if _, _, err := Select(files); err == nil {
			t.Errorf("%s: selected", name)
		}
	}
	// One person cannot be learnt; images of different sizes neither.
	if _, err := Load(Files{"s1/1.pgm": pgm, "s1/2.pgm": pgm}); err == nil {
		t.Error("one person loaded")
	}
	other := []byte("P5 3 1 255\n\x00\x01\x02")
	if _, err := Load(Files{"s1/1.pgm": pgm, "s2/1.pgm": other}); err == nil {
		t.Error("mixed image sizes loaded")
	}
	if _, err := Load(Files{"s1/1.pgm": pgm, "s2/1.pgm": []byte("P5 garbage")}); err == nil {
		t.Error("undecodable image loaded")
	}
}

func tarGz(t testing.TB, entries map[string][]byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for name, data := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	return b.Bytes()
}

func zipOf(t testing.TB, entries map[string][]byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, data := range entries {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	return b.Bytes()
}

func TestArchiveRoundTrip(t *testing.T) {
	all, err := ReadDir(os.DirFS(orlDir(t)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	files := Files{}
	for name, data := range all {
		if strings.HasPrefix(name, "s1/") || strings.HasPrefix(name, "s7/") {
			files[name] = data
		}
	}
	var b bytes.Buffer
	if err := WriteArchive(&b, files); err != nil {
		t.Fatal(err)
	}
	back, err := ReadArchive(bytes.NewReader(b.Bytes()), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(files) || !bytes.Equal(back["s7/3.pgm"], files["s7/3.pgm"]) {
		t.Fatalf("%d files back of %d", len(back), len(files))
	}
	var b2 bytes.Buffer
	WriteArchive(&b2, back)
	if !bytes.Equal(b.Bytes(), b2.Bytes()) {
		t.Error("the same files made two different archives")
	}
	z, err := ReadArchive(bytes.NewReader(zipOf(t, map[string][]byte{"orl/s1/1.pgm": files["s1/1.pgm"], "orl/s1/": nil})), DefaultLimits)
	if err != nil || !bytes.Equal(z["orl/s1/1.pgm"], files["s1/1.pgm"]) {
		t.Errorf("zip: %v, %d files", err, len(z))
	}
}

// TestArchiveAtTheLimits: files that fill every limit with data that does not
// compress make an archive larger than MaxTotalBytes; WriteArchive's archive of
// them reads back (download_data stores it, train reads it).
func TestArchiveAtTheLimits(t *testing.T) {
	lim := Limits{MaxEntries: 3, MaxEntryBytes: 1 << 20, MaxTotalBytes: 3 << 20}
	files := Files{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range lim.MaxEntries {
		data := make([]byte, lim.MaxEntryBytes)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		files[strings.Repeat("d/", maxNameLen/2-4)+strconv.Itoa(i)] = data
	}
	var b bytes.Buffer
	if err := WriteArchive(&b, files); err != nil {
		t.Fatal(err)
	}
	if int64(b.Len()) <= lim.MaxTotalBytes {
		t.Fatalf("the archive is %d bytes, not over the files' %d: the test tests nothing", b.Len(), lim.MaxTotalBytes)
	}
	got, err := ReadArchive(&b, lim)
	if err != nil || len(got) != len(files) {
		t.Fatalf("%d files, %v; want all %d", len(got), err, len(files))
	}
}

func TestArchiveBombsAndTraversal(t *testing.T) {
	small := Limits{MaxEntries: 5, MaxEntryBytes: 1 << 20, MaxTotalBytes: 3 << 20}
	zeros := make([]byte, 2<<20) // compresses to a few KB
	mb := make([]byte, 900<<10)
	cases := []struct {
		name    string
		archive []byte
		want    error
	}{
		{"zip entry bomb", zipOf(t, map[string][]byte{"s1/1.pgm": zeros}), errLimitExceeded},
		{"tar.gz entry bomb", tarGz(t, map[string][]byte{"s1/1.pgm": zeros}), errLimitExceeded},
		{"total", tarGz(t, map[string][]byte{"a": mb, "b": mb, "c": mb, "d": mb}), errLimitExceeded},
		{"entries", zipOf(t, map[string][]byte{"1": nil, "2": nil, "3": nil, "4": nil, "5": nil, "6": nil}), errLimitExceeded},
		{"archive size", append([]byte("PK\x03\x04"), make([]byte, 4<<20)...), errLimitExceeded},
		{"tar dot-dot", tarGz(t, map[string][]byte{"../../etc/s1/1.pgm": []byte("x")}), errUnsafeEntry},
		{"zip dot-dot", zipOf(t, map[string][]byte{"orl/../../s1/1.pgm": []byte("x")}), errUnsafeEntry},
		{"absolute", tarGz(t, map[string][]byte{"/etc/s1/1.pgm": []byte("x")}), errUnsafeEntry},
		{"backslash", zipOf(t, map[string][]byte{`..\s1\1.pgm`: []byte("x")}), errUnsafeEntry},
	}
	for _, c := range cases {
		_, err := ReadArchive(bytes.NewReader(c.archive), small)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := ReadArchive(strings.NewReader("plain text"), small); err == nil {
		t.Error("a non-archive was read")
	}
	if _, err := ReadArchive(io.LimitReader(bytes.NewReader(tarGz(t, map[string][]byte{"a": mb})), 100), small); err == nil {
		t.Error("a truncated archive was read")
	}
}
