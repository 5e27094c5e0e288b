package svm

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestKernelValues(t *testing.T) {
	a := [][]float64{{0, 0}, {1, 2}}
	b := [][]float64{{3, 4}, {1, 2}, {0, 0}}
	d := SquaredDistances(a, b)
	want := []float64{25, 5, 0, 8, 0, 5}
	if !slices.Equal(d, want) {
		t.Errorf("SquaredDistances = %v, want %v", d, want)
	}
	if got := RBF(0.5, 2); !near(got, math.Exp(-1), 1e-15) {
		t.Errorf("RBF(0.5, 2) = %v, want e^-1", got)
	}
	if got := RBF(3, 0); got != 1 {
		t.Errorf("RBF(γ, 0) = %v, want 1", got)
	}
}

// Two points, x1 = 0 (+1) and x2 = 2 (−1): by symmetry α1 = α2 = α and the dual
// ½α²(K11 + K22 − 2K12) − 2α is least at α = 1/(1 − K12), ρ = 0, so f(x1) = 1 and
// f(x2) = −1 exactly. With C below that α, both sit at the bound C.
func TestSMOTwoPointsKnownDual(t *testing.T) {
	const gamma = 0.25
	k12 := math.Exp(-gamma * 4)
	k := []float64{1, k12, k12, 1}
	y := []int8{1, -1}
	var s solver
	b := s.solveBinary(k, 2, []int{0, 1}, y, 100, 100, 1e-9)
	alpha := 1 / (1 - k12)
	if len(b.SV) != 2 || !near(b.Coef[0], alpha, 1e-6) || !near(b.Coef[1], -alpha, 1e-6) || !near(b.Rho, 0, 1e-6) {
		t.Errorf("got coef %v rho %v, want ±%v and 0", b.Coef, b.Rho, alpha)
	}
	if b.HitUpper {
		t.Error("HitUpper set with C far above α")
	}
	b = s.solveBinary(k, 2, []int{0, 1}, y, 0.5, 0.5, 1e-9)
	if !near(b.Coef[0], 0.5, 1e-12) || !near(b.Coef[1], -0.5, 1e-12) || !b.HitUpper {
		t.Errorf("C = 0.5: coef %v hitUpper %v, want ±0.5 at the bound", b.Coef, b.HitUpper)
	}
}

// On a separable random problem the solution must satisfy the KKT conditions to
// the tolerance: Σ α_i y_i = 0, y_i f(x_i) ≥ 1 − ε for every point, = 1 on free
// support vectors.
func TestSMOSeparableKKT(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var x [][]float64
	var y []int8
	for i := 0; i < 40; i++ {
		c := 1.5
		lab := int8(1)
		if i%2 == 1 {
			c, lab = -1.5, -1
		}
		x = append(x, []float64{c + r.NormFloat64()*0.4, r.NormFloat64()})
		y = append(y, lab)
	}
	const gamma, eps = 0.5, 1e-6
	d := SquaredDistances(x, x)
	k := make([]float64, len(d))
	for i := range d {
		k[i] = RBF(gamma, d[i])
	}
	sub := make([]int, len(x))
	for i := range sub {
		sub[i] = i
	}
	var s solver
	b := s.solveBinary(k, len(x), sub, y, 1e3, 1e3, eps)
	sum := 0.0
	alpha := make([]float64, len(x))
	for j, sv := range b.SV {
		sum += b.Coef[j]
		alpha[sv] = b.Coef[j] * float64(y[sv])
		if alpha[sv] <= 0 {
			t.Errorf("support vector %d has α = %v", sv, alpha[sv])
		}
	}
	if !near(sum, 0, 1e-9) {
		t.Errorf("Σ α y = %v, want 0", sum)
	}
	for i := range x {
		f := -b.Rho
		for j, sv := range b.SV {
			f += b.Coef[j] * k[i*len(x)+sv]
		}
		m := float64(y[i]) * f
		if m < 1-1e-3 {
			t.Errorf("point %d has margin %v < 1", i, m)
		}
		if alpha[i] > 0 && !near(m, 1, 1e-3) {
			t.Errorf("free support vector %d has margin %v, want 1", i, m)
		}
	}
	if len(b.SV) < 2 || len(b.SV) > 20 {
		t.Errorf("%d support vectors of 40 on a well separated problem", len(b.SV))
	}
}

// blobs are k Gaussian clusters in 2-D, n points each, centres on a circle.
func blobs(r *rand.Rand, k, n int, spread float64) ([][]float64, []int) {
	var x [][]float64
	var y []int
	for i := 0; i < n; i++ {
		for c := 0; c < k; c++ {
			a := 2 * math.Pi * float64(c) / float64(k)
			x = append(x, []float64{3*math.Cos(a) + r.NormFloat64()*spread, 3*math.Sin(a) + r.NormFloat64()*spread})
			y = append(y, c*10) // labels need not be 0..k−1
		}
	}
	return x, y
}

func TestFitPredictMultiClass(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x, y := blobs(r, 4, 15, 0.5)
	m, err := Fit(x, y, Params{C: 10, Gamma: 0.5}, Tol)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Classes, []int{0, 10, 20, 30}) || len(m.Pairs) != 6 {
		t.Fatalf("classes %v, %d pairs", m.Classes, len(m.Pairs))
	}
	for i := range x {
		if got, votes := m.Predict(x[i]); got != y[i] {
			t.Errorf("training point %d: predicted %d (votes %v), want %d", i, got, votes, y[i])
		}
	}
	// Points at the cluster centres.
	for c := 0; c < 4; c++ {
		a := 2 * math.Pi * float64(c) / 4
		got, votes := m.Predict([]float64{3 * math.Cos(a), 3 * math.Sin(a)})
		if got != c*10 || votes[c] != 3 {
			t.Errorf("centre of class %d: predicted %d with votes %v", c*10, got, votes)
		}
	}
}

// The C path shortcut must give exactly the models of separate solves.
func TestFitPathEqualsSeparateSolves(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x, y := blobs(r, 3, 12, 1.5) // overlapping: small C values hit their bounds
	n := len(x)
	d := SquaredDistances(x, x)
	for i := range d {
		d[i] = RBF(0.3, d[i])
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	cs := []float64{0.01, 0.1, 1, 1e3, 1e5, 1e7}
	var s solver
	path := s.fitPath(idx, y, d, n, cs, Tol)
	shared := 0
	for ci, c := range cs {
		one := s.fitIndexed(idx, y, d, n, c, Tol)
		for p := range one.pairs {
			a, b := one.pairs[p], path[ci].pairs[p]
			if !slices.Equal(a.coef, b.coef) || !slices.Equal(a.sv, b.sv) || a.rho != b.rho {
				t.Errorf("C=%g pair %d: path solution differs from a separate solve", c, p)
			}
		}
		if path[ci].same {
			shared++
		}
	}
	if shared == 0 || path[0].same {
		t.Errorf("%d models shared along the path (first shared: %v); want some for the large C values", shared, path[0].same)
	}
}

// XOR of four clusters: γ too small is nearly linear and fails, γ too large
// memorises the training points and knows nothing between them; only the middle
// γ generalises. Ties (every C at the winning γ) go to the first cell.
func TestSearchPicksTheRightCell(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var x [][]float64
	var y []int
	for i := 0; i < 15; i++ {
		for q := 0; q < 4; q++ {
			sx, sy := float64(q%2*2-1), float64(q/2*2-1)
			x = append(x, []float64{2*sx + r.NormFloat64()*0.5, 2*sy + r.NormFloat64()*0.5})
			y = append(y, int(sx*sy+1)/2) // 0 or 1
		}
	}
	var folds [][]int
	for f := 0; f < 3; f++ {
		var fold []int
		for i := f; i < len(x); i += 3 {
			fold = append(fold, i)
		}
		folds = append(folds, fold)
	}
	g := Grid{Cs: []float64{1, 10}, Gammas: []float64{1e-4, 0.5, 1e4}}
	res, err := Search(context.Background(), x, y, folds, g, Tol)
	if err != nil {
		t.Fatal(err)
	}
	if res.Best != (Params{C: 1, Gamma: 0.5}) {
		t.Errorf("best %+v, want C=1 γ=0.5; cells %+v", res.Best, res.Cells)
	}
	if len(res.Cells) != 6 || res.Cells[1].Params != (Params{C: 1, Gamma: 0.5}) {
		t.Fatalf("cells not in C-major order: %+v", res.Cells)
	}
	for _, c := range res.Cells {
		if c.Gamma == 0.5 && c.Mean < 0.95 {
			t.Errorf("γ=0.5 C=%g: accuracy %v, want ≥ 0.95", c.C, c.Mean)
		}
		if c.Gamma != 0.5 && c.Mean > 0.8 {
			t.Errorf("γ=%g C=%g: accuracy %v, want it clearly worse", c.Gamma, c.C, c.Mean)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Search(ctx, x, y, folds, g, Tol); err == nil {
		t.Error("a cancelled search returned no error")
	}
	if _, err := Search(context.Background(), x, y, [][]int{{0, 1}, {1, 2}}, g, Tol); err == nil {
		t.Error("overlapping folds accepted")
	}
}

func TestValidateRejectsBrokenModels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x, y := blobs(r, 3, 5, 0.3)
	good, err := Fit(x, y, Params{C: 1, Gamma: 1}, Tol)
	if err != nil {
		t.Fatal(err)
	}
	breakers := map[string]func(m *Model){
		"sv index":     func(m *Model) { m.Pairs[0].SV[0] = len(m.SV) },
		"missing pair": func(m *Model) { m.Pairs = m.Pairs[1:] },
		"coef length":  func(m *Model) { m.Pairs[1].Coef = m.Pairs[1].Coef[1:] },
		"sv dimension": func(m *Model) { m.SV[1] = m.SV[1][:1] },
		"gamma":        func(m *Model) { m.Params.Gamma = 0 },
	}
	for name, brk := range breakers {
		m := *good
		m.Pairs = slices.Clone(good.Pairs)
		for i := range m.Pairs {
			m.Pairs[i].SV = slices.Clone(m.Pairs[i].SV)
		}
		m.SV = slices.Clone(good.SV)
		brk(&m)
		if err := m.Validate(); err == nil {
			t.Errorf("%s: broken model validated", name)
		}
	}
}
