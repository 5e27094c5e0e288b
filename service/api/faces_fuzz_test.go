package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/faces/pgm"
	"github.com/servebench/servebench/service/instance"
	"github.com/servebench/servebench/service/storage"
)

// Small image limits keep each execution cheap; the limit checks are the same code
// whatever the numbers.
const (
	fuzzMaxImageBytes  = 4 << 10
	fuzzMaxImagePixels = 4 << 10
)

// FuzzFacesUpload sends fuzzed bodies (and Content-Types) to POST /faces/upload
// through the service's http.Handler on file:// buckets. What must hold:
//   - the answer is 200, or 400, 413 or 415 in the error contract's JSON (never a
//     500, never a panic), and the model is never loaded;
//   - a 400 only when the standard library finds no file part either, a 413 only
//     when the body, the file or its declared pixels are over their limits, and
//     always a 413 when the declared Content-Length is over the body's limit;
//   - on an error, no file at all is left in the output bucket's directory;
//   - on a 200, the one object stored is faces/<id>/upload and it is exactly the
//     first file part as mime/multipart reads it from the body's first
//     fuzzBodyLimit bytes (so nothing past the limit was needed), within the byte
//     limit, a JPEG, PNG or PGM within the pixel limit, as the answer describes it.
//
// The body sent is body with padLen bytes inserted at padAt (see pad);
// unknownLength sends it with no Content-Length (as a chunked upload), so only
// the reader's limit bounds it.
func FuzzFacesUpload(f *testing.F) {
	a, bs := uploadFixture(f)
	for _, s := range uploadSeeds(f) {
		f.Add(s.ct, s.body, s.padAt, s.padLen, s.unknownLength)
	}
	const id = "7"
	key := "faces/" + id + "/upload"
	f.Fuzz(func(t *testing.T, ct string, body []byte, padAt, padLen uint32, unknownLength bool) {
		body = pad(body, padAt, padLen)
		req := httptest.NewRequest(http.MethodPost, "/faces/upload?id="+id, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		if unknownLength {
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		// Each execution starts from an empty output bucket.
		defer func() {
			if err := os.RemoveAll(filepath.Join(bs.OutDir, "faces")); err != nil {
				t.Fatal(err)
			}
		}()
		if n := a.ModelLoads(); n != 0 {
			t.Fatalf("an upload loaded the model (%d loads)", n)
		}
		ans := apitest.Answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
		// A wrong Content-Type may be named first (the fuzzer found that order).
		if !unknownLength && len(body) > fuzzBodyLimit && ans.Status != http.StatusRequestEntityTooLarge &&
			(ans.Status != http.StatusBadRequest || isFormData(ct)) {
			t.Fatalf("%d for a body declared %d bytes, over the limit of %d: %s", ans.Status, len(body), fuzzBodyLimit, ans.Body)
		}
		// What the handler may read: the body up to its limit.
		name, data, fileErr := firstFilePart(ct, body[:min(len(body), fuzzBodyLimit)])
		if ans.Status != http.StatusOK {
			if err := apitest.CheckError(ans, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType); err != nil {
				t.Fatal(err)
			}
			if ans.Status == http.StatusBadRequest && fileErr == nil {
				t.Fatalf("400 for a body whose first file part %q reads: %s", name, ans.Body)
			}
			if ans.Status == http.StatusRequestEntityTooLarge && !overLimit(ct, body) {
				t.Fatalf("413 for a %d-byte body whose file is within the limits: %s", len(body), ans.Body)
			}
			if left := apitest.Files(t, bs.OutDir); len(left) != 0 {
				t.Fatalf("a %d answer left %v in the output bucket", ans.Status, left)
			}
			return
		}
		var got struct {
			Key, Filename, Format string
			Bytes, Width, Height  int
		}
		if err := json.Unmarshal(ans.Body, &got); err != nil {
			t.Fatalf("200 with a non-JSON body %q", ans.Body)
		}
		if fileErr != nil {
			t.Fatalf("200 for a body with no file part within its first %d bytes (%v): %s", fuzzBodyLimit, fileErr, ans.Body)
		}
		if keys := apitest.Keys(t, bs.Out); !slices.Equal(keys, []string{key}) || got.Key != key {
			t.Fatalf("answer key %q, bucket holds %v; want only %s", got.Key, keys, key)
		}
		stored, err := bs.Out.Read(context.Background(), key, 0)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case !bytes.Equal(stored, data):
			t.Fatalf("stored %d bytes, not the first file part's %d", len(stored), len(data))
		case len(stored) > fuzzMaxImageBytes:
			t.Fatalf("stored %d bytes, over the limit of %d", len(stored), fuzzMaxImageBytes)
		case got.Filename != viaJSON(name) || got.Bytes != len(stored):
			t.Fatalf("answer names %q with %d bytes, want %q with %d", got.Filename, got.Bytes, viaJSON(name), len(stored))
		case !slices.Contains([]string{"jpeg", "png", "pgm"}, got.Format):
			t.Fatalf("stored an image of format %q", got.Format)
		case got.Width <= 0 || got.Height <= 0 || int64(got.Width)*int64(got.Height) > fuzzMaxImagePixels:
			t.Fatalf("stored a %d×%d image, limit %d pixels", got.Width, got.Height, fuzzMaxImagePixels)
		}
	})
}

// uploadFixture is the service the upload fuzzer talks to: file:// buckets, small
// image limits, and a model loader that refuses (an upload must never load it).
func uploadFixture(tb testing.TB) (*api.API, apitest.Buckets) {
	bs := apitest.Open(tb, "file", storage.Options{})
	cfg := testConfig()
	cfg.MaxImageBytes, cfg.MaxImagePixels = fuzzMaxImageBytes, fuzzMaxImagePixels
	a, err := api.New(api.Options{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Instance: instance.New(),
		Input: bs.In, Output: bs.Out, ModelKey: apitest.ModelKey,
		NewDetector: func(context.Context, string, []byte, detect.LoadOptions) (detect.Detector, error) {
			return nil, errors.New("the upload fuzzer loads no model")
		}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a, bs
}

type uploadSeed struct {
	ct            string
	body          []byte
	padAt, padLen uint32
	unknownLength bool
}

// maxPad bounds the padding: past the body limit (the image limit and
// multipartOverhead), small enough to keep an execution cheap.
const maxPad = 128 << 10

// pad inserts padLen (at most maxPad) bytes 'x' at padAt (at most the body's
// end). A corpus entry of a few kilobytes thus stands for a body of any size
// around the limits: the fuzzer can cross them without carrying, and spending its
// time minimising, bodies of tens of kilobytes.
func pad(body []byte, padAt, padLen uint32) []byte {
	n := int(padLen % (maxPad + 1))
	if n == 0 {
		return body
	}
	at := min(int(padAt), len(body))
	return slices.Concat(body[:at], bytes.Repeat([]byte("x"), n), body[at:])
}

// uploadSeeds are the study's curl -F upload and real images, then each way a
// body can go wrong.
func uploadSeeds(tb testing.TB) []uploadSeed {
	orl, err := pgm.Decode(bytes.NewReader(apitest.Read(tb, "faces/orl/s1/1.pgm")))
	if err != nil {
		tb.Fatal(err)
	}
	// An ORL face at half its size (46×56): small seeds keep the fuzzer's
	// minimising of each new input short.
	face := image.NewGray(image.Rect(0, 0, 46, 56))
	xdraw.ApproxBiLinear.Scale(face, face.Bounds(), orl, orl.Bounds(), xdraw.Src, nil)
	faceFile := append([]byte("P5\n46 56\n255\n"), face.Pix...)
	faceJPEG := apitest.ExampleImage(tb, face)
	var facePNG, bombPNG bytes.Buffer
	// 100×100 = 10,000 pixels, over the pixel limit in a few hundred bytes.
	if png.Encode(&facePNG, face) != nil || png.Encode(&bombPNG, image.NewGray(image.Rect(0, 0, 100, 100))) != nil {
		tb.Fatal("encode the PNG seeds")
	}
	curlCT, curlBody := splitRequest(tb, apitest.CurlForm("localhost", "/faces/upload", "example_image.jpg", "example_image.jpg", faceJPEG))
	form := func(parts ...formPart) uploadSeed {
		ct, body := formBody(tb, parts...)
		return uploadSeed{ct: ct, body: body}
	}
	file := func(name string, data []byte) formPart { return formPart{field: "img", filename: name, data: data} }
	note := formPart{field: "note", data: []byte("the file comes second")}
	// padded grows the part that ends with after by n bytes.
	padded := func(s uploadSeed, after []byte, n uint32) uploadSeed {
		s.padAt, s.padLen = uint32(bytes.Index(s.body, after)+len(after)), n
		return s
	}
	big := padded(form(file("big.png", facePNG.Bytes())), facePNG.Bytes(), fuzzMaxImageBytes)
	huge := padded(form(note, file("x.png", facePNG.Bytes())), note.data, fuzzMaxImageBytes+70<<10)
	// The file is whole within the limit, what follows it is not.
	hugeAfter := padded(form(file("x.png", facePNG.Bytes()), note), note.data, fuzzMaxImageBytes+70<<10)
	chunked := func(s uploadSeed) uploadSeed { s.unknownLength = true; return s }
	// An image in a text field is not the file.
	imageField := formPart{field: "note", data: []byte("P2 1 1 255 7\n")}
	return []uploadSeed{
		{ct: curlCT, body: curlBody},
		form(note, file("s1_1.pgm", faceFile)),
		form(file("face.png", facePNG.Bytes())),
		form(file("x.png", facePNG.Bytes()), file("y.txt", []byte("second file ignored"))),
		form(file("y.txt", []byte("first file wins, and is not an image")), file("x.png", facePNG.Bytes())),
		form(note),
		big,
		form(file("bomb.png", bombPNG.Bytes())),
		form(file("bomb.pgm", []byte("P5 100000 100000 255\n\x00"))),
		form(file("wide.pgm", []byte("P5 100 100 255\n\x00"))),
		form(file("cut.jpg", faceJPEG[:len(faceJPEG)/2])),
		form(file("../../etc/passwd", faceJPEG)),
		form(file("empty.jpg", nil)),
		huge,
		chunked(huge),
		hugeAfter,
		chunked(hugeAfter),
		form(imageField, file("face.png", facePNG.Bytes())),
		{ct: curlCT, body: curlBody[:len(curlBody)/2]},
		{ct: curlCT, body: curlBody[:len(curlBody)-len("--\r\n")]},
		{ct: "multipart/form-data; boundary=not-the-one", body: curlBody},
		{ct: "multipart/form-data", body: curlBody},
		{ct: "image/jpeg", body: faceJPEG},
		{ct: "", body: curlBody},
		{ct: curlCT},
		{ct: "multipart/form-data; boundary=b", body: []byte("--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"q.pgm\"\r\n" +
			"Content-Transfer-Encoding: quoted-printable\r\n\r\nP2 1 1 255 =37\r\n--b--\r\n")},
	}
}

// viaJSON is s as a JSON answer carries it: each byte that is not UTF-8 becomes
// U+FFFD (the fuzzer found file names that are not).
func viaJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// fuzzBodyLimit is the upload body's limit: the image's and api's
// multipartOverhead.
const fuzzBodyLimit = fuzzMaxImageBytes + 64<<10

// overLimit says whether a 413 is deserved: the body is over its limit, or its
// first file part is over the byte limit (even if the body is cut after it) or
// declares more pixels than allowed.
func overLimit(ct string, body []byte) bool {
	if len(body) > fuzzBodyLimit {
		return true
	}
	_, data, err := firstFilePart(ct, body)
	if len(data) > fuzzMaxImageBytes {
		return true
	}
	if err != nil {
		return false
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if bytes.HasPrefix(data, []byte("P5")) || bytes.HasPrefix(data, []byte("P2")) {
		cfg, err = pgm.DecodeConfig(bytes.NewReader(data))
	}
	return errors.Is(err, pgm.ErrTooLarge) || err == nil && int64(cfg.Width)*int64(cfg.Height) > fuzzMaxImagePixels
}

// splitRequest is the Content-Type and body of a raw HTTP request.
func splitRequest(tb testing.TB, raw []byte) (string, []byte) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		tb.Fatal(err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return req.Header.Get("Content-Type"), body
}

type formPart struct {
	field, filename string
	data            []byte
}

// formBody is a multipart/form-data body of parts, in order; a part with a
// filename is a file.
func formBody(tb testing.TB, parts ...formPart) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.field, p.filename)
		} else {
			w, err = mw.CreateFormField(p.field)
		}
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(p.data)
	}
	if err := mw.Close(); err != nil {
		tb.Fatal(err)
	}
	return mw.FormDataContentType(), b.Bytes()
}

func isFormData(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "multipart/form-data"
}

// firstFilePart reads body as the standard library does, independently of the
// handler: the name and content of the first part that has a file name (what was
// read of it, on an error).
func firstFilePart(ct string, body []byte) (string, []byte, error) {
	_, params, _ := mime.ParseMediaType(ct)
	boundary, ok := params["boundary"]
	if !isFormData(ct) || !ok {
		return "", nil, fmt.Errorf("Content-Type %q is not multipart/form-data with a boundary", ct)
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if err != nil {
			return "", nil, fmt.Errorf("no file part: %w", err)
		}
		if part.FileName() == "" {
			continue
		}
		data, err := io.ReadAll(part)
		return part.FileName(), data, err
	}
}
