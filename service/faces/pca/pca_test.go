package pca

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// Points on the line y = x: one component, (1, 1)/√2 up to sign, with variance
// Σ(√2·t)²/(n−1); asking for two keeps one, the other direction has none.
func TestFitLine(t *testing.T) {
	x := [][]float64{{-2, -2}, {-1, -1}, {1, 1}, {2, 2}, {5, 5}}
	p, err := Fit(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.K() != 1 {
		t.Fatalf("kept %d components, want 1", p.K())
	}
	if !near(p.Mean[0], 1, 1e-12) || !near(p.Mean[1], 1, 1e-12) {
		t.Errorf("mean %v, want [1 1]", p.Mean)
	}
	c := p.Components[0]
	if !near(math.Abs(c[0]), 1/math.Sqrt2, 1e-12) || !near(c[0], c[1], 1e-12) {
		t.Errorf("component %v, want ±(1, 1)/√2", c)
	}
	// Centred values t: −3, −2, 0, 1, 4; along the axis √2·t; Σ 2t² = 60, /4 = 15.
	if !near(p.Variance[0], 15, 1e-9) {
		t.Errorf("variance %v, want 15", p.Variance[0])
	}
	z, err := p.Transform([][]float64{{1, 1}, {4, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if !near(z[0][0], 0, 1e-12) || !near(math.Abs(z[1][0]), 3*math.Sqrt2/math.Sqrt(15), 1e-12) {
		t.Errorf("whitened %v, want 0 and ±3√2/√15", z)
	}
}

func randomData(r *rand.Rand, n, d int) [][]float64 {
	// Correlated features with decreasing scales, like pixels.
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, d)
		for j := range x[i] {
			x[i][j] = r.NormFloat64() * float64(d-j)
			if j > 0 {
				x[i][j] += 0.5 * x[i][j-1]
			}
		}
	}
	return x
}

// Properties on data with more features than samples, as faces: orthonormal
// axes, variances decreasing and equal to the variance of the projections,
// whitened training features with zero mean, unit variance and no correlation,
// and FitTransform's shortcut equal to Transform.
func TestProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, d, k = 40, 300, 25
	x := randomData(r, n, d)
	p, z, err := FitTransform(x, k)
	if err != nil {
		t.Fatal(err)
	}
	if p.K() != k || p.Dim() != d {
		t.Fatalf("K=%d Dim=%d, want %d, %d", p.K(), p.Dim(), k, d)
	}
	for a := 0; a < k; a++ {
		for b := a; b < k; b++ {
			dot := 0.0
			for j := 0; j < d; j++ {
				dot += p.Components[a][j] * p.Components[b][j]
			}
			want := 0.0
			if a == b {
				want = 1
			}
			if !near(dot, want, 1e-9) {
				t.Fatalf("components %d·%d = %v, want %v", a, b, dot, want)
			}
		}
		if a > 0 && p.Variance[a] > p.Variance[a-1]*(1+1e-12) {
			t.Errorf("variance %d (%v) above variance %d (%v)", a, p.Variance[a], a-1, p.Variance[a-1])
		}
		proj := 0.0
		for i := range x {
			v := 0.0
			for j := 0; j < d; j++ {
				v += (x[i][j] - p.Mean[j]) * p.Components[a][j]
			}
			proj += v * v
		}
		if !near(proj/(n-1), p.Variance[a], 1e-8*p.Variance[a]) {
			t.Errorf("component %d: projected variance %v, stored %v", a, proj/(n-1), p.Variance[a])
		}
	}
	zt, err := p.Transform(x)
	if err != nil {
		t.Fatal(err)
	}
	for a := 0; a < k; a++ {
		for b := a; b < k; b++ {
			mean, cov := 0.0, 0.0
			for i := range z {
				if !near(z[i][a], zt[i][a], 1e-8) {
					t.Fatalf("FitTransform z[%d][%d] = %v, Transform %v", i, a, z[i][a], zt[i][a])
				}
				mean += z[i][a]
				cov += z[i][a] * z[i][b]
			}
			want := 0.0
			if a == b {
				want = 1
			}
			if !near(mean/n, 0, 1e-9) || !near(cov/(n-1), want, 1e-9) {
				t.Fatalf("whitened features %d,%d: mean %v cov %v, want 0 and %v", a, b, mean/n, cov/(n-1), want)
			}
		}
	}
	// More components than the samples allow: at most n−1.
	p2, err := Fit(x, 150)
	if err != nil {
		t.Fatal(err)
	}
	if p2.K() != n-1 {
		t.Errorf("asked 150 of %d samples, kept %d, want %d", n, p2.K(), n-1)
	}
	if err := p2.Validate(); err != nil {
		t.Error(err)
	}
}

func TestFitRejects(t *testing.T) {
	if _, err := Fit([][]float64{{1, 2}}, 1); err == nil {
		t.Error("one sample accepted")
	}
	if _, err := Fit([][]float64{{1, 2}, {1}}, 1); err == nil {
		t.Error("ragged samples accepted")
	}
	if _, err := Fit([][]float64{{1, 2}, {1, 2}}, 1); err == nil {
		t.Error("constant samples accepted")
	}
	p, _ := Fit([][]float64{{1, 2}, {3, 1}, {0, 0}}, 2)
	if _, err := p.Transform([][]float64{{1}}); err == nil {
		t.Error("Transform accepted a sample of the wrong size")
	}
	p.Variance[0] = 0
	if err := p.Validate(); err == nil {
		t.Error("zero variance validated")
	}
}

// Beyond exactUpTo samples the randomized method must find the same leading
// components as the exact decomposition.
func TestRandomizedMatchesExact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n, d, k = exactUpTo + 100, 120, 20
	x := randomData(r, n, d)
	p, z, err := FitTransform(x, k)
	if err != nil {
		t.Fatal(err)
	}
	// The exact answer: the covariance's eigen-decomposition (d is small here).
	cov := mat.NewSymDense(d, nil)
	xc := mat.NewDense(n, d, nil)
	for i := range x {
		for j := range x[i] {
			xc.Set(i, j, x[i][j]-p.Mean[j])
		}
	}
	cov.SymOuterK(1/float64(n-1), xc.T())
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		t.Fatal("eigen")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	for c := 0; c < k; c++ {
		// Like scikit-learn's: the leading axes exact, the last few (where this
		// random spectrum is flat) close.
		tol, cosTol := 1e-6, 1e-6
		if c >= 5 {
			tol, cosTol = 1e-2, 2e-2
		}
		want := vals[d-1-c]
		if !near(p.Variance[c], want, tol*want) {
			t.Errorf("variance %d: %v, exact %v", c, p.Variance[c], want)
		}
		dot := 0.0
		for j := 0; j < d; j++ {
			dot += p.Components[c][j] * vecs.At(j, d-1-c)
		}
		if !near(math.Abs(dot), 1, cosTol) {
			t.Errorf("component %d: |cos| with the exact axis %v", c, math.Abs(dot))
		}
	}
	zt, _ := p.Transform(x[:3])
	for i := range zt {
		for c := range zt[i] {
			if !near(zt[i][c], z[i][c], 1e-9) {
				t.Fatalf("FitTransform and Transform disagree at %d,%d", i, c)
			}
		}
	}
}
