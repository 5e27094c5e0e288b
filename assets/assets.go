// Package assets finds the data the local tools and tests need: the YOLOX-nano
// model, the sample images and the ORL faces. It looks, in order, at the directory
// named by SERVEBENCH_DATA, at ../shared/data beside the checkout, and otherwise
// downloads the model, the images and the ORL faces from their public sources into
// a cache. It always says which one it used.
package assets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/servebench/servebench/study"
)

// EnvDir names the environment variable that points at a data directory.
const EnvDir = "SERVEBENCH_DATA"

// EnvFacesURL names the environment variable that points the download at a mirror
// of the ORL archive (a zip) instead of ORLArchiveURL; its images must still match
// ORLImagesSHA256.
const EnvFacesURL = "SERVEBENCH_FACES_URL"

// ORLArchiveURL is the ORL (AT&T) face set at its public home, the Cambridge
// Computer Laboratory's archive of AT&T Laboratories Cambridge: a zip holding
// README and s1/..s40/ with 1.pgm..10.pgm each (92×112, 8-bit grey). The deployed
// faces functions can fetch it themselves (SERVEBENCH_FACES_SOURCE).
const ORLArchiveURL = "https://www.cl.cam.ac.uk/research/dtg/attarchive/pub/data/att_faces.zip"

// ORLImagesSHA256 is the digest of the 400 ORL images (see ImagesSHA256), taken
// from the copy in ../shared/data/faces/orl. It pins the images, not one archive,
// so any mirror or repackaging of the same images passes; the archive's own
// SHA-256 is logged when it is downloaded. By hand, in faces/orl:
//
//	find . -name '*.pgm' | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum
const ORLImagesSHA256 = "6ed153ff46fa026cdbfa0eed846b6ec0be19e006b3547ff5d19c26a082b3b97b"

// ModelSHA256 is the checksum of models/yolox_nano.onnx.
const ModelSHA256 = "d39bee73564e338080378b0ad567fbb40e818b55bbfaf971de82a0267ed16b8a"

// Paths of the files inside a data directory.
const (
	ModelPath = study.ModelPath
	ImagesDir = "images"
	FacesORL  = "faces/orl"
)

// Images are the sample images of the YOLO study plus dog.jpg, in a fixed order.
var Images = []string{"000000000872.jpg", "bus.jpg", "dog.jpg", "horses.jpg", "image1.jpg", "image2.jpg", "image3.jpg", "zidane.jpg"}

// downloads are the public sources of the model and images (see ../shared/data/README.md).
var downloads = func() map[string]string {
	const study = "https://raw.githubusercontent.com/brij1197/AWS-Serverless-vs-Serverful-Comparison/main/"
	m := map[string]string{
		ModelPath:              "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx",
		ImagesDir + "/dog.jpg": study + "deploy/triton-inference-server/data/dog.jpg",
	}
	for _, img := range Images {
		if img != "dog.jpg" {
			m[ImagesDir+"/"+img] = study + "inference/images/" + img
		}
	}
	return m
}()

// Dir is a located data directory.
type Dir struct {
	Path   string // absolute
	Source string // "SERVEBENCH_DATA", "../shared/data" or "download"
}

// HasFaces reports whether the directory holds the ORL faces.
func (d Dir) HasFaces() bool {
	_, err := os.Stat(filepath.Join(d.Path, FacesORL, "s1", "1.pgm"))
	return err == nil
}

// Locate finds or fetches the data. start is where to look for ../shared/data from
// (the checkout root or any directory inside it); cache is where downloads go.
func Locate(ctx context.Context, log *slog.Logger, start, cache string) (Dir, error) {
	return locate(ctx, log, start, cache, publicSources())
}

// publicSources are the public homes of the model, the images and the ORL faces
// (or the mirror SERVEBENCH_FACES_URL names, held to the same digest).
func publicSources() sources {
	faces := FaceSet{URL: ORLArchiveURL, ImagesSHA256: ORLImagesSHA256}
	if u := os.Getenv(EnvFacesURL); u != "" {
		faces.URL = u
	}
	return sources{files: downloads, faces: faces}
}

// sources are what a download fetches: files by their path in the data
// directory, and the face set.
type sources struct {
	files map[string]string
	faces FaceSet
}

func locate(ctx context.Context, log *slog.Logger, start, cache string, src sources) (Dir, error) {
	if p := os.Getenv(EnvDir); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return Dir{}, fmt.Errorf("%s=%q: %w", EnvDir, p, err)
		}
		if err := checkModel(abs); err != nil {
			return Dir{}, fmt.Errorf("%s=%q: %w", EnvDir, p, err)
		}
		log.Info("assets: using the directory named by "+EnvDir, "dir", abs)
		return Dir{Path: abs, Source: EnvDir}, nil
	}
	if p, ok := findShared(start); ok {
		if err := checkModel(p); err != nil {
			return Dir{}, fmt.Errorf("%s: %w", p, err)
		}
		log.Info("assets: using ../shared/data beside the checkout", "dir", p)
		return Dir{Path: p, Source: "../shared/data"}, nil
	}
	dir := filepath.Join(cache, "data")
	log.Info("assets: no "+EnvDir+" and no ../shared/data; downloading the model, the images and the ORL faces from their public sources",
		"dir", dir, "faces", src.faces.URL)
	for rel, url := range src.files {
		if err := fetch(ctx, log, url, filepath.Join(dir, rel)); err != nil {
			return Dir{}, err
		}
	}
	if err := checkModel(dir); err != nil {
		return Dir{}, err
	}
	// Without faces the model and images still serve /predict: a face set that
	// cannot be had (its host down, a mismatch) is reported, not fatal, and the
	// faces functions then say what is missing.
	if err := fetchFaces(ctx, log, src.faces, dir); err != nil {
		log.Warn("assets: no ORL faces: "+err.Error()+"; set "+EnvFacesURL+" to a mirror of the archive or "+EnvDir+" to a directory with faces/orl", "url", src.faces.URL)
	}
	return Dir{Path: dir, Source: "download"}, nil
}

// findShared walks up from start looking for a sibling shared/data directory.
func findShared(start string) (string, bool) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", false
	}
	for {
		p := filepath.Join(filepath.Dir(dir), "shared", "data")
		if st, err := os.Stat(filepath.Join(p, ModelPath)); err == nil && st.Mode().IsRegular() {
			return p, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func checkModel(dir string) error {
	got, err := fileSHA256(filepath.Join(dir, ModelPath))
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if got != ModelSHA256 {
		return fmt.Errorf("model %s: sha256 %s, want %s", ModelPath, got, ModelSHA256)
	}
	return nil
}

// fetch downloads url to path unless path exists, writing through a temporary file
// so an interrupted download leaves nothing behind.
func fetch(ctx context.Context, log *slog.Logger, url, path string) error {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	log.Info("assets: downloading", "url", url)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: %s", url, resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("download %s: %w", url, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ErrNoFaces says the located directory has no faces data set (a directory named
// by SERVEBENCH_DATA may lack it), for callers that need it.
var ErrNoFaces = errors.New("the data directory has no faces/orl; set " + EnvDir + " to a directory that has it")
