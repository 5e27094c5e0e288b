// Package faces is the Eigenfaces workload of the Cloud Functions study: fetch a
// face data set (ORL or LFW layout), train PCA + RBF SVM with a grid search, take an
// uploaded photo and name the person in it. The four steps are stateless: each
// reads and writes its state in a bucket under faces/<id>/, so any instance can
// serve any step and parallel callers with different ids never collide.
package faces

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/servebench/servebench/service/faces/pgm"
	"github.com/servebench/servebench/service/imagein"
	"github.com/servebench/servebench/service/reply"
	"github.com/servebench/servebench/service/storage"
	"github.com/servebench/servebench/service/timing"
)

// Store runs the four steps against the bucket holding the faces state.
type Store struct {
	Bucket        *storage.Bucket
	Log           *slog.Logger
	DefaultSource string // used when a download names no source
	// AllowSource lets a download name its own source; when false only
	// DefaultSource is fetched.
	AllowSource  bool
	Limits       Limits         // of data sets
	ImageLimits  imagein.Limits // of uploaded photos
	TrainOptions TrainOptions
	HTTPClient   *http.Client // for https:// sources
}

// Keys of one id's state.
func datasetKey(id int) string { return "faces/" + strconv.Itoa(id) + "/dataset.tar.gz" }
func modelKey(id int) string   { return "faces/" + strconv.Itoa(id) + "/model.bin" }
func uploadKey(id int) string  { return "faces/" + strconv.Itoa(id) + "/upload" }

// DownloadResult answers download_data.
type DownloadResult struct {
	ID     int    `json:"id"`
	Source string `json:"source"`
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Bytes  int    `json:"bytes"`
	Layout Layout `json:"layout"`
	People int    `json:"people"`
	Images int    `json:"images"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// DownloadData fetches the data set at source (DefaultSource if empty), checks that
// it decodes, and stores its face images as one archive under faces/<id>/.
// Stages: download, load, upload.
func (s *Store) DownloadData(ctx context.Context, id int, source string, st *timing.Stages) (DownloadResult, error) {
	if source != "" && source != s.DefaultSource && !s.AllowSource {
		return DownloadResult{}, reply.Errorf(http.StatusForbidden, reply.CodeForbidden,
			"this deployment does not take ?source= (SERVEBENCH_FACES_ALLOW_SOURCE=false); omit it to use SERVEBENCH_FACES_SOURCE")
	}
	if source == "" {
		source = s.DefaultSource
	}
	if source == "" {
		return DownloadResult{}, reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest,
			"no data set source: pass ?source= or set SERVEBENCH_FACES_SOURCE")
	}
	t := time.Now()
	files, err := Fetch(ctx, s.httpClient(), source, s.Limits)
	if err != nil {
		return DownloadResult{}, err
	}
	t = st.Since("download", t)
	name := storage.Name(source)
	files, _, err = Select(files)
	if err != nil {
		return DownloadResult{}, dataError(name, err)
	}
	ds, err := Load(files)
	if err != nil {
		return DownloadResult{}, dataError(name, err)
	}
	var archive bytes.Buffer
	if err := WriteArchive(&archive, files); err != nil {
		return DownloadResult{}, err
	}
	t = st.Since("load", t)
	key := datasetKey(id)
	if err := s.Bucket.Write(ctx, key, "application/gzip", archive.Bytes()); err != nil {
		return DownloadResult{}, fmt.Errorf("store data set: %w", err)
	}
	st.Since("upload", t)
	s.Log.InfoContext(ctx, "faces data set stored", "id", id, "source", name, "key", key, "bytes", archive.Len(), "images", len(ds.X))
	return DownloadResult{
		ID: id, Source: name, Bucket: s.Bucket.Name(), Key: key, Bytes: archive.Len(), Layout: ds.Layout,
		People: len(ds.Names), Images: len(ds.X), Width: ds.Width, Height: ds.Height,
	}, nil
}

// TrainResult answers train.
type TrainResult struct {
	ID         int    `json:"id"`
	Bucket     string `json:"bucket"`
	Key        string `json:"key"`
	ModelBytes int    `json:"model_bytes"`
	Report
}

// Train reads id's data set, trains, and stores the model under faces/<id>/.
// Stages: download, load, split, pca, grid_search, fit, evaluate, upload.
func (s *Store) Train(ctx context.Context, id int, st *timing.Stages) (TrainResult, error) {
	t := time.Now()
	data, err := s.read(ctx, datasetKey(id), s.Limits.archiveBytes(), "data set", "download_data", id)
	if err != nil {
		return TrainResult{}, err
	}
	t = st.Since("download", t)
	files, err := ReadArchive(bytes.NewReader(data), s.Limits)
	if err != nil {
		return TrainResult{}, fmt.Errorf("read stored data set %s: %w", datasetKey(id), err)
	}
	ds, err := Load(files)
	if err != nil {
		return TrainResult{}, fmt.Errorf("load stored data set %s: %w", datasetKey(id), err)
	}
	st.Since("load", t)
	m, rep, err := Train(ctx, ds, s.TrainOptions, st)
	if err != nil {
		var re *reply.Error
		if errors.As(err, &re) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return TrainResult{}, err
		}
		return TrainResult{}, reply.Errorf(http.StatusUnprocessableEntity, reply.CodeUnprocessable, "cannot train on data set %s: %v", datasetKey(id), err)
	}
	t = time.Now()
	var enc bytes.Buffer
	if err := m.Encode(&enc); err != nil {
		return TrainResult{}, err
	}
	key := modelKey(id)
	if err := s.Bucket.Write(ctx, key, "application/octet-stream", enc.Bytes()); err != nil {
		return TrainResult{}, fmt.Errorf("store model: %w", err)
	}
	st.Since("upload", t)
	s.Log.InfoContext(ctx, "faces model stored", "id", id, "key", key, "bytes", enc.Len(),
		"C", rep.Best.C, "gamma", rep.Best.Gamma, "test_accuracy", rep.TestAccuracy)
	return TrainResult{ID: id, Bucket: s.Bucket.Name(), Key: key, ModelBytes: enc.Len(), Report: rep}, nil
}

// UploadResult answers upload.
type UploadResult struct {
	ID       int    `json:"id"`
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	Filename string `json:"filename"`
	Format   string `json:"format"`
	Bytes    int    `json:"bytes"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

// Upload checks that data is an image within ImageLimits and stores it under
// faces/<id>/. Stages: decode, upload.
func (s *Store) Upload(ctx context.Context, id int, filename string, data []byte, st *timing.Stages) (UploadResult, error) {
	t := time.Now()
	img, format, err := s.decodeImage(data)
	if err != nil {
		return UploadResult{}, err
	}
	t = st.Since("decode", t)
	key := uploadKey(id)
	if err := s.Bucket.Write(ctx, key, contentType(format), data); err != nil {
		return UploadResult{}, fmt.Errorf("store upload: %w", err)
	}
	st.Since("upload", t)
	b := img.Bounds()
	return UploadResult{ID: id, Bucket: s.Bucket.Name(), Key: key, Filename: filename, Format: format,
		Bytes: len(data), Width: b.Dx(), Height: b.Dy()}, nil
}

// PredictResult answers predict.
type PredictResult struct {
	ID int `json:"id"`
	Prediction
	Face Face `json:"face"`
}

// Predict names the person in id's uploaded photo with id's model. Stages:
// download, load, decode, detect, inference.
func (s *Store) Predict(ctx context.Context, id int, st *timing.Stages) (PredictResult, error) {
	t := time.Now()
	modelData, err := s.read(ctx, modelKey(id), 0, "model", "train", id)
	if err != nil {
		return PredictResult{}, err
	}
	photo, err := s.read(ctx, uploadKey(id), s.ImageLimits.MaxBytes, "uploaded image", "upload", id)
	if err != nil {
		return PredictResult{}, err
	}
	t = st.Since("download", t)
	m, err := DecodeModel(bytes.NewReader(modelData))
	if err != nil {
		return PredictResult{}, reply.Wrap(http.StatusInternalServerError, reply.CodeInternal,
			fmt.Sprintf("the stored model %s cannot be read: call /faces/train?id=%d again", modelKey(id), id), err)
	}
	t = st.Since("load", t)
	img, _, err := s.decodeImage(photo)
	if err != nil {
		return PredictResult{}, err
	}
	t = st.Since("decode", t)
	face, err := FaceRegion(img, m.Width, m.Height)
	if errors.Is(err, ErrNoFace) {
		return PredictResult{}, reply.Errorf(http.StatusUnprocessableEntity, reply.CodeUnprocessable,
			"no face found in the uploaded image (%d×%d)", img.Bounds().Dx(), img.Bounds().Dy())
	}
	if err != nil {
		return PredictResult{}, err
	}
	if face, err = m.Refine(img, face); err != nil {
		return PredictResult{}, err
	}
	t = st.Since("detect", t)
	x := Features(img, image.Rect(face.Box[0], face.Box[1], face.Box[2], face.Box[3]), m.Width, m.Height)
	p, err := m.Predict(x)
	if err != nil {
		return PredictResult{}, err
	}
	st.Since("inference", t)
	return PredictResult{ID: id, Prediction: p, Face: face}, nil
}

// read reads key; a missing object is a 409 telling which step to call first.
func (s *Store) read(ctx context.Context, key string, max int64, what, step string, id int) ([]byte, error) {
	data, err := s.Bucket.Read(ctx, key, max)
	var re *reply.Error
	if errors.As(err, &re) && re.Status == http.StatusNotFound {
		return nil, reply.Wrap(http.StatusConflict, reply.CodeConflict,
			fmt.Sprintf("id %d has no %s yet: call /faces/%s?id=%d first", id, what, step, id), err)
	}
	return data, err
}

// decodeImage decodes an uploaded photo: JPEG or PNG through imagein (the
// service's checks and limits), or a PGM like the ORL images under the same limits.
func (s *Store) decodeImage(data []byte) (image.Image, string, error) {
	if !bytes.HasPrefix(data, []byte("P5")) && !bytes.HasPrefix(data, []byte("P2")) {
		img, format, err := imagein.Decode(data, s.ImageLimits)
		return img, string(format), err
	}
	if s.ImageLimits.MaxBytes > 0 && int64(len(data)) > s.ImageLimits.MaxBytes {
		return nil, "", reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
			"the image is %d bytes, over the limit of %d", len(data), s.ImageLimits.MaxBytes)
	}
	cfg, err := pgm.DecodeConfig(bytes.NewReader(data))
	if errors.Is(err, pgm.ErrTooLarge) {
		return nil, "", reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge, "the PGM image is too large: %v", err)
	}
	if err != nil {
		return nil, "", reply.Errorf(http.StatusUnsupportedMediaType, reply.CodeNotImage, "not a readable PGM image: %v", err)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); s.ImageLimits.MaxPixels > 0 && px > s.ImageLimits.MaxPixels {
		return nil, "", reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
			"the image is %d×%d = %d pixels, over the limit of %d", cfg.Width, cfg.Height, px, s.ImageLimits.MaxPixels)
	}
	img, err := pgm.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", reply.Errorf(http.StatusUnsupportedMediaType, reply.CodeNotImage, "not a readable PGM image: %v", err)
	}
	return img, "pgm", nil
}

func contentType(format string) string {
	if format == "pgm" {
		return "image/x-portable-graymap"
	}
	return "image/" + format
}

func (s *Store) httpClient() *http.Client {
	if s.HTTPClient != nil {
		return s.HTTPClient
	}
	return http.DefaultClient
}
