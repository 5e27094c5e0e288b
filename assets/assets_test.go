package assets

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// entry is one file of a test archive.
type entry struct {
	name string
	data []byte
}

// orlFixture is a small face set in the ORL layout (three people, ten images
// each, and the README), each image a distinct tiny PGM, under prefix.
func orlFixture(prefix string) []entry {
	es := []entry{{prefix + "README", []byte("The ORL face database (fixture)\n")}}
	for s := 1; s <= 3; s++ {
		for m := 1; m <= 10; m++ {
			es = append(es, entry{fmt.Sprintf("%ss%d/%d.pgm", prefix, s, m), []byte(fmt.Sprintf("P5\n2 2\n255\n%c%c%c%c", s, m, s+m, s*m))})
		}
	}
	return es
}

func zipOf(t *testing.T, es []entry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range es {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// digestOf is the images digest worked out here, apart from the code under test:
// sha256sum's lines for the .pgm files, sorted by their path below prefix.
func digestOf(es []entry, prefix string) string {
	var lines []string
	for _, e := range es {
		if strings.HasSuffix(e.name, ".pgm") {
			lines = append(lines, fmt.Sprintf("%x  %s\n", sha256.Sum256(e.data), strings.TrimPrefix(e.name, prefix)))
		}
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][66:] < lines[j][66:] }) // by path, after "<64 hex>  "
	return fmt.Sprintf("%x", sha256.Sum256([]byte(strings.Join(lines, ""))))
}

// serve answers every GET of path with body; other paths are 404.
func serve(t *testing.T, files map[string][]byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// tree lists every path under dir.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// testData is the data directory the tests run on: SERVEBENCH_DATA, else
// ../shared/data beside the checkout.
func testData(t *testing.T) string {
	t.Helper()
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	d, ok := findShared(".")
	if !ok {
		t.Fatalf("no test data: set %s or put it at ../shared/data beside the checkout", EnvDir)
	}
	return d
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestFetchFaces: the face set is downloaded from a local server, unpacked into
// faces/orl whether the archive keeps the people at its root or under one
// directory (as att_faces.zip and its mirrors differ), checked against the digest,
// and found there on the next run without a download.
func TestFetchFaces(t *testing.T) {
	for _, prefix := range []string{"", "att_faces/"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			es := orlFixture(prefix)
			base := serve(t, map[string][]byte{"/att_faces.zip": zipOf(t, es)})
			set := FaceSet{URL: base + "/att_faces.zip", ImagesSHA256: digestOf(es, prefix)}
			dir := t.TempDir()
			if err := fetchFaces(context.Background(), quiet(), set, dir); err != nil {
				t.Fatal(err)
			}
			if !(Dir{Path: dir}).HasFaces() {
				t.Fatalf("no faces/orl/s1/1.pgm after the download: %v", tree(t, dir))
			}
			for _, e := range es {
				got, err := os.ReadFile(filepath.Join(dir, FacesORL, strings.TrimPrefix(e.name, prefix)))
				if err != nil || !bytes.Equal(got, e.data) {
					t.Errorf("%s: %q %v, want %q", e.name, got, err, e.data)
				}
			}
			if got := tree(t, dir); len(got) != 2+3+len(es) { // faces, faces/orl, s1..s3, the files
				t.Errorf("the data directory holds %d paths, want %d (no temporary files): %v", len(got), 2+3+len(es), got)
			}
			// Present and intact: no download (the server is gone).
			set.URL = "http://127.0.0.1:1/gone.zip"
			if err := fetchFaces(context.Background(), quiet(), set, dir); err != nil {
				t.Errorf("second run: %v", err)
			}
			// Present but changed: refused, naming what to do.
			os.WriteFile(filepath.Join(dir, FacesORL, "s2", "3.pgm"), []byte("P5\n1 1\n255\nx"), 0o644)
			if err := fetchFaces(context.Background(), quiet(), set, dir); err == nil || !strings.Contains(err.Error(), "remove it") {
				t.Errorf("changed faces/orl: %v, want an error saying to remove it", err)
			}
		})
	}
}

// TestFetchFacesRefused: a wrong checksum, an interrupted download, entries that
// climb out of the archive, an oversized entry, a file that is not a zip and a
// missing archive each fail with the reason, and leave nothing in the data
// directory or beside it.
func TestFetchFacesRefused(t *testing.T) {
	good := orlFixture("")
	goodZip := zipOf(t, good)
	withEntry := func(name string, data []byte) []byte {
		return zipOf(t, append(orlFixture(""), entry{name, data}))
	}
	interrupted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/zip\r\n\r\n", len(goodZip))
		buf.Write(goodZip[:len(goodZip)/2])
		buf.Flush()
		conn.Close()
	}))
	t.Cleanup(interrupted.Close)
	base := serve(t, map[string][]byte{
		"/good.zip":      goodZip,
		"/dotdot.zip":    withEntry("../evil.pgm", []byte("P5\n1 1\n255\nx")),
		"/climb.zip":     withEntry("s1/../../../evil.pgm", []byte("P5\n1 1\n255\nx")),
		"/absolute.zip":  withEntry("/tmp/evil/s1/1.pgm", []byte("P5\n1 1\n255\nx")),
		"/backslash.zip": withEntry(`..\evil.pgm`, []byte("P5\n1 1\n255\nx")),
		"/big.zip":       withEntry("s4/1.pgm", make([]byte, maxFaceEntryBytes+1)),
		"/two-roots.zip": withEntry("other/s1/1.pgm", []byte("P5\n1 1\n255\nx")),
		"/notzip.zip":    []byte("<html>moved</html>"),
	})
	digest := digestOf(good, "")
	for _, c := range []struct {
		name, url, digest, mention string
	}{
		{"checksum mismatch", base + "/good.zip", strings.Repeat("0", 64), "want " + strings.Repeat("0", 64)},
		{"interrupted", interrupted.URL + "/att_faces.zip", digest, "unexpected EOF"},
		{"dot-dot entry", base + "/dotdot.zip", digest, `unsafe entry "../evil.pgm"`},
		{"climbing entry", base + "/climb.zip", digest, "unsafe entry"},
		{"absolute entry", base + "/absolute.zip", digest, "unsafe entry"},
		{"backslash entry", base + "/backslash.zip", digest, "unsafe entry"},
		{"oversized entry", base + "/big.zip", digest, "over the limit"},
		{"two roots", base + "/two-roots.zip", digest, "images under both"},
		{"not a zip", base + "/notzip.zip", digest, "not a readable zip"},
		{"missing", base + "/missing.zip", digest, "404"},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "data")
			os.Mkdir(dir, 0o755)
			err := fetchFaces(context.Background(), quiet(), FaceSet{URL: c.url, ImagesSHA256: c.digest}, dir)
			if err == nil || !strings.Contains(err.Error(), c.mention) {
				t.Errorf("err = %v, want one mentioning %q", err, c.mention)
			}
			if got := tree(t, parent); len(got) != 1 {
				t.Errorf("left behind: %v", got)
			}
			if _, err := os.Stat("/tmp/evil"); err == nil {
				t.Errorf("wrote /tmp/evil")
			}
		})
	}
}

// TestLocateDownloads: with no SERVEBENCH_DATA and no ../shared/data, Locate
// downloads the model, the images and the face set, says so naming the faces
// source, and the directory it returns has faces.
func TestLocateDownloads(t *testing.T) {
	model, err := os.ReadFile(filepath.Join(testData(t), ModelPath))
	if err != nil {
		t.Fatal(err)
	}
	es := orlFixture("")
	base := serve(t, map[string][]byte{"/yolox_nano.onnx": model, "/dog.jpg": []byte("jpeg"), "/att_faces.zip": zipOf(t, es)})
	t.Setenv(EnvDir, "")
	var logs bytes.Buffer
	src := sources{
		files: map[string]string{ModelPath: base + "/yolox_nano.onnx", ImagesDir + "/dog.jpg": base + "/dog.jpg"},
		faces: FaceSet{URL: base + "/att_faces.zip", ImagesSHA256: digestOf(es, "")},
	}
	d, err := locate(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), t.TempDir(), t.TempDir(), src)
	if err != nil {
		t.Fatal(err)
	}
	if d.Source != "download" || !d.HasFaces() {
		t.Errorf("Locate = %+v (faces %v), want a download with faces", d, d.HasFaces())
	}
	for _, want := range []string{"downloading the model, the images and the ORL faces", "faces=" + src.faces.URL, "ORL faces downloaded and checked"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}

	// A face set that fails its check is refused and said so; the model and the
	// images still make a data directory (without faces).
	logs.Reset()
	src.faces.ImagesSHA256 = strings.Repeat("0", 64)
	d, err = locate(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), t.TempDir(), t.TempDir(), src)
	if err != nil || d.HasFaces() {
		t.Errorf("a face set with the wrong digest: %+v (faces %v), %v; want the directory without faces", d, d.HasFaces(), err)
	}
	for _, want := range []string{"level=WARN", "no ORL faces", "want " + src.faces.ImagesSHA256, EnvFacesURL} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}
}

// TestORLDigestIsTheSharedCopys: the pinned digest is that of the ORL images the
// project runs on (../shared/data/faces/orl, or SERVEBENCH_DATA's), all 400 of them.
func TestORLDigestIsTheSharedCopys(t *testing.T) {
	got, n, err := ImagesSHA256(os.DirFS(filepath.Join(testData(t), FacesORL)))
	if err != nil || got != ORLImagesSHA256 || n != 400 {
		t.Errorf("ImagesSHA256(shared faces/orl) = %s, %d images, %v; want %s, 400", got, n, err, ORLImagesSHA256)
	}
}

// The faces come from the ORL set's public home, or from the mirror
// SERVEBENCH_FACES_URL names, held to the same images digest either way.
func TestPublicFaceSource(t *testing.T) {
	t.Setenv(EnvFacesURL, "")
	if got := publicSources().faces; got != (FaceSet{URL: ORLArchiveURL, ImagesSHA256: ORLImagesSHA256}) {
		t.Errorf("faces %+v, want the public home and the pinned digest", got)
	}
	const mirror = "https://mirror.example.org/att_faces.zip"
	t.Setenv(EnvFacesURL, mirror)
	if got := publicSources().faces; got != (FaceSet{URL: mirror, ImagesSHA256: ORLImagesSHA256}) {
		t.Errorf("with %s=%s: faces %+v, want the mirror and the pinned digest", EnvFacesURL, mirror, got)
	}
}
