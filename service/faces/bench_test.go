package faces

import (
	"bytes"
	"context"
	"image"
	"testing"

	"github.com/servebench/servebench/service/timing"
)

// BenchmarkTrain is POST /faces/train's work on ORL (400 images, 92×112): split,
// PCA 150, 30-cell 5-fold grid search, refit, test scoring. Compare with
// scripts/faces_sklearn.py on the same machine.
func BenchmarkTrain(b *testing.B) {
	ds := loadORL(b)
	var rep Report
	for b.Loop() {
		var err error
		if _, rep, err = Train(context.Background(), ds, DefaultTrainOptions, timing.New()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(rep.TestAccuracy, "accuracy")
}

// BenchmarkPredictPhoto is POST /faces/predict's work after the download: decode
// the stored model, find the face in a 480×360 photo, refine, classify.
func BenchmarkPredictPhoto(b *testing.B) {
	ds, m, _ := trainedORL(b)
	var enc bytes.Buffer
	if err := m.Encode(&enc); err != nil {
		b.Fatal(err)
	}
	photo := inPhoto(grey(ds, 5), 2, 480, 360, 140, 60)
	for b.Loop() {
		m, err := DecodeModel(bytes.NewReader(enc.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		f, err := FaceRegion(photo, m.Width, m.Height)
		if err != nil {
			b.Fatal(err)
		}
		if f, err = m.Refine(photo, f); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Predict(Features(photo, image.Rect(f.Box[0], f.Box[1], f.Box[2], f.Box[3]), m.Width, m.Height)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(enc.Len())/1e6, "model_MB")
}
