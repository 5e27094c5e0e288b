package detect

import (
	"errors"
	"math"
	"testing"
)

func TestDecode(t *testing.T) {
	out := make([]float32, outputLen)
	set := func(anchor int, vals ...float32) { copy(out[anchor*rowLen:], vals) }
	cls := func(anchor, class int, p float32) { out[anchor*rowLen+5+class] = p }

	// Stride 8, cell (3, 2): anchor 2·52+3. Centre (0.5+3)·8, (0.5+2)·8 = 28, 20;
	// size e^ln4·8, e^ln2·8 = 32×16 → [12 12 44 28] in the input, [24 24 88 56] at r = 0.5.
	set(2*52+3, 0.5, 0.5, float32(math.Log(4)), float32(math.Log(2)), 0.9)
	cls(2*52+3, 16, 0.8) // dog, score 0.72
	cls(2*52+3, 17, 0.7) // horse: not the best class

	// Stride 32, cell (1, 0): anchor 52²+26²+1. Centre 32, 0, size 32×32 →
	// [16 -16 48 16] → [32 -32 96 32], clipped to the 90×60 image: [32 0 90 32].
	set(52*52+26*26+1, 0, 0, 0, 0, 1)
	cls(52*52+26*26+1, 2, 0.6) // car, 0.6

	// Stride 16, cell (0, 0): 0.6 × 0.5 = 0.3, under the threshold.
	set(52*52, 0, 0, 0, 0, 0.6)
	cls(52*52, 0, 0.5)

	got := decode(out, 0.5, 90, 60, Options{ScoreThreshold: 0.5, IOUThreshold: 0.45})
	want := []Detection{
		{Label: "dog", ClassID: 16, Score: 0.72, Box: [4]float32{24, 24, 88, 56}},
		{Label: "car", ClassID: 2, Score: 0.6, Box: [4]float32{32, 0, 90, 32}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Label != w.Label || g.ClassID != w.ClassID || math.Abs(float64(g.Score-w.Score)) > 1e-6 || boxDist(g.Box, w.Box) > 1e-4 {
			t.Errorf("detection %d = %+v, want %+v", i, g, w)
		}
	}

	// A lower threshold lets the third one in, last.
	got = decode(out, 0.5, 90, 60, Options{ScoreThreshold: 0.25, IOUThreshold: 0.45})
	if len(got) != 3 || got[2].Label != "person" || math.Abs(float64(got[2].Score-0.3)) > 1e-6 {
		t.Errorf("threshold 0.25: got %+v, want a third detection, person 0.3", got)
	}
}

func TestNMS(t *testing.T) {
	box := func(x1, y1, x2, y2 float32) [4]float32 { return [4]float32{x1, y1, x2, y2} }
	cands := []Detection{
		{ClassID: 0, Score: 0.6, Box: box(0, 0, 10, 10)},   // IoU 0.8 with the 0.9 box: dropped
		{ClassID: 0, Score: 0.9, Box: box(0, 0, 10, 8)},    // best
		{ClassID: 1, Score: 0.7, Box: box(0, 0, 10, 10)},   // same place, other class: kept
		{ClassID: 0, Score: 0.8, Box: box(6, 0, 16, 10)},   // IoU with the 0.9 box 32/148: kept
		{ClassID: 0, Score: 0.5, Box: box(6, 0, 16, 10)},   // duplicate of the 0.8 box: dropped
		{ClassID: 0, Score: 0.4, Box: box(50, 50, 60, 60)}, // apart: kept
	}
	got := nms(cands, 0.45)
	wantScores := []float32{0.9, 0.8, 0.7, 0.4}
	if len(got) != len(wantScores) {
		t.Fatalf("kept %+v, want scores %v", got, wantScores)
	}
	for i, w := range wantScores {
		if got[i].Score != w {
			t.Errorf("kept[%d] score %v, want %v (%+v)", i, got[i].Score, w, got)
		}
	}

	// The threshold is a strict bound: IoU exactly 0.5 survives at 0.5.
	pair := []Detection{{Score: 0.9, Box: box(0, 0, 10, 10)}, {Score: 0.8, Box: box(0, 0, 10, 5)}}
	if got := nms(pair, 0.5); len(got) != 2 {
		t.Errorf("IoU 0.5 at threshold 0.5: kept %d, want 2", len(got))
	}
	if got := nms(pair, 0.49); len(got) != 1 {
		t.Errorf("IoU 0.5 at threshold 0.49: kept %d, want 1", len(got))
	}
}

func TestBoxIoU(t *testing.T) {
	for _, c := range []struct {
		a, b [4]float32
		want float32
	}{
		{[4]float32{0, 0, 10, 10}, [4]float32{0, 0, 10, 10}, 1},
		{[4]float32{0, 0, 10, 10}, [4]float32{5, 0, 15, 10}, 50.0 / 150},
		{[4]float32{0, 0, 10, 10}, [4]float32{10, 0, 20, 10}, 0}, // touching
		{[4]float32{0, 0, 0, 0}, [4]float32{0, 0, 0, 0}, 0},      // empty
	} {
		if got := boxIoU(c.a, c.b); math.Abs(float64(got-c.want)) > 1e-6 {
			t.Errorf("IoU(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestOptions(t *testing.T) {
	got, err := Options{}.withDefaults()
	if err != nil || got.ScoreThreshold != DefaultScoreThreshold || got.IOUThreshold != DefaultIOUThreshold {
		t.Errorf("zero options: %+v, %v; want the defaults", got, err)
	}
	if err := (Options{ScoreThreshold: 1, IOUThreshold: 1}).Validate(); err != nil {
		t.Errorf("thresholds 1: %v", err)
	}
	if err := (Options{ScoreThreshold: 0.01, IOUThreshold: 0.99}).Validate(); err != nil {
		t.Errorf("thresholds 0.01, 0.99: %v", err)
	}
	nan := float32(math.NaN())
	for _, o := range []Options{
		{ScoreThreshold: -0.1}, {ScoreThreshold: 1.01}, {ScoreThreshold: nan},
		{IOUThreshold: -1}, {IOUThreshold: 2}, {IOUThreshold: nan},
		{ScoreThreshold: float32(math.Inf(1))},
	} {
		if err := o.Validate(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: error %v, want ErrInvalidOptions", o, err)
		}
	}
}
