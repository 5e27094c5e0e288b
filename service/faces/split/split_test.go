package split

import (
	"slices"
	"testing"
)

// The expected values below were printed by NumPy 1.x / scikit-learn (Debian
// python3-sklearn) on this machine:
//
//	np.random.RandomState(42).permutation(10)
//	train_test_split(np.arange(400), test_size=0.25, random_state=42)
//	StratifiedKFold(k).split(X, y)

func TestPermutationMatchesNumPy(t *testing.T) {
	if got, want := Permutation(10, 42), []int{8, 1, 5, 0, 7, 2, 9, 4, 3, 6}; !slices.Equal(got, want) {
		t.Errorf("Permutation(10, 42) = %v, want %v", got, want)
	}
	// 1000 needs more than one mask width and several rejections.
	if got, want := Permutation(1000, 7)[:8], []int{778, 334, 271, 802, 216, 408, 812, 94}; !slices.Equal(got, want) {
		t.Errorf("Permutation(1000, 7)[:8] = %v, want %v", got, want)
	}
}

func TestTrainTestMatchesScikitLearn(t *testing.T) {
	train, test, err := TrainTest(400, 0.25, 42)
	if err != nil {
		t.Fatal(err)
	}
	if len(train) != 300 || len(test) != 100 {
		t.Fatalf("sizes %d/%d, want 300/100", len(train), len(test))
	}
	if want := []int{209, 280, 33, 210, 93, 84, 329, 94, 266, 126}; !slices.Equal(test[:10], want) {
		t.Errorf("test[:10] = %v, want %v", test[:10], want)
	}
	if want := []int{247, 110, 16, 66, 153, 7, 19, 137, 355, 349}; !slices.Equal(train[:10], want) {
		t.Errorf("train[:10] = %v, want %v", train[:10], want)
	}
	all := append(slices.Clone(train), test...)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("train ∪ test is not a partition of 0..399 (at %d: %d)", i, v)
		}
	}
	for _, f := range []float64{0, 1, -0.5} {
		if _, _, err := TrainTest(10, f, 1); err == nil {
			t.Errorf("TrainTest(10, %g) accepted", f)
		}
	}
	if _, _, err := TrainTest(1, 0.25, 1); err == nil {
		t.Error("TrainTest(1, 0.25) accepted one sample")
	}
}

func TestStratifiedKFoldMatchesScikitLearn(t *testing.T) {
	cases := []struct {
		y    []int
		k    int
		want [][]int
	}{
		{[]int{0, 0, 1, 1, 1, 2, 0, 2, 1, 0, 2, 2, 1, 0, 1}, 3,
			[][]int{{0, 1, 2, 3, 5}, {4, 6, 7, 8, 9}, {10, 11, 12, 13, 14}}},
		// Labels not in order of first appearance, uneven classes.
		{[]int{5, 5, 3, 3, 3, 3, 5, 9, 9, 9, 5, 3, 9, 9, 5, 5, 5}, 2,
			[][]int{{0, 1, 2, 3, 6, 7, 8, 9, 10}, {4, 5, 11, 12, 13, 14, 15, 16}}},
	}
	for _, c := range cases {
		got, err := StratifiedKFold(c.y, c.k)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("StratifiedKFold(%v, %d) = %v, want %v", c.y, c.k, got, c.want)
		}
	}
	if _, err := StratifiedKFold([]int{0, 1, 0, 1}, 3); err == nil {
		t.Error("k = 3 with classes of 2 accepted")
	}
	if _, err := StratifiedKFold([]int{0, 1}, 1); err == nil {
		t.Error("k = 1 accepted")
	}
}
