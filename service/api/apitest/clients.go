package apitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/faces/pgm"
	"github.com/servebench/servebench/service/faces/split"
	"github.com/servebench/servebench/service/storage"
)

// The seeds' own clients, byte for byte as they put their requests on the wire,
// so a test can show that the service answers them unchanged on every entry point.

// curlUA is the curl these requests reproduce (Debian 12's, captured from its
// wire output): a plain `curl URL` sends exactly Host, User-Agent and Accept.
const curlUA = "curl/7.88.1"

// CurlGet is `curl http://host/target`: a GET with curl's three headers.
func CurlGet(host, target string) []byte {
	return []byte("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: " + curlUA + "\r\nAccept: */*\r\n\r\n")
}

// CurlForm is `curl -F field=@filename http://host/target`: a multipart POST
// with curl's boundary (24 dashes and 16 hex digits, the part's delimiter two
// dashes longer), the file as the one part, its type guessed from the name as
// curl does. No `Expect: 100-continue`: curl 7.88.1 sent none for a small file.
func CurlForm(host, target, field, filename string, data []byte) []byte {
	boundary := "------------------------" + "4f1c0b2e9d7a6358"
	ct := mime.TypeByExtension(filepath.Ext(filename))
	if ct == "" {
		ct = "application/octet-stream"
	}
	var body bytes.Buffer
	fmt.Fprintf(&body, "--%s\r\nContent-Disposition: form-data; name=%q; filename=%q\r\nContent-Type: %s\r\n\r\n", boundary, field, filename, ct)
	body.Write(data)
	fmt.Fprintf(&body, "\r\n--%s--\r\n", boundary)
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\nContent-Length: %d\r\nContent-Type: multipart/form-data; boundary=%s\r\n\r\n",
		target, host, curlUA, body.Len(), boundary)
	return append([]byte(head), body.Bytes()...)
}

// LocustPredict is the YOLO study's Locust task, self.client.post("/predict",
// json={"filename": key}): Python requests' headers, json.dumps's spacing.
func LocustPredict(host, key string) []byte {
	body := `{"filename": "` + key + `"}`
	return []byte("POST /predict HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: python-requests/2.31.0\r\n" +
		"Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\nContent-Type: application/json\r\n\r\n" + body)
}

// JMeterPredict is the YOLO study's JMeter sampler (JMeter_Load_Testing.jmx): the
// raw body as the plan holds it ("{&#xd;\n\t&quot;filename&quot;: …&#xd;\n}":
// CRLF line ends and a tab), Accept: application/json from its header manager,
// keep-alive off, and no JSON content type: contentType is what the HTTP client
// added, "" for none (JMeter's HttpClient 4 sampler gives a raw body
// "text/plain; charset=UTF-8").
func JMeterPredict(host, key, contentType string) []byte {
	body := "{\r\n\t\"filename\": \"" + key + "\"\r\n}"
	h := "POST /predict HTTP/1.1\r\nAccept: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	if contentType != "" {
		h += "Content-Type: " + contentType + "\r\n"
	}
	h += "Host: " + host + "\r\nConnection: close\r\nUser-Agent: Apache-HttpClient/4.5.13 (Java/17.0.6)\r\n\r\n"
	return []byte(h + body)
}

// Answer is what an entry point answered.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the answer's body into a map, failing the test if it is not JSON.
func (a Answer) JSON(tb testing.TB, what string) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.Body, &m); err != nil {
		tb.Fatalf("%s answered %d with non-JSON %q", what, a.Status, a.Body)
	}
	return m
}

// A Sender delivers one raw request, as a client wrote it, to an entry point.
type Sender func(tb testing.TB, raw []byte) Answer

// OverTCP sends the raw bytes on a new connection to addr (an HTTP server: the
// service's own or the functions framework's) and reads the answer.
func OverTCP(addr string) Sender {
	return func(tb testing.TB, raw []byte) Answer {
		tb.Helper()
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			tb.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
		if _, err := c.Write(raw); err != nil {
			tb.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			tb.Fatalf("read the answer: %v", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			tb.Fatal(err)
		}
		return Answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
	}
}

// ThroughAPIGateway turns the raw request into the event an API Gateway HTTP API
// hands Lambda (payload format 2.0: lower-case headers, repeated ones joined with
// commas, the query apart, a binary body base64-encoded), serialises it as the
// Lambda runtime does and gives it to invoke (a lambda.Handler's Invoke), then
// reads the function's answer back as API Gateway would.
func ThroughAPIGateway(invoke func(ctx context.Context, payload []byte) ([]byte, error)) Sender {
	return func(tb testing.TB, raw []byte) Answer {
		tb.Helper()
		ev, err := APIGatewayV2Event(raw)
		if err != nil {
			tb.Fatal(err)
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			tb.Fatal(err)
		}
		out, err := invoke(context.Background(), payload)
		if err != nil {
			tb.Fatalf("invoke: %v", err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			tb.Fatalf("the function answered %q: %v", out, err)
		}
		body := []byte(resp.Body)
		if resp.IsBase64Encoded {
			if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
				tb.Fatal(err)
			}
		}
		h := http.Header{}
		for k, v := range resp.Headers {
			h.Set(k, v)
		}
		for k, vs := range resp.MultiValueHeaders {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		return Answer{Status: resp.StatusCode, Header: h, Body: body}
	}
}

// APIGatewayV2Event is the API Gateway HTTP API event for a raw request.
func APIGatewayV2Event(raw []byte) (events.APIGatewayV2HTTPRequest, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("parse the raw request: %w", err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, err
	}
	headers := map[string]string{
		"x-forwarded-for": "203.0.113.7", "x-forwarded-port": "443", "x-forwarded-proto": "https",
		"host": req.Host, "content-length": strconv.Itoa(len(body)),
	}
	var cookies []string
	for k, vs := range req.Header {
		if k == "Cookie" {
			for _, v := range vs {
				cookies = append(cookies, strings.Split(v, "; ")...)
			}
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if len(body) == 0 {
		delete(headers, "content-length")
	}
	var query map[string]string
	for k, vs := range req.URL.Query() {
		if query == nil {
			query = map[string]string{}
		}
		query[k] = strings.Join(vs, ",")
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: req.URL.Path, RawQueryString: req.URL.RawQuery,
		Cookies: cookies, Headers: headers, QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "123456789012", APIID: "abc123", DomainName: req.Host, DomainPrefix: "abc123",
			RequestID: "JKJaXmPLvHcESHA=", RouteKey: "$default", Stage: "$default",
			Time: "01/Dec/2026:15:00:00 +0000", TimeEpoch: 1796137200000,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: req.Method, Path: req.URL.Path, Protocol: req.Proto, SourceIP: "203.0.113.7", UserAgent: req.UserAgent(),
			},
		},
	}
	if textual(req.Header.Get("Content-Type"), body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev, nil
}

// textual says whether API Gateway passes a body as text rather than base64.
func textual(contentType string, body []byte) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case len(body) == 0:
		return true
	case strings.HasPrefix(mt, "multipart/"):
		return false
	case mt == "", strings.HasPrefix(mt, "text/"), mt == "application/json", mt == "application/xml":
		return utf8.Valid(body)
	}
	return false
}

// Endpoint is where one of the Eigenfaces study's functions is reached: how to
// send, the Host header and the request target its URL gives.
type Endpoint struct {
	Send   Sender
	Host   string
	Target string
}

// EigenfacesFunctions are the study's four functions in the order its client
// called them.
var EigenfacesFunctions = []string{"download_data", "train", "upload", "predict"}

// EigenfacesCurl runs the Eigenfaces study's client as its README did, with no id:
//
//	curl https://…/eigenfaces_download_data_http
//	curl https://…/eigenfaces_train_http
//	curl -F example_image.jpg=@example_image.jpg https://…/eigenfaces_upload_http
//	curl https://…/eigenfaces_predict_http
//
// against at(function), uploading photo (a JPEG) as example_image.jpg. It checks
// that each call answered 200 with its result for id 0 (a stored data set, a
// trained model, the stored upload) and returns the four answers by function.
func EigenfacesCurl(tb testing.TB, photo []byte, at func(function string) Endpoint) map[string]map[string]any {
	tb.Helper()
	out := map[string]map[string]any{}
	for _, fn := range EigenfacesFunctions {
		e := at(fn)
		raw := CurlGet(e.Host, e.Target)
		if fn == "upload" {
			raw = CurlForm(e.Host, e.Target, "example_image.jpg", "example_image.jpg", photo)
		}
		a := e.Send(tb, raw)
		m := a.JSON(tb, fn)
		if a.Status != http.StatusOK {
			tb.Fatalf("curl %s: %d %v", e.Target, a.Status, m)
		}
		if m["id"] != 0.0 {
			tb.Errorf("%s: id %v, want 0 (the client names none)", fn, m["id"])
		}
		out[fn] = m
	}
	dl, tr, up := out["download_data"], out["train"], out["upload"]
	if dl["key"] != "faces/0/dataset.tar.gz" || dl["images"].(float64) < 1 {
		tb.Errorf("download_data stored no data set: %v", dl)
	}
	if tr["key"] != "faces/0/model.bin" || tr["model_bytes"].(float64) < 1 || tr["classes"] != dl["people"] || tr["samples"] != dl["images"] {
		tb.Errorf("train answered no model of the downloaded set (%v people, %v images): key %v, %v bytes, %v classes, %v samples",
			dl["people"], dl["images"], tr["key"], tr["model_bytes"], tr["classes"], tr["samples"])
	}
	if up["key"] != "faces/0/upload" || up["filename"] != "example_image.jpg" || up["format"] != "jpeg" || up["bytes"] != float64(len(photo)) {
		tb.Errorf("upload did not store example_image.jpg (%d bytes): %v", len(photo), up)
	}
	return out
}

// CheckPredicted checks that predict named want and that its label is want's
// place among the trained classes (train's per_class, in label order).
func CheckPredicted(tb testing.TB, answers map[string]map[string]any, want string) {
	tb.Helper()
	p := answers["predict"]
	var names []string
	for _, c := range answers["train"]["per_class"].([]any) {
		names = append(names, c.(map[string]any)["name"].(string))
	}
	if p["name"] != want {
		tb.Errorf("predict named %v (label %v), want %s", p["name"], p["label"], want)
	}
	if l, ok := p["label"].(float64); !ok || int(l) != slices.Index(names, want) {
		tb.Errorf("predict label %v, want %d: %s's place in %v", p["label"], slices.Index(names, want), want, names)
	}
}

// ORLSubset copies the ORL images of the given subjects into a new directory
// (keeping the sN/M.pgm layout) and returns it: small sets train in well under a
// second, so end-to-end tests can train on every entry point.
func ORLSubset(tb testing.TB, subjects ...int) string {
	tb.Helper()
	src := filepath.Join(DataDir(tb), "faces", "orl")
	dir := tb.TempDir()
	for _, s := range subjects {
		sd := fmt.Sprintf("s%d", s)
		if err := os.MkdirAll(filepath.Join(dir, sd), 0o755); err != nil {
			tb.Fatal(err)
		}
		for i := 1; i <= 10; i++ {
			b, err := os.ReadFile(filepath.Join(src, sd, fmt.Sprintf("%d.pgm", i)))
			if err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, sd, fmt.Sprintf("%d.pgm", i)), b, 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return dir
}

// HeldOut is an image of an ORLSubset that training never sees (the nth of the
// test part of the fixed split) and its subject's name. The subset loads in
// subject order, ten images each.
func HeldOut(tb testing.TB, dir string, subjects []int, nth int) (image.Image, string) {
	tb.Helper()
	_, test, err := split.TrainTest(10*len(subjects), 0.25, 42)
	if err != nil {
		tb.Fatal(err)
	}
	sorted := slices.Sorted(slices.Values(subjects))
	i := test[nth]
	name := fmt.Sprintf("s%d", sorted[i/10])
	f, err := os.Open(filepath.Join(dir, name, fmt.Sprintf("%d.pgm", i%10+1)))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	img, err := pgm.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	return img, name
}

// ExampleImage is a held-out face as the study's client uploaded it: a JPEG file.
func ExampleImage(tb testing.TB, face image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, face, &jpeg.Options{Quality: 95}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// YOLOClients sends the YOLO study's /predict request as its Locust file and its
// JMeter plan sent it (with the HTTP client's text/plain type and with none),
// asking for images/dog.jpg, and checks each answer names the dog's detections
// and the annotated image it stored.
func YOLOClients(tb testing.TB, send Sender, host string) {
	tb.Helper()
	const key = "images/dog.jpg"
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"Locust", LocustPredict(host, key)},
		{"JMeter (HttpClient 4's text/plain)", JMeterPredict(host, key, "text/plain; charset=UTF-8")},
		{"JMeter (no Content-Type)", JMeterPredict(host, key, "")},
	} {
		a := send(tb, c.raw)
		var got struct {
			Bucket     string             `json:"bucket"`
			Filename   string             `json:"filename"`
			Location   string             `json:"location"`
			Detections []detect.Detection `json:"detections"`
		}
		if err := json.Unmarshal(a.Body, &got); err != nil || a.Status != http.StatusOK {
			tb.Errorf("%s: %d %s", c.name, a.Status, a.Body)
			continue
		}
		if got.Bucket == "" || got.Filename == "" || got.Location == "" {
			tb.Errorf("%s: no bucket, filename or location in %s", c.name, a.Body)
		}
		CheckDetections(tb, got.Detections, Dog)
	}
}

// AsDeployed sets the environment of a service configured as the stacks deploy it on
// platform (file:// buckets with dog.jpg in the input, ONNX Runtime, the faces of
// subjects as the one source a caller cannot change), for an entry point that reads
// its configuration from the environment. It returns the faces' directory.
func AsDeployed(t *testing.T, platform string, subjects ...int) string {
	t.Helper()
	dir := ORLSubset(t, subjects...)
	bs := Open(t, "file", storage.Options{})
	Seed(t, bs.In, "dog.jpg")
	for k, v := range map[string]string{
		"SERVEBENCH_INPUT_BUCKET": bs.InURL, "SERVEBENCH_OUTPUT_BUCKET": bs.OutURL,
		"SERVEBENCH_BACKEND": "onnxruntime", "SERVEBENCH_PLATFORM": platform,
		"SERVEBENCH_FACES_SOURCE": dir, "SERVEBENCH_FACES_ALLOW_SOURCE": "false",
	} {
		t.Setenv(k, v)
	}
	Detector(t) // fails clearly if ONNX Runtime's library is missing
	return dir
}
