package faces

import (
	"bytes"
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/servebench/servebench/service/faces/split"
	"github.com/servebench/servebench/service/timing"
)

func TestLoadORL(t *testing.T) {
	ds := loadORL(t)
	if ds.Layout != ORL || len(ds.X) != 400 || len(ds.Names) != 40 || ds.Width != 92 || ds.Height != 112 {
		t.Fatalf("layout %s, %d images, %d people, %d×%d", ds.Layout, len(ds.X), len(ds.Names), ds.Width, ds.Height)
	}
	// Subjects in numeric order (s2 before s10), ten images each.
	if ds.Names[1] != "s2" || ds.Names[9] != "s10" || ds.Y[10] != 1 || ds.Y[399] != 39 {
		t.Errorf("names %v…, labels %d %d", ds.Names[:10], ds.Y[10], ds.Y[399])
	}
	// s1/1.pgm starts "01-/19" after the header (bytes 0x30 0x31 0x2d 0x2f …).
	if ds.X[0][0] != 48 || ds.X[0][1] != 49 || ds.X[0][2] != 45 {
		t.Errorf("first pixels %v, want 48 49 45", ds.X[0][:3])
	}
}

// The acceptance bar: ≥ 0.90 test accuracy on ORL with the fixed split.
func TestTrainORL(t *testing.T) {
	_, m, rep := trainedORL(t)
	t.Logf("ORL: best %+v cv %.4f test %.4f, %d support vectors, timings %s", rep.Best, rep.CVAccuracy, rep.TestAccuracy, rep.SupportVectors, orl.st.ServerTiming())
	if rep.TestAccuracy < 0.90 {
		t.Errorf("test accuracy %.3f, want ≥ 0.90", rep.TestAccuracy)
	}
	if rep.TrainSamples != 300 || rep.TestSamples != 100 || rep.Classes != 40 || rep.Features != 92*112 || rep.Components != 150 {
		t.Errorf("report sizes %+v", rep)
	}
	if len(rep.Grid) != 30 || rep.CVAccuracy < 0.7 {
		t.Errorf("%d grid cells, best cv accuracy %.3f", len(rep.Grid), rep.CVAccuracy)
	}
	for _, c := range rep.Grid {
		if c.Mean > rep.CVAccuracy {
			t.Errorf("cell %+v beats the chosen one (%.4f)", c, rep.CVAccuracy)
		}
	}
	// Per-class figures agree with the accuracy: Σ recall·support = correct.
	correct, support := 0.0, 0
	for _, c := range rep.PerClass {
		correct += c.Recall * float64(c.Support)
		support += c.Support
		if c.Precision < 0 || c.Precision > 1 || c.Recall < 0 || c.Recall > 1 {
			t.Errorf("class %s: precision %v recall %v", c.Name, c.Precision, c.Recall)
		}
	}
	if support != 100 || math.Abs(correct/100-rep.TestAccuracy) > 1e-9 {
		t.Errorf("per-class support %d, recall-weighted accuracy %v vs %v", support, correct/100, rep.TestAccuracy)
	}
	if m.PCA.K() != 150 || m.SVM.Params != rep.Best || len(m.SVM.Classes) != 40 {
		t.Errorf("model: %d components, params %+v, %d classes", m.PCA.K(), m.SVM.Params, len(m.SVM.Classes))
	}
}

func TestModelRoundTrip(t *testing.T) {
	ds, m, _ := trainedORL(t)
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	encoded := buf.Bytes()
	got, err := DecodeModel(bytes.NewReader(encoded))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatal("decoded model differs from the encoded one")
	}
	_, test, _ := split.TrainTest(len(ds.X), 0.25, 42)
	for _, i := range test[:5] {
		a, err1 := m.Predict(ds.X[i])
		b, err2 := got.Predict(ds.X[i])
		if err1 != nil || err2 != nil || a != b {
			t.Fatalf("sample %d: %+v %v vs %+v %v", i, a, err1, b, err2)
		}
		if a.Score <= 0 || a.Score > 1 || a.Votes < 1 || a.Name != ds.Names[a.Label] {
			t.Errorf("prediction %+v", a)
		}
	}

	// A later version, a foreign file, a truncated body and an inconsistent model
	// are refused.
	newer := *m
	newer.Version = ModelVersion + 1
	var nb bytes.Buffer
	if err := newer.Encode(&nb); err != nil {
		t.Fatal(err)
	}
	broken := *m
	broken.Width = 10
	var bb bytes.Buffer
	if err := broken.Encode(&bb); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"version":   nb.Bytes(),
		"foreign":   []byte("PK\x03\x04 not a model"),
		"truncated": encoded[:len(encoded)/2],
		"size":      bb.Bytes(),
	} {
		if _, err := DecodeModel(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// Training on too little data fails cleanly, not with a panic.
func TestTrainTooFewSamples(t *testing.T) {
	ds := &Dataset{Layout: ORL, Names: []string{"a", "b"}, Width: 2, Height: 1,
		X: [][]float64{{0, 1}, {1, 0}, {0, 2}, {2, 0}}, Y: []int{0, 1, 0, 1}}
	if _, _, err := Train(context.Background(), ds, DefaultTrainOptions, timing.New()); err == nil {
		t.Error("trained 5-fold on 3 samples")
	}
}
