package svm

import (
	"fmt"
	"math"
	"slices"
)

// Tol is the default stopping tolerance (libsvm's -e 0.001, scikit-learn's tol).
const Tol = 1e-3

// Params are the hyper-parameters of an RBF C-SVC: K(a, b) = exp(−γ‖a − b‖²).
type Params struct {
	C     float64 `json:"C"`
	Gamma float64 `json:"gamma"`
}

// Model is a trained multi-class classifier: one binary machine per pair of
// classes (libsvm's one-vs-one), predicting by majority vote.
type Model struct {
	Params  Params
	Classes []int       // the labels seen in training, ascending
	SV      [][]float64 // support vectors shared by every pair
	Pairs   []Pair      // for a < b over Classes, in order (0,1), (0,2), …, (1,2), …
}

// Pair is the machine deciding Classes[A] (positive) against Classes[B].
type Pair struct {
	A, B int
	SV   []int     // indices into Model.SV
	Coef []float64 // α·y of each support vector
	Rho  float64
}

// SquaredDistances returns ‖a_i − b_j‖² for every pair as a row-major
// len(a)×len(b) matrix.
func SquaredDistances(a, b [][]float64) []float64 {
	d := make([]float64, len(a)*len(b))
	for i, ai := range a {
		for j, bj := range b {
			d[i*len(b)+j] = sqDist(ai, bj)
		}
	}
	return d
}

func sqDist(a, b []float64) float64 {
	s := 0.0
	for k := range a {
		v := a[k] - b[k]
		s += v * v
	}
	return s
}

// RBF is the kernel value for a squared distance.
func RBF(gamma, sqDist float64) float64 { return math.Exp(-gamma * sqDist) }

// indexed is a model whose support vectors are indices into a sample set whose
// kernel matrix is precomputed; the grid search trains and scores these without
// copying features.
type indexed struct {
	classes []int
	pairs   []indexedPair
	same    bool // the pairs are those of the previous model on a C path
}

type indexedPair struct {
	a, b int
	sv   []int // global sample indices
	coef []float64
	rho  float64

	hitUpper bool
}

// balancedWeights is scikit-learn's class_weight="balanced" for the labels of idx:
// n / (classes · count_c), so every class weighs the same in total.
func balancedWeights(idx []int, y []int) (classes []int, weight map[int]float64, members map[int][]int) {
	members = map[int][]int{}
	for _, i := range idx {
		members[y[i]] = append(members[y[i]], i)
	}
	for c := range members {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	weight = make(map[int]float64, len(classes))
	for _, c := range classes {
		weight[c] = float64(len(idx)) / float64(len(classes)*len(members[c]))
	}
	return classes, weight, members
}

// fitIndexed trains on the samples idx, with labels y (indexed by sample), whose
// kernel values are the row-major matrix k with row stride stride.
func (s *solver) fitIndexed(idx []int, y []int, k []float64, stride int, c, tol float64) indexed {
	return s.fitPath(idx, y, k, stride, []float64{c}, tol)[0]
}

// fitPath trains one model per value of cs (ascending). A binary problem whose
// solution for one C never touched an upper bound is the same for every larger C
// (see Binary.HitUpper) and is solved once; models[i].same tells that every pair
// of models[i] is the one of models[i-1].
func (s *solver) fitPath(idx []int, y []int, k []float64, stride int, cs []float64, tol float64) []indexed {
	classes, weight, members := balancedWeights(idx, y)
	models := make([]indexed, len(cs))
	for i := range models {
		models[i] = indexed{classes: classes, same: i > 0}
	}
	var sub []int
	var sy []int8
	for a := 0; a < len(classes); a++ {
		for b := a + 1; b < len(classes); b++ {
			ma, mb := members[classes[a]], members[classes[b]]
			sub = append(append(sub[:0], ma...), mb...)
			sy = sy[:0]
			for range ma {
				sy = append(sy, 1)
			}
			for range mb {
				sy = append(sy, -1)
			}
			var p indexedPair
			for ci, c := range cs {
				if ci > 0 && !p.hitUpper {
					models[ci].pairs = append(models[ci].pairs, p)
					continue
				}
				sol := s.solveBinary(k, stride, sub, sy, c*weight[classes[a]], c*weight[classes[b]], tol)
				p = indexedPair{a: a, b: b, coef: sol.Coef, rho: sol.Rho, sv: make([]int, len(sol.SV)), hitUpper: sol.HitUpper}
				for k, s := range sol.SV {
					p.sv[k] = sub[s]
				}
				models[ci].pairs = append(models[ci].pairs, p)
				if ci > 0 {
					models[ci].same = false
				}
			}
		}
	}
	return models
}

// vote returns the index into classes of the winner, libsvm's rule: each pair
// votes for its first class when the decision value is positive, else for its
// second; the most votes win, ties going to the lower class.
func vote(nClasses int, pairs int, decision func(p int) (a, b int, f float64), votes []int) int {
	clear(votes)
	for p := 0; p < pairs; p++ {
		a, b, f := decision(p)
		if f > 0 {
			votes[a]++
		} else {
			votes[b]++
		}
	}
	best := 0
	for k := 1; k < nClasses; k++ {
		if votes[k] > votes[best] {
			best = k
		}
	}
	return best
}

// decision is one pair's decision value, Σ coef_j·k[sv_j] − ρ, where k holds the
// kernel values indexed as sv indexes them.
func decision(coef []float64, sv []int, rho float64, k []float64) float64 {
	f := -rho
	for j, s := range sv {
		f += coef[j] * k[s]
	}
	return f
}

// predict classifies sample by the row of k (stride stride) holding its kernel
// values against every training sample.
func (m *indexed) predict(sample int, k []float64, stride int, votes []int) int {
	row := k[sample*stride : (sample+1)*stride]
	w := vote(len(m.classes), len(m.pairs), func(p int) (int, int, float64) {
		pr := &m.pairs[p]
		return pr.a, pr.b, decision(pr.coef, pr.sv, pr.rho, row)
	}, votes)
	return m.classes[w]
}

// Fit trains a classifier on features x with labels y.
func Fit(x [][]float64, y []int, p Params, tol float64) (*Model, error) {
	if len(x) == 0 || len(x) != len(y) {
		return nil, fmt.Errorf("svm fit: %d samples and %d labels", len(x), len(y))
	}
	n := len(x)
	d := SquaredDistances(x, x)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i, v := range d {
		d[i] = RBF(p.Gamma, v)
	}
	var s solver
	im := s.fitIndexed(idx, y, d, n, p.C, tol)
	return im.materialize(x, p), nil
}

// materialize copies the support vectors out of x so the model stands alone.
func (m *indexed) materialize(x [][]float64, p Params) *Model {
	out := &Model{Params: p, Classes: m.classes}
	where := map[int]int{}
	for _, pr := range m.pairs {
		mp := Pair{A: pr.a, B: pr.b, Coef: pr.coef, Rho: pr.rho, SV: make([]int, len(pr.sv))}
		for k, s := range pr.sv {
			at, ok := where[s]
			if !ok {
				at = len(out.SV)
				where[s] = at
				out.SV = append(out.SV, slices.Clone(x[s]))
			}
			mp.SV[k] = at
		}
		out.Pairs = append(out.Pairs, mp)
	}
	return out
}

// Predict returns the label of x and the votes each class got (in Classes order).
func (m *Model) Predict(x []float64) (label int, votes []int) {
	k := make([]float64, len(m.SV))
	for i, sv := range m.SV {
		k[i] = RBF(m.Params.Gamma, sqDist(sv, x))
	}
	votes = make([]int, len(m.Classes))
	w := vote(len(m.Classes), len(m.Pairs), func(p int) (int, int, float64) {
		pr := &m.Pairs[p]
		return pr.A, pr.B, decision(pr.Coef, pr.SV, pr.Rho, k)
	}, votes)
	return m.Classes[w], votes
}

// Validate checks that the model's parts agree, so a model read from storage
// cannot index out of range.
func (m *Model) Validate() error {
	if len(m.Classes) < 2 {
		return fmt.Errorf("svm model has %d classes, want at least 2", len(m.Classes))
	}
	if want := len(m.Classes) * (len(m.Classes) - 1) / 2; len(m.Pairs) != want {
		return fmt.Errorf("svm model has %d pairs for %d classes, want %d", len(m.Pairs), len(m.Classes), want)
	}
	if !(m.Params.Gamma > 0) || !(m.Params.C > 0) {
		return fmt.Errorf("svm model has C=%g gamma=%g, want both positive", m.Params.C, m.Params.Gamma)
	}
	dim := -1
	for i, sv := range m.SV {
		if dim >= 0 && len(sv) != dim {
			return fmt.Errorf("svm support vector %d has %d features, want %d", i, len(sv), dim)
		}
		dim = len(sv)
	}
	for i, p := range m.Pairs {
		if p.A < 0 || p.B <= p.A || p.B >= len(m.Classes) || len(p.SV) != len(p.Coef) {
			return fmt.Errorf("svm pair %d is malformed", i)
		}
		for _, s := range p.SV {
			if s < 0 || s >= len(m.SV) {
				return fmt.Errorf("svm pair %d names support vector %d of %d", i, s, len(m.SV))
			}
		}
	}
	return nil
}

// Dim is the number of features the model expects (0 if it has no support vector).
func (m *Model) Dim() int {
	if len(m.SV) == 0 {
		return 0
	}
	return len(m.SV[0])
}
