package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/infra/serviceenv"
)

// Object is one file to upload into an input bucket.
type Object struct {
	Key         string
	Source      pulumi.AssetOrArchiveInput
	ContentType string
}

// Objects lists what a deployment uploads from an assets directory: the model,
// every images/*.jpg, and, with faces, the ORL faces directory as one zip
// (faces/orl.zip, the person directories s1..s40 at its root; without, the faces
// functions fetch a public face set themselves). It checks they exist now, at
// program time, so a bad directory fails before any resource is created.
func Objects(dir string, faces bool) ([]Object, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("assets directory %s: %w", dir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("assets directory %s: not a directory", dir)
	}
	model := filepath.Join(dir, filepath.FromSlash(serviceenv.ModelKey))
	if st, err := os.Stat(model); err != nil || st.Size() == 0 {
		return nil, fmt.Errorf("assets directory %s: no model at %s", dir, serviceenv.ModelKey)
	}
	images, err := filepath.Glob(filepath.Join(dir, "images", "*.jpg"))
	if err != nil {
		return nil, fmt.Errorf("assets directory %s: %w", dir, err)
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("assets directory %s: no images/*.jpg", dir)
	}
	sort.Strings(images)
	objs := []Object{{Key: serviceenv.ModelKey, Source: pulumi.NewFileAsset(model), ContentType: "application/octet-stream"}}
	for _, img := range images {
		objs = append(objs, Object{Key: "images/" + filepath.Base(img), Source: pulumi.NewFileAsset(img), ContentType: "image/jpeg"})
	}
	if !faces {
		return objs, nil
	}
	orl := filepath.Join(dir, "faces", "orl")
	if _, err := os.Stat(filepath.Join(orl, "s1", "1.pgm")); err != nil {
		return nil, fmt.Errorf("assets directory %s: no ORL faces at faces/orl (s1/1.pgm missing)", dir)
	}
	return append(objs, Object{Key: serviceenv.FacesKey, Source: pulumi.NewFileArchive(orl), ContentType: "application/zip"}), nil
}

// LogicalName turns an object key into a resource name part: "images/dog.jpg" →
// "images-dog-jpg".
func LogicalName(key string) string {
	return strings.NewReplacer("/", "-", ".", "-", "_", "-").Replace(key)
}
