package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/config"
)

// orlSubset and heldOut are apitest's, shared with the entry points' tests.
func orlSubset(t *testing.T, subjects ...int) string { return apitest.ORLSubset(t, subjects...) }

func heldOut(t *testing.T, dir string, subjects []int, nth int) (image.Image, string) {
	return apitest.HeldOut(t, dir, subjects, nth)
}

func encodePNG(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// photoOf puts a face, twice its size, in a larger grey JPEG photo, so predict has
// to find it.
func photoOf(t *testing.T, face image.Image) []byte {
	photo := image.NewRGBA(image.Rect(0, 0, 480, 360))
	draw.Draw(photo, photo.Bounds(), image.NewUniform(color.RGBA{110, 110, 110, 255}), image.Point{}, draw.Src)
	xdraw.CatmullRom.Scale(photo, image.Rect(150, 70, 150+184, 70+224), face, face.Bounds(), xdraw.Src, nil)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, photo, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// multipartBody is a form with a text field first and then the file, in field,
// as the study's client sent it.
func multipartBody(t *testing.T, field, filename string, data []byte) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("note", "the file comes second")
	if field != "" {
		w, err := mw.CreateFormFile(field, filename)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// call sends a request to the service and decodes the JSON answer into a map.
func (s *service) call(t *testing.T, method, path, contentType string, body []byte) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s answered %d with non-JSON %q", method, path, resp.StatusCode, b)
	}
	return resp, out
}

// ok checks a 200 answer with the server object and the timing stages.
func ok(t *testing.T, what string, resp *http.Response, body map[string]any, stages ...string) {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %v", what, resp.StatusCode, body)
	}
	server, _ := body["server"].(map[string]any)
	if server == nil || server["instance"] == "" || server["platform"] == nil {
		t.Errorf("%s: no server object in %v", what, body)
	}
	if id, has := server["request_id"]; has {
		t.Errorf("%s: request_id %v off Lambda; it names a Lambda invocation only", what, id)
	}
	tm, _ := body["timings_ms"].(map[string]any)
	for _, st := range append(stages, "total") {
		if v, okv := tm[st].(float64); !okv || v < 0 {
			t.Errorf("%s: timings_ms has no %q: %v", what, st, tm)
		}
		if !strings.Contains(resp.Header.Get("Server-Timing"), st+";dur=") {
			t.Errorf("%s: Server-Timing %q lacks %s", what, resp.Header.Get("Server-Timing"), st)
		}
	}
}

// snapshot is every object of the output bucket with its content.
func snapshot(t *testing.T, s *service) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, k := range apitest.Keys(t, s.bs.Out) {
		b, err := s.bs.Out.Read(context.Background(), k, 0)
		if err != nil {
			t.Fatal(err)
		}
		m[k] = string(b)
	}
	return m
}

// TestFacesEndToEnd runs the four functions in order on each storage backend:
// download a data set, train, upload a held-out face, name it; then a photo that
// needs face detection.
func TestFacesEndToEnd(t *testing.T) {
	subjects := []int{3, 7, 12, 18, 21, 25, 33, 40}
	dir := orlSubset(t, subjects...)
	for _, backend := range []string{"mem", "file", "s3"} {
		t.Run(backend, func(t *testing.T) {
			s := newService(t, backend, nil)
			source := "file://" + dir
			if backend == "s3" {
				// A blob object URL: the bucket URL with the key as path.
				if err := s.bs.In.Write(context.Background(), "faces/orl.zip", "application/zip", zipDir(t, dir)); err != nil {
					t.Fatal(err)
				}
				source = strings.Replace(s.bs.InURL, "s3://in?", "s3://in/faces/orl.zip?", 1)
			}
			resp, body := s.call(t, "POST", "/faces/download_data?id=4&source="+url.QueryEscape(source), "", nil)
			ok(t, "download_data", resp, body, "download", "load", "upload")
			if body["layout"] != "orl" || body["people"] != 8.0 || body["images"] != 80.0 || body["width"] != 92.0 || body["key"] != "faces/4/dataset.tar.gz" {
				t.Errorf("download_data answer %v", body)
			}

			resp, body = s.call(t, "POST", "/faces/train?id=4", "", nil)
			ok(t, "train", resp, body, "download", "load", "split", "pca", "grid_search", "fit", "evaluate", "upload")
			if acc, _ := body["test_accuracy"].(float64); acc < 0.85 {
				t.Errorf("test accuracy %v on 8 people, want ≥ 0.85", body["test_accuracy"])
			}
			if body["train_samples"] != 60.0 || body["test_samples"] != 20.0 || body["classes"] != 8.0 || body["components"] != 59.0 {
				t.Errorf("train counts %v %v %v %v", body["train_samples"], body["test_samples"], body["classes"], body["components"])
			}
			best, _ := body["best"].(map[string]any)
			if best == nil || best["C"] == nil || best["gamma"] == nil {
				t.Errorf("no best C and gamma: %v", body["best"])
			}
			if pc, _ := body["per_class"].([]any); len(pc) != 8 {
				t.Errorf("per_class has %d entries, want 8", len(pc))
			}

			face, name := heldOut(t, dir, subjects, 0)
			ct, form := multipartBody(t, "example_image.jpg", "face.png", encodePNG(t, face))
			resp, body = s.call(t, "POST", "/faces/upload?id=4", ct, form)
			ok(t, "upload", resp, body, "decode", "upload")
			if body["format"] != "png" || body["width"] != 92.0 || body["height"] != 112.0 || body["filename"] != "face.png" {
				t.Errorf("upload answer %v", body)
			}

			resp, body = s.call(t, "POST", "/faces/predict?id=4", "", nil)
			ok(t, "predict", resp, body, "download", "load", "decode", "detect", "inference")
			f, _ := body["face"].(map[string]any)
			if body["name"] != name || f["detected"] != false {
				t.Errorf("predict named %v (detected %v), want %s from the crop as is", body["name"], f["detected"], name)
			}
			if sc, _ := body["score"].(float64); sc <= 0 || sc > 1 {
				t.Errorf("score %v", body["score"])
			}

			face, name = heldOut(t, dir, subjects, 1)
			ct, form = multipartBody(t, "photo", "photo.jpg", photoOf(t, face))
			resp, body = s.call(t, "POST", "/faces/upload?id=4", ct, form)
			ok(t, "upload photo", resp, body)
			resp, body = s.call(t, "POST", "/faces/predict?id=4", "", nil)
			ok(t, "predict photo", resp, body)
			f, _ = body["face"].(map[string]any)
			box, _ := f["box"].([]any)
			if f["detected"] != true || len(box) != 4 {
				t.Fatalf("photo: face %v, want a detection", f)
			}
			// The face was pasted at 150..334 × 70..294.
			if cx := (box[0].(float64) + box[2].(float64)) / 2; cx < 210 || cx > 275 {
				t.Errorf("face box %v is not around the pasted face", box)
			}
			if body["name"] != name {
				t.Errorf("photo: predicted %v, want %s", body["name"], name)
			}
			keys := apitest.Keys(t, s.bs.Out)
			want := []string{"faces/4/dataset.tar.gz", "faces/4/model.bin", "faces/4/upload"}
			if !slices.Equal(keys, want) {
				t.Errorf("output bucket holds %v, want %v", keys, want)
			}
		})
	}
}

// Two callers with different ids and different data sets, at the same time,
// never see each other's state.
func TestFacesParallelIDs(t *testing.T) {
	sets := map[int][]int{1: {1, 2, 3, 4, 5}, 2: {6, 7, 8, 9, 10}}
	s := newService(t, "file", nil)
	var wg sync.WaitGroup
	for id, subjects := range sets {
		dir := orlSubset(t, subjects...)
		face, name := heldOut(t, dir, subjects, 2)
		ct, form := multipartBody(t, "f", "f.png", encodePNG(t, face))
		wg.Go(func() {
			q := fmt.Sprintf("?id=%d", id)
			steps := []struct {
				path, ct string
				body     []byte
			}{
				{"/faces/download_data" + q + "&source=" + dir, "", nil},
				{"/faces/train" + q, "", nil},
				{"/faces/upload" + q, ct, form},
				{"/faces/predict" + q, "", nil},
			}
			var last map[string]any
			for _, st := range steps {
				resp, body := s.call(t, "POST", st.path, st.ct, st.body)
				if resp.StatusCode != 200 {
					t.Errorf("id %d %s: %d %v", id, st.path, resp.StatusCode, body)
					return
				}
				last = body
			}
			if last["name"] != name || last["id"] != float64(id) {
				t.Errorf("id %d predicted %v (id %v), want %s", id, last["name"], last["id"], name)
			}
		})
	}
	wg.Wait()
	keys := apitest.Keys(t, s.bs.Out)
	if len(keys) != 6 || !strings.HasPrefix(keys[0], "faces/1/") || !strings.HasPrefix(keys[5], "faces/2/") {
		t.Errorf("keys %v", keys)
	}
}

// zipDir is a zip of the files under dir, named relative to it.
func zipDir(t *testing.T, dir string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return b.Bytes()
}

func zipFile(t *testing.T, entries map[string][]byte) string {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, data := range entries {
		w, _ := zw.Create(name)
		w.Write(data)
	}
	zw.Close()
	p := filepath.Join(t.TempDir(), "set.zip")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every bad request answers its status and code with a message, and leaves the
// output bucket exactly as it was.
func TestFacesBadInput(t *testing.T) {
	s := newService(t, "file", func(c *config.Config) {
		c.MaxImageBytes = 200 << 10
		c.MaxImagePixels = 2_000_000
	})
	subjects := []int{1, 2, 3}
	dir := orlSubset(t, subjects...)
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "README"), []byte("no faces here"), 0o644)
	pgm1, _ := os.ReadFile(filepath.Join(dir, "s1", "1.pgm"))
	traversal := zipFile(t, map[string][]byte{"s1/1.pgm": pgm1, "../../s2/1.pgm": pgm1})
	bomb := zipFile(t, map[string][]byte{"s1/1.pgm": make([]byte, 9<<20)})
	face, _ := heldOut(t, dir, subjects, 0)
	facePNG := encodePNG(t, face)

	type bad struct {
		name, method, path, ct string
		body                   []byte
		status                 int
		code, mention          string
	}
	form := func(field string, data []byte) (string, []byte) { return multipartBody(t, field, "x.png", data) }
	ctText, textForm := form("img", []byte("just text"))
	ctNone, noFile := form("", nil)
	ctBig, bigForm := form("img", append(slices.Clone(facePNG), make([]byte, 200<<10)...))
	ctBomb, bombForm := form("img", hugePNG(t, 20_000, 20_000))
	// Beyond what the PGM reader takes at all, not only beyond the service's limit.
	ctPGMBomb, pgmBombForm := form("img", []byte("P5 100000 100000 255\n\x00"))
	ctBlank, blankForm := form("img", encodePNG(t, image.NewGray(image.Rect(0, 0, 640, 480))))
	ctFace, faceForm := form("img", facePNG)

	// Before any data: the order of the steps is enforced.
	before := []bad{
		{"negative id", "POST", "/faces/train?id=-1", "", nil, 400, "bad_request", "id"},
		{"id not a number", "POST", "/faces/train?id=abc", "", nil, 400, "bad_request", "id"},
		{"id fraction", "POST", "/faces/predict?id=1.5", "", nil, 400, "bad_request", "id"},
		{"id too large", "POST", "/faces/predict?id=99999999999999999999", "", nil, 400, "bad_request", "id"},
		{"train before download", "POST", "/faces/train?id=0", "", nil, 409, "conflict", "download_data"},
		{"predict before train", "POST", "/faces/predict?id=0", "", nil, 409, "conflict", "train"},
		{"no source", "POST", "/faces/download_data", "", nil, 400, "bad_request", "SERVEBENCH_FACES_SOURCE"},
		{"relative source", "POST", "/faces/download_data?source=faces/orl", "", nil, 400, "bad_request", "absolute"},
		{"missing source", "POST", "/faces/download_data?source=file:///nonexistent/orl", "", nil, 404, "not_found", "does not exist"},
		{"no faces in source", "POST", "/faces/download_data?source=" + empty, "", nil, 422, "unprocessable", "layout"},
		{"traversal", "POST", "/faces/download_data?source=" + traversal, "", nil, 422, "unprocessable", "unsafe"},
		{"archive bomb", "POST", "/faces/download_data?source=" + bomb, "", nil, 413, "too_large", "limit"},
		{"GET upload", "GET", "/faces/upload", "", nil, 405, "method_not_allowed", "GET"},
		{"PUT train", "PUT", "/faces/train", "", nil, 405, "method_not_allowed", "PUT"},
		{"unknown faces route", "POST", "/faces/everything", "", nil, 404, "not_found", "download_data"},
		{"upload not multipart", "POST", "/faces/upload", "image/png", facePNG, 400, "bad_request", "multipart"},
		{"upload without file", "POST", "/faces/upload", ctNone, noFile, 400, "bad_request", "no file"},
		{"upload not an image", "POST", "/faces/upload", ctText, textForm, 415, "not_an_image", "JPEG or PNG"},
		{"upload too large", "POST", "/faces/upload", ctBig, bigForm, 413, "too_large", "limit"},
		{"upload pixel bomb", "POST", "/faces/upload", ctBomb, bombForm, 413, "too_large", "pixels"},
		{"upload PGM bomb", "POST", "/faces/upload", ctPGMBomb, pgmBombForm, 413, "too_large", "too large"},
	}
	check := func(cases []bad) {
		t.Helper()
		for _, c := range cases {
			was := snapshot(t, s)
			resp, body := s.call(t, c.method, c.path, c.ct, c.body)
			e, _ := body["error"].(map[string]any)
			msg, _ := e["message"].(string)
			if resp.StatusCode != c.status || e["code"] != c.code || !strings.Contains(msg, c.mention) {
				t.Errorf("%s: got %d %v, want %d %s mentioning %q", c.name, resp.StatusCode, e, c.status, c.code, c.mention)
			}
			if now := snapshot(t, s); !mapsEqual(was, now) {
				t.Errorf("%s changed the output bucket: %d objects before, %d after", c.name, len(was), len(now))
			}
		}
	}
	check(before)

	// With a data set and a model but no upload yet.
	for _, p := range []string{"/faces/download_data?source=" + dir, "/faces/train"} {
		if resp, body := s.call(t, "POST", p, "", nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", p, resp.StatusCode, body)
		}
	}
	check([]bad{
		{"predict before upload", "POST", "/faces/predict", "", nil, 409, "conflict", "upload"},
		{"bad upload keeps none", "POST", "/faces/upload", ctText, textForm, 415, "not_an_image", "JPEG or PNG"},
	})

	// A blank photo has no face; a good upload after bad ones still works.
	if resp, body := s.call(t, "POST", "/faces/upload", ctBlank, blankForm); resp.StatusCode != 200 {
		t.Fatalf("upload blank: %d %v", resp.StatusCode, body)
	}
	check([]bad{
		{"no face", "POST", "/faces/predict", "", nil, 422, "unprocessable", "no face"},
		{"failed download keeps the old data set", "POST", "/faces/download_data?source=" + empty, "", nil, 422, "unprocessable", "layout"},
		{"bad upload keeps the old one", "POST", "/faces/upload", ctBig, bigForm, 413, "too_large", "limit"},
	})
	if resp, body := s.call(t, "POST", "/faces/upload", ctFace, faceForm); resp.StatusCode != 200 {
		t.Fatalf("upload face: %d %v", resp.StatusCode, body)
	}
	if resp, body := s.call(t, "POST", "/faces/predict", "", nil); resp.StatusCode != 200 || body["name"] == nil {
		t.Fatalf("predict after the bad requests: %d %v", resp.StatusCode, body)
	}
}

// A public deployment turns ?source= off: a caller must not make the function
// fetch a URL or path of their choosing; the configured source still works.
func TestFacesSourceParamOff(t *testing.T) {
	dir := orlSubset(t, 1, 2)
	other := orlSubset(t, 3, 4)
	s := newService(t, "mem", func(c *config.Config) {
		c.FacesSource = dir
		c.FacesAllowSrc = false
	})
	was := snapshot(t, s)
	resp, body := s.call(t, "POST", "/faces/download_data?source="+other, "", nil)
	e, _ := body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	if resp.StatusCode != http.StatusForbidden || e["code"] != "forbidden" || !strings.Contains(msg, "SERVEBENCH_FACES_ALLOW_SOURCE") {
		t.Errorf("?source= with the switch off: %d %v", resp.StatusCode, e)
	}
	if now := snapshot(t, s); !mapsEqual(was, now) {
		t.Errorf("a refused download changed the bucket: %d objects before, %d after", len(was), len(now))
	}
	for _, p := range []string{"/faces/download_data", "/faces/download_data?source=" + dir} {
		resp, body := s.call(t, "POST", p, "", nil)
		if resp.StatusCode != http.StatusOK || body["people"] != 2.0 || body["images"] != 20.0 {
			t.Errorf("%s: the configured source must still work: %d %v", p, resp.StatusCode, body)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
