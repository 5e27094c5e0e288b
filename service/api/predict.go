package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/servebench/servebench/service/annotate"
	"github.com/servebench/servebench/service/detect"
	"github.com/servebench/servebench/service/imagein"
	"github.com/servebench/servebench/service/instance"
	"github.com/servebench/servebench/service/reply"
	"github.com/servebench/servebench/service/storage"
	"github.com/servebench/servebench/service/timing"
)

// MaxRequestBytes bounds a /predict body: it is a small JSON object naming a key.
const MaxRequestBytes = 64 << 10

// PredictRequest is the body of POST /predict.
type PredictRequest struct {
	Filename       string   `json:"filename"`
	ScoreThreshold *float32 `json:"score_threshold,omitempty"`
	IOUThreshold   *float32 `json:"iou_threshold,omitempty"`
}

// PredictResponse is the 200 answer of POST /predict.
type PredictResponse struct {
	Bucket   string `json:"bucket"`
	Filename string `json:"filename"`
	// Location is a signed URL of the annotated image, empty when the output bucket
	// cannot sign (mem://); LocationError then says why. LocationExpires is when
	// the URL stops working: Config.URLTTL after signing, or sooner when the
	// credentials that signed it expire sooner (S3 with temporary credentials).
	Location        string             `json:"location"`
	LocationError   string             `json:"location_error,omitempty"`
	LocationExpires time.Time          `json:"location_expires,omitzero"`
	Detections      []detect.Detection `json:"detections"`
	Server          instance.Info      `json:"server"`
	Timings         timing.Map         `json:"timings_ms"`
}

// ParseRequest reads a /predict body: one JSON object, no unknown fields (a typo
// such as "file_name" is an error, not a silent default), a valid key, thresholds
// in (0, 1]. Errors are 400s (413 over MaxRequestBytes) in the reply contract.
func ParseRequest(body io.Reader) (PredictRequest, error) {
	var req PredictRequest
	lr := &io.LimitedReader{R: body, N: MaxRequestBytes + 1}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	bad := func(format string, args ...any) error {
		return reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest, format, args...)
	}
	err := dec.Decode(&req)
	if lr.N <= 0 {
		return req, reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
			"the request body is over %d bytes", MaxRequestBytes)
	}
	switch {
	case errors.Is(err, io.EOF):
		return req, bad(`empty body: want {"filename": "<key>"}`)
	case err != nil:
		return req, bad(`malformed JSON body (want {"filename": "<key>"}): %v`, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, bad("unexpected data after the JSON object")
	}
	if req.Filename == "" {
		return req, bad(`missing "filename": want {"filename": "<key>"}`)
	}
	if err := storage.ValidKey(req.Filename); err != nil {
		return req, err
	}
	for name, v := range map[string]*float32{"score_threshold": req.ScoreThreshold, "iou_threshold": req.IOUThreshold} {
		if v != nil && !(*v > 0 && *v <= 1) {
			return req, bad("%s must be in (0, 1], got %v", name, *v)
		}
	}
	return req, nil
}

func (r PredictRequest) options() detect.Options {
	var o detect.Options
	if r.ScoreThreshold != nil {
		o.ScoreThreshold = *r.ScoreThreshold
	}
	if r.IOUThreshold != nil {
		o.IOUThreshold = *r.IOUThreshold
	}
	return o
}

func (a *API) predict(w http.ResponseWriter, r *http.Request) {
	stages := timing.New()
	server := a.Instance.Serve(r.Context())
	resp, err := a.runPredict(r.Context(), r.Body, stages)
	if err != nil {
		reply.WriteError(w, r, a.Log, err)
		return
	}
	resp.Server = a.describe(server) // after the work: this request may have loaded the model
	resp.Timings = a.finish(server, stages)
	reply.WithTimings(w, resp.Timings, resp)
}

// runPredict does the work of /predict, recording each stage. The annotated image
// is the only object written; if anything fails after it is written, it is deleted
// again, so a failed request leaves the output bucket as it was.
func (a *API) runPredict(ctx context.Context, body io.Reader, stages *timing.Stages) (resp PredictResponse, err error) {
	req, err := ParseRequest(body)
	if err != nil {
		return resp, err
	}
	t := time.Now()
	data, err := a.Input.Read(ctx, req.Filename, a.Limits.MaxBytes)
	if err != nil {
		return resp, fmt.Errorf("download %s: %w", req.Filename, err)
	}
	t = stages.Since("download", t)
	img, format, err := imagein.Decode(data, a.Limits)
	if err != nil {
		return resp, fmt.Errorf("decode %s: %w", req.Filename, err)
	}
	t = stages.Since("decode", t)
	if err := ctx.Err(); err != nil {
		return resp, err
	}
	det, waited, err := a.detector.get(ctx)
	if waited > 0 {
		stages.Add("model", waited)
	}
	if err != nil {
		return resp, err
	}
	t = time.Now()
	dets, err := detectWithin(ctx, det, img, req.options())
	if err != nil {
		return resp, fmt.Errorf("detect in %s: %w", req.Filename, err)
	}
	if dets == nil {
		dets = []detect.Detection{} // [] rather than null in the answer
	}
	t = stages.Since("inference", t)
	// libjpeg-turbo's RGBA image is drawn on in place: the detector has returned, and
	// nothing else reads it. image/jpeg's YCbCr one needs an RGBA copy to draw on.
	annotated, inPlace := img.(*image.RGBA)
	if inPlace {
		annotate.DrawOn(annotated, dets)
	} else {
		annotated = annotate.Draw(img, dets)
	}
	t = stages.Since("draw", t)
	var buf bytes.Buffer
	buf.Grow(len(data)) // the annotated image encodes to about the input's size
	if err := imagein.Encode(&buf, annotated, format); err != nil {
		return resp, fmt.Errorf("encode %s: %w", req.Filename, err)
	}
	t = stages.Since("encode", t)
	if err := ctx.Err(); err != nil {
		return resp, err
	}
	key := OutputKey(req.Filename, format, time.Now())
	if err := a.Output.Write(ctx, key, format.ContentType(), buf.Bytes()); err != nil {
		return resp, fmt.Errorf("upload %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			// Detached: the request's context may be the reason we are here.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if derr := a.Output.Delete(dctx, key); derr != nil {
				a.Log.ErrorContext(ctx, "could not delete the output of a failed request", "key", key, "err", derr)
			}
		}
	}()
	resp = PredictResponse{Bucket: a.Output.Name(), Filename: key, Detections: dets}
	loc, expires, err := a.Output.SignedURL(ctx, key, a.Config.URLTTL)
	switch {
	case errors.Is(err, storage.ErrCannotSign):
		resp.LocationError = fmt.Sprintf("the output bucket %s cannot sign URLs; read %s from it directly", a.Output.Name(), key)
	case err != nil:
		// storage says why (a missing IAM role, say) in the reply contract.
		return resp, fmt.Errorf("sign the URL of %s: %w", key, err)
	default:
		resp.Location, resp.LocationExpires = loc, expires.UTC().Truncate(time.Second)
	}
	stages.Since("upload", t)
	if err := ctx.Err(); err != nil {
		return resp, err
	}
	return resp, nil
}

// detectWithin runs the detector but answers by the request's deadline even if
// the backend does not watch ctx (a call into C cannot be interrupted): the late
// result is dropped when it comes. A panic in the detector becomes an error.
func detectWithin(ctx context.Context, det detect.Detector, img image.Image, opt detect.Options) ([]detect.Detection, error) {
	type result struct {
		dets []detect.Detection
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("panic in the %s detector: %v\n%s", det.Backend(), p, debug.Stack())}
			}
		}()
		dets, err := det.Detect(ctx, img, opt)
		done <- result{dets, err}
	}()
	select {
	case r := <-done:
		return r.dets, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// OutputKey names the annotated image: predictions/<UTC time>-<random>-<base>.<ext>,
// unique across instances and sortable by time.
func OutputKey(input string, format imagein.Format, now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	base := strings.TrimSuffix(path.Base(input), path.Ext(input))
	return "predictions/" + now.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b) + "-" + base + format.Ext()
}
