package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/servebench/servebench/service/faces"
	"github.com/servebench/servebench/service/reply"
	"github.com/servebench/servebench/service/timing"
)

// FacesLongTimeout bounds /faces/download_data and /faces/train (fetching LFW,
// training): the Cloud Functions of the study ran with 540 s. Upload and predict
// keep Config.RequestTimeout; a longer Config.RequestTimeout wins.
const FacesLongTimeout = 9 * time.Minute

// maxFaceID bounds ?id= so keys stay short.
const maxFaceID = 1_000_000_000

// multipartOverhead is what a multipart body may carry beyond the file itself
// (boundaries, part headers, small fields).
const multipartOverhead = 64 << 10

// facesHandler serves the four Eigenfaces functions under /faces/, state in the
// output bucket under faces/<id>/. Mount it with no deadline of its own
// (HandleTimeout(…, 0)): it sets each route's.
func (a *API) facesHandler() http.Handler {
	store := &faces.Store{
		Bucket:        a.Output,
		Log:           a.Log,
		DefaultSource: a.Config.FacesSource,
		AllowSource:   a.Config.FacesAllowSrc,
		Limits:        faces.DefaultLimits,
		ImageLimits:   a.Limits,
		TrainOptions:  faces.DefaultTrainOptions,
	}
	type route struct {
		methods []string
		timeout time.Duration
		run     func(ctx context.Context, w http.ResponseWriter, r *http.Request, id int, st *timing.Stages) (any, error)
	}
	// The study's Cloud Functions answered any method, and its client called
	// download_data, train and predict with a plain GET (curl with no -X; Python's
	// requests.get), so those take GET as well as POST; upload is a multipart POST.
	getOrPost := []string{http.MethodPost, http.MethodGet}
	routes := map[string]route{
		"/faces/download_data": {getOrPost, max(a.Config.RequestTimeout, FacesLongTimeout),
			func(ctx context.Context, w http.ResponseWriter, r *http.Request, id int, st *timing.Stages) (any, error) {
				return store.DownloadData(ctx, id, r.URL.Query().Get("source"), st)
			}},
		"/faces/train": {getOrPost, max(a.Config.RequestTimeout, FacesLongTimeout),
			func(ctx context.Context, w http.ResponseWriter, r *http.Request, id int, st *timing.Stages) (any, error) {
				return store.Train(ctx, id, st)
			}},
		"/faces/upload": {[]string{http.MethodPost}, a.Config.RequestTimeout,
			func(ctx context.Context, w http.ResponseWriter, r *http.Request, id int, st *timing.Stages) (any, error) {
				name, data, err := firstFile(w, r, a.Limits.MaxBytes)
				if err != nil {
					return nil, err
				}
				return store.Upload(ctx, id, name, data, st)
			}},
		"/faces/predict": {getOrPost, a.Config.RequestTimeout,
			func(ctx context.Context, w http.ResponseWriter, r *http.Request, id int, st *timing.Stages) (any, error) {
				return store.Predict(ctx, id, st)
			}},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := routes[r.URL.Path]
		if !ok {
			reply.WriteError(w, r, a.Log, reply.Errorf(http.StatusNotFound, reply.CodeNotFound,
				"no route %s %s (faces: download_data, train, upload, predict)", r.Method, r.URL.Path))
			return
		}
		allowed := false
		for _, m := range rt.methods {
			allowed = allowed || r.Method == m
		}
		if !allowed {
			w.Header().Set("Allow", strings.Join(rt.methods, ", "))
			reply.WriteError(w, r, a.Log, reply.Errorf(http.StatusMethodNotAllowed, "method_not_allowed",
				"%s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		stages := timing.New()
		server := a.Instance.Serve(r.Context())
		id, err := faceID(r)
		if err != nil {
			reply.WriteError(w, r, a.Log, err)
			return
		}
		ctx := r.Context()
		if rt.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, rt.timeout)
			defer cancel()
		}
		result, err := rt.run(ctx, w, r, id, stages)
		if err != nil {
			reply.WriteError(w, r, a.Log, err)
			return
		}
		tm := a.finish(server, stages)
		body, err := withServer(result, a.describe(server), tm)
		if err != nil {
			reply.WriteError(w, r, a.Log, err)
			return
		}
		reply.WithTimings(w, tm, body)
	})
}

// withServer adds "server" and "timings_ms" to the JSON object of result.
func withServer(result, server any, tm timing.Map) (json.RawMessage, error) {
	b, err := json.Marshal(result)
	if err != nil || len(b) < 2 || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("encode the faces answer: %v", err)
	}
	s, err := json.Marshal(server)
	if err != nil {
		return nil, fmt.Errorf("encode the server info: %w", err)
	}
	t, err := json.Marshal(tm)
	if err != nil {
		return nil, fmt.Errorf("encode the timings: %w", err)
	}
	out := append(b[:len(b)-1:len(b)-1], `,"server":`...)
	return append(append(append(append(out, s...), `,"timings_ms":`...), t...), '}'), nil
}

// faceID reads ?id=N: a non-negative whole number, 0 when absent.
func faceID(r *http.Request) (int, error) {
	v := r.URL.Query().Get("id")
	if v == "" {
		return 0, nil
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest, "id %q: want a non-negative whole number", v)
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n > maxFaceID {
		return 0, reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest, "id %q: want a whole number from 0 to %d", v, maxFaceID)
	}
	return n, nil
}

// firstFile reads the first file part of a multipart/form-data body, whatever its
// field name (the study's client sent "example_image.jpg"), within maxBytes.
func firstFile(w http.ResponseWriter, r *http.Request, maxBytes int64) (string, []byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return "", nil, reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest,
			"want a multipart/form-data body with an image file field, got Content-Type %q", r.Header.Get("Content-Type"))
	}
	if r.ContentLength > maxBytes+multipartOverhead {
		// The limit named is the body's (as bodyError's), not the image's: a body
		// between the two is refused only if its file is over maxBytes.
		return "", nil, reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
			"the body is %d bytes, over the limit of %d (an image of %d bytes and its form)", r.ContentLength, maxBytes+multipartOverhead, maxBytes)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBytes+multipartOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		return "", nil, reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest, "malformed multipart body: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return "", nil, reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest, "the multipart body has no file field")
		}
		if err != nil {
			return "", nil, bodyError(err)
		}
		if part.FileName() == "" {
			part.Close()
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, maxBytes+1))
		part.Close()
		if err != nil {
			return "", nil, bodyError(err)
		}
		if int64(len(data)) > maxBytes {
			return "", nil, reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
				"the file %q is over the limit of %d bytes", part.FileName(), maxBytes)
		}
		return part.FileName(), data, nil
	}
}

// bodyError is a failed read of a multipart body: 413 past the size limit, else 400.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge, "the body is over the limit of %d bytes", tooBig.Limit)
	}
	return reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest, "malformed multipart body: %v", err)
}
