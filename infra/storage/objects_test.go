package storage

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestObjects(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"models/yolox_nano.onnx", "images/b.jpg", "images/a.jpg", "images/notes.txt", "faces/orl/s1/1.pgm"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := Objects(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	if want := []string{"models/yolox_nano.onnx", "images/a.jpg", "images/b.jpg", "faces/orl.zip"}; !slices.Equal(keys, want) {
		t.Errorf("objects %v, want %v", keys, want)
	}
	if objs[0].Key != "models/yolox_nano.onnx" || objs[len(objs)-1].Key != "faces/orl.zip" || objs[len(objs)-1].ContentType != "application/zip" {
		t.Errorf("first/last objects %+v / %+v", objs[0], objs[len(objs)-1])
	}
	for _, o := range objs[1 : len(objs)-1] {
		if !strings.HasPrefix(o.Key, "images/") || !strings.HasSuffix(o.Key, ".jpg") || o.ContentType != "image/jpeg" {
			t.Errorf("image object %+v", o)
		}
	}
}

func TestObjectsMissing(t *testing.T) {
	empty := t.TempDir()
	if _, err := Objects(empty, true); err == nil || !strings.Contains(err.Error(), "no model") {
		t.Errorf("empty dir: %v", err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(empty, "models"), 0o755))
	must(os.WriteFile(filepath.Join(empty, "models", "yolox_nano.onnx"), []byte("onnx"), 0o644))
	if _, err := Objects(empty, true); err == nil || !strings.Contains(err.Error(), "no images") {
		t.Errorf("no images: %v", err)
	}
	must(os.MkdirAll(filepath.Join(empty, "images"), 0o755))
	must(os.WriteFile(filepath.Join(empty, "images", "a.jpg"), []byte("jpg"), 0o644))
	if _, err := Objects(empty, true); err == nil || !strings.Contains(err.Error(), "no ORL faces") {
		t.Errorf("no faces: %v", err)
	}
	// A deployment whose functions fetch a public face set uploads none.
	objs, err := Objects(empty, false)
	if err != nil || len(objs) != 2 || objs[1].Key != "images/a.jpg" {
		t.Errorf("without faces: %v %v, want the model and the image only", objs, err)
	}
	if LogicalName("images/dog_1.jpg") != "images-dog-1-jpg" {
		t.Errorf("LogicalName = %q", LogicalName("images/dog_1.jpg"))
	}
}
