// Package split divides samples the way scikit-learn does, index for index:
// train_test_split with an integer random_state (NumPy's legacy MT19937
// RandomState permutation) and StratifiedKFold without shuffling. Matching them
// exactly lets the Go pipeline and the scikit-learn script be compared on the very
// same training and test samples.
package split

import (
	"fmt"
	"math"
	"slices"
)

// mt19937 is the Mersenne Twister as NumPy's RandomState seeds it from an integer
// (init_genrand).
type mt19937 struct {
	mt  [624]uint32
	idx int
}

func newMT19937(seed uint32) *mt19937 {
	r := &mt19937{idx: 624}
	r.mt[0] = seed
	for i := 1; i < 624; i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
	return r
}

func (r *mt19937) uint32() uint32 {
	if r.idx >= 624 {
		for i := 0; i < 624; i++ {
			y := r.mt[i]&0x80000000 | r.mt[(i+1)%624]&0x7fffffff
			v := r.mt[(i+397)%624] ^ y>>1
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			r.mt[i] = v
		}
		r.idx = 0
	}
	y := r.mt[r.idx]
	r.idx++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	y ^= y >> 18
	return y
}

// interval draws uniformly from [0, max] by masked rejection, as NumPy's legacy
// random_interval does for max < 2³².
func (r *mt19937) interval(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	mask := max
	for s := uint(1); s <= 16; s <<= 1 {
		mask |= mask >> s
	}
	for {
		if v := r.uint32() & mask; v <= max {
			return v
		}
	}
}

// Permutation is numpy.random.RandomState(seed).permutation(n).
func Permutation(n int, seed uint32) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r := newMT19937(seed)
	for i := n - 1; i >= 1; i-- {
		j := int(r.interval(uint32(i)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// TrainTest is scikit-learn's train_test_split(…, test_size=testFraction,
// random_state=seed) on n samples: the test set is the first ⌈n·f⌉ of the
// permutation, the training set the rest, both in permutation order.
func TrainTest(n int, testFraction float64, seed uint32) (train, test []int, err error) {
	if !(testFraction > 0 && testFraction < 1) {
		return nil, nil, fmt.Errorf("split: test fraction %g is not in (0, 1)", testFraction)
	}
	nTest := int(math.Ceil(testFraction * float64(n)))
	nTrain := n - nTest
	if nTest < 1 || nTrain < 1 {
		return nil, nil, fmt.Errorf("split: %d samples leave %d for training and %d for testing", n, nTrain, nTest)
	}
	p := Permutation(n, seed)
	return p[nTest:], p[:nTest], nil
}

// StratifiedKFold is scikit-learn's StratifiedKFold(k, shuffle=False).split(y):
// the test folds, each a sorted list of positions in y. Classes are ordered by
// first appearance; each class's samples are dealt to folds in position order by
// the allocation scikit-learn computes from the sorted labels.
func StratifiedKFold(y []int, k int) ([][]int, error) {
	if k < 2 {
		return nil, fmt.Errorf("stratified k-fold: k = %d, want at least 2", k)
	}
	// Encode classes by order of first appearance.
	code := map[int]int{}
	enc := make([]int, len(y))
	for i, v := range y {
		c, ok := code[v]
		if !ok {
			c = len(code)
			code[v] = c
		}
		enc[i] = c
	}
	nClasses := len(code)
	counts := make([]int, nClasses)
	for _, c := range enc {
		counts[c]++
	}
	if slices.Max(counts) < k {
		return nil, fmt.Errorf("stratified k-fold: k = %d is more than the largest class (%d samples)", k, slices.Max(counts))
	}
	order := slices.Clone(enc)
	slices.Sort(order)
	// allocation[f][c]: how many samples of class c go to fold f.
	allocation := make([][]int, k)
	for f := range allocation {
		allocation[f] = make([]int, nClasses)
		for i := f; i < len(order); i += k {
			allocation[f][order[i]]++
		}
	}
	testFold := make([]int, len(y))
	for c := 0; c < nClasses; c++ {
		var foldsForClass []int
		for f := 0; f < k; f++ {
			for range allocation[f][c] {
				foldsForClass = append(foldsForClass, f)
			}
		}
		next := 0
		for i, e := range enc {
			if e == c {
				testFold[i] = foldsForClass[next]
				next++
			}
		}
	}
	folds := make([][]int, k)
	for i, f := range testFold {
		folds[f] = append(folds[f], i)
	}
	return folds, nil
}
