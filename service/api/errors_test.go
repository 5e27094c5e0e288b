package api_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/detect"
)

// hugePNG is a valid PNG header declaring w×h pixels with (almost) no data: a
// decompression bomb as far as a decoder that trusts the header is concerned.
func hugePNG(t *testing.T, w, h uint32) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	p := b.Bytes()
	// IHDR data starts at 16: width, height; its CRC covers type+data (12..29).
	binary.BigEndian.PutUint32(p[16:], w)
	binary.BigEndian.PutUint32(p[20:], h)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

// TestBadInput sends every kind of bad request and checks the status, the error
// code, and that the output bucket stays empty.
func TestBadInput(t *testing.T) {
	for _, backend := range []string{"mem", "file"} {
		t.Run(backend, func(t *testing.T) {
			s := newService(t, backend, func(c *config.Config) {
				c.MaxImageBytes = 1 << 20
				c.MaxImagePixels = 2_000_000
			})
			ctx := context.Background()
			dog := dogJPEG(t)
			for key, data := range map[string][]byte{
				"images/notes.txt":  []byte("this is not an image"),
				"images/empty.jpg":  {},
				"images/cut.jpg":    dog[:len(dog)/2],
				"images/header.jpg": dog[:200],
				"images/bomb.png":   hugePNG(t, 100_000, 100_000),
				"images/big.jpg":    append(append([]byte{}, dog...), make([]byte, 1<<20)...),
				"images/fake.png":   []byte("\x89PNG\r\n\x1a\nnot really"),
			} {
				if err := s.bs.In.Write(ctx, key, "application/octet-stream", data); err != nil {
					t.Fatal(err)
				}
			}
			cases := []struct {
				name, method, path, body string
				status                   int
				code                     string
			}{
				{"malformed JSON", "POST", "/predict", `{"filename": `, 400, "bad_request"},
				{"empty body", "POST", "/predict", ``, 400, "bad_request"},
				{"not an object", "POST", "/predict", `["images/dog.jpg"]`, 400, "bad_request"},
				{"missing filename", "POST", "/predict", `{}`, 400, "bad_request"},
				{"filename not a string", "POST", "/predict", `{"filename": 7}`, 400, "bad_request"},
				{"unknown field", "POST", "/predict", `{"filename": "images/dog.jpg", "file_name": "x"}`, 400, "bad_request"},
				{"trailing data", "POST", "/predict", `{"filename": "images/dog.jpg"} {}`, 400, "bad_request"},
				{"dot-dot key", "POST", "/predict", `{"filename": "../secrets/dog.jpg"}`, 400, "bad_request"},
				{"leading slash", "POST", "/predict", `{"filename": "/etc/passwd"}`, 400, "bad_request"},
				{"control character", "POST", "/predict", `{"filename": "images/do\u0000g.jpg"}`, 400, "bad_request"},
				{"score threshold 0", "POST", "/predict", `{"filename": "images/dog.jpg", "score_threshold": 0}`, 400, "bad_request"},
				{"iou threshold 2", "POST", "/predict", `{"filename": "images/dog.jpg", "iou_threshold": 2}`, 400, "bad_request"},
				{"body too large", "POST", "/predict", `{"filename": "` + strings.Repeat("a", 70<<10) + `"}`, 413, "too_large"},
				{"no such key", "POST", "/predict", `{"filename": "images/cat.jpg"}`, 404, "not_found"},
				{"text file", "POST", "/predict", `{"filename": "images/notes.txt"}`, 415, "not_an_image"},
				{"empty file", "POST", "/predict", `{"filename": "images/empty.jpg"}`, 415, "not_an_image"},
				{"truncated JPEG", "POST", "/predict", `{"filename": "images/cut.jpg"}`, 415, "not_an_image"},
				{"JPEG header only", "POST", "/predict", `{"filename": "images/header.jpg"}`, 415, "not_an_image"},
				{"PNG signature only", "POST", "/predict", `{"filename": "images/fake.png"}`, 415, "not_an_image"},
				{"decompression bomb", "POST", "/predict", `{"filename": "images/bomb.png"}`, 413, "too_large"},
				{"file too large", "POST", "/predict", `{"filename": "images/big.jpg"}`, 413, "too_large"},
				{"GET /predict", "GET", "/predict", ``, 405, "method_not_allowed"},
				{"unknown route", "POST", "/nothing", `{}`, 404, "not_found"},
			}
			for _, c := range cases {
				req, _ := http.NewRequest(c.method, s.srv.URL+c.path, strings.NewReader(c.body))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var e errAnswer
				decodeBody(t, resp, &e)
				if resp.StatusCode != c.status || e.Error.Code != c.code || e.Error.Message == "" {
					t.Errorf("%s: got %d %+v, want %d %s with a message", c.name, resp.StatusCode, e.Error, c.status, c.code)
				}
			}
			if keys := outputKeys(t, s); len(keys) != 0 {
				t.Errorf("bad requests left objects in the output bucket: %v", keys)
			}
			// The instance still serves after all that.
			var a answer
			if resp := s.post(t, "/predict", `{"filename":"images/dog.jpg"}`, &a); resp.StatusCode != 200 {
				t.Fatalf("a good request after the bad ones: %d", resp.StatusCode)
			}
		})
	}
}

func dogJPEG(t *testing.T) []byte {
	t.Helper()
	return readData(t, "images/dog.jpg")
}

// TestDeadline: a request past its deadline answers 504 and writes nothing.
func TestDeadline(t *testing.T) {
	s := newService(t, "file", func(c *config.Config) { c.RequestTimeout = time.Nanosecond })
	var e errAnswer
	if resp := s.post(t, "/predict", `{"filename":"images/dog.jpg"}`, &e); resp.StatusCode != http.StatusGatewayTimeout || e.Error.Code != "deadline_exceeded" {
		t.Errorf("status %d %+v, want 504 deadline_exceeded", resp.StatusCode, e)
	}
	if keys := outputKeys(t, s); len(keys) != 0 {
		t.Errorf("a timed-out request left %v", keys)
	}
}

type panicky struct{ detect.Detector }

func (panicky) Backend() string { return "panicky" }
func (panicky) Threads() int    { return 1 }

func (panicky) Detect(context.Context, image.Image, detect.Options) ([]detect.Detection, error) {
	panic("detector exploded")
}

// TestPanicRecovered: a panic in a handler is a 500 in the contract, and the
// instance goes on serving.
func TestPanicRecovered(t *testing.T) {
	s := newPanickyService(t)
	for range 2 {
		var e errAnswer
		if resp := s.post(t, "/predict", `{"filename":"images/dog.jpg"}`, &e); resp.StatusCode != 500 || e.Error.Code != "internal" {
			t.Errorf("panicking detector: %d %+v, want 500 internal", resp.StatusCode, e)
		}
	}
	if keys := outputKeys(t, s); len(keys) != 0 {
		t.Errorf("a panicking request left %v", keys)
	}
}

// stuck ignores its context and never returns, like a call into C that hangs.
type stuck struct{ detect.Detector }

func (stuck) Backend() string { return "stuck" }
func (stuck) Threads() int    { return 1 }
func (stuck) Detect(context.Context, image.Image, detect.Options) ([]detect.Detection, error) {
	select {}
}

// TestStuckDetector: a detector that ignores the deadline still gets a 504 at the
// deadline, and nothing is written.
func TestStuckDetector(t *testing.T) {
	s := newServiceWith(t, func(c *config.Config) { c.RequestTimeout = 500 * time.Millisecond },
		func(context.Context, string, []byte, detect.LoadOptions) (detect.Detector, error) {
			return stuck{}, nil
		})
	var e errAnswer
	if resp := s.post(t, "/predict", `{"filename":"images/dog.jpg"}`, &e); resp.StatusCode != http.StatusGatewayTimeout || e.Error.Code != "deadline_exceeded" {
		t.Errorf("stuck detector: %d %+v, want 504 deadline_exceeded", resp.StatusCode, e)
	}
	if keys := outputKeys(t, s); len(keys) != 0 {
		t.Errorf("a timed-out request left %v", keys)
	}
}

// TestSigningRefused: on Cloud Functions without roles/iam.serviceAccountTokenCreator
// IAM refuses SignBlob; /predict answers a 500 that says what to grant (rather
// than a bare "internal error") and leaves nothing in the output bucket.
func TestSigningRefused(t *testing.T) {
	s := newService(t, "gcs", nil)
	s.bs.GCP.Deny()
	var e errAnswer
	resp := s.post(t, "/predict", `{"filename":"images/dog.jpg"}`, &e)
	if resp.StatusCode != http.StatusInternalServerError || e.Error.Code != "internal" || !strings.Contains(e.Error.Message, "roles/iam.serviceAccountTokenCreator") {
		t.Errorf("answer %d %+v, want a 500 naming roles/iam.serviceAccountTokenCreator", resp.StatusCode, e.Error)
	}
	if len(s.bs.GCP.Calls()) == 0 {
		t.Errorf("IAM SignBlob was never called")
	}
	if keys := outputKeys(t, s); len(keys) != 0 {
		t.Errorf("a refused signature left %v in the output bucket", keys)
	}
}
