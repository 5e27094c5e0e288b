// Package pca is principal component analysis with whitening, fitted the way that
// suits face images: fewer samples (n) than pixels (d). The principal axes come
// from the n×n Gram matrix of the centred samples. Up to 400 samples (ORL's 300
// training images) it is decomposed whole, which gives the exact leading singular
// vectors that scikit-learn's randomized SVD approximates, in about the cost of
// one of its power iterations; beyond that (LFW) its leading eigenvectors are
// found by randomized subspace iteration, as scikit-learn does.
package pca

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// PCA maps a d-dimensional sample x to k whitened features
// z_i = (x − Mean)·Components[i] / sqrt(Variance[i]), which have unit variance
// over the training samples (scikit-learn's PCA(whiten=True).transform).
type PCA struct {
	Mean       []float64
	Components [][]float64 // k unit-norm, mutually orthogonal axes, by decreasing variance
	Variance   []float64   // variance along each axis (ddof = 1)
}

// blockCols is the width of the column blocks the products below work through:
// 300 rows × 256 columns of float64 (600 KB) stay in cache, where whole 10 304-pixel
// rows do not; that makes them about four times faster than one big call.
const blockCols = 256

// gramMatrix is x·xᵀ, summed over column blocks, the blocks split among the cores.
func gramMatrix(x *mat.Dense) *mat.SymDense {
	n, d := x.Dims()
	blocks := (d + blockCols - 1) / blockCols
	workers := min(runtime.GOMAXPROCS(0), blocks)
	parts := make([]*mat.SymDense, workers)
	var wg sync.WaitGroup
	for w := range parts {
		wg.Go(func() {
			g := mat.NewSymDense(n, nil)
			for b := w; b < blocks; b += workers {
				c0 := b * blockCols
				g.SymRankK(g, 1, x.Slice(0, n, c0, min(c0+blockCols, d)))
			}
			parts[w] = g
		})
	}
	wg.Wait()
	g := parts[0]
	for _, p := range parts[1:] {
		g.AddSym(g, p)
	}
	return g
}

// mulTransposed is a·bᵀ (a m×d, b k×d), summed over column blocks.
func mulTransposed(a, b *mat.Dense) *mat.Dense {
	m, d := a.Dims()
	k, _ := b.Dims()
	out := mat.NewDense(m, k, nil)
	var part mat.Dense
	for c0 := 0; c0 < d; c0 += blockCols {
		c1 := min(c0+blockCols, d)
		part.Reset()
		part.Mul(a.Slice(0, m, c0, c1), b.Slice(0, k, c0, c1).T())
		out.Add(out, &part)
	}
	return out
}

// Fit finds up to k components of the rows of x (n samples × d features). It
// keeps fewer when the data have fewer: at most n−1 (centring removes one) and d,
// dropping axes whose variance is negligible next to the first.
func Fit(x [][]float64, k int) (*PCA, error) {
	p, _, err := FitTransform(x, k)
	return p, err
}

// FitTransform is Fit followed by Transform(x), for less: the whitened features
// of the training samples come straight from the eigenvectors, z = U·sqrt(n−1).
func FitTransform(x [][]float64, k int) (*PCA, [][]float64, error) {
	n := len(x)
	if n < 2 {
		return nil, nil, fmt.Errorf("pca: %d samples, want at least 2", n)
	}
	d := len(x[0])
	if d == 0 {
		return nil, nil, fmt.Errorf("pca: samples have no features")
	}
	mean := make([]float64, d)
	for i, row := range x {
		if len(row) != d {
			return nil, nil, fmt.Errorf("pca: sample %d has %d features, want %d", i, len(row), d)
		}
		for j, v := range row {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	xc := mat.NewDense(n, d, nil)
	for i, row := range x {
		r := xc.RawRowView(i)
		for j, v := range row {
			r[j] = v - mean[j]
		}
	}

	// Gram = Xc·Xcᵀ = U Σ² Uᵀ; the right singular vectors are V = Xcᵀ U Σ⁻¹.
	gram := gramMatrix(xc)
	k = min(k, n-1, d)
	values, vectors, exact, err := topEigen(gram, k)
	if err != nil {
		return nil, nil, err
	}
	top := values[0]
	if !(top > 0) {
		return nil, nil, fmt.Errorf("pca: the samples do not vary")
	}
	var keep []int
	for c := 0; c < len(values) && len(keep) < k; c++ {
		if values[c] <= top*1e-12 {
			break
		}
		keep = append(keep, c)
	}
	k = len(keep)
	// u holds the kept eigenvectors as rows, each scaled by 1/σ.
	u := mat.NewDense(k, n, nil)
	for r, c := range keep {
		inv := 1 / math.Sqrt(values[c])
		for i := 0; i < n; i++ {
			u.Set(r, i, vectors.At(i, c)*inv)
		}
	}
	var comp mat.Dense
	comp.Mul(u, xc) // k×d, rows = Σ⁻¹ Uᵀ Xc = Vᵀ
	p := &PCA{Mean: mean, Components: make([][]float64, k), Variance: make([]float64, k)}
	for r, c := range keep {
		p.Components[r] = append([]float64(nil), comp.RawRowView(r)...)
		p.Variance[r] = values[c] / float64(n-1)
	}
	if !exact {
		// Approximate eigenvectors: project the samples properly.
		z, err := p.Transform(x)
		return p, z, err
	}
	// z_i,r = (x_i − mean)·v_r / sqrt(λ_r/(n−1)) = σ_r u_i,r / (σ_r/sqrt(n−1)).
	z := make([][]float64, n)
	scale := math.Sqrt(float64(n - 1))
	for i := range z {
		z[i] = make([]float64, k)
		for r, c := range keep {
			z[i][r] = vectors.At(i, c) * scale
		}
	}
	return p, z, nil
}

// exactUpTo is the largest Gram matrix decomposed whole; beyond it (LFW's 966
// training photos, say) only the leading eigenpairs are found, by randomized
// subspace iteration.
const exactUpTo = 400

// topEigen returns the leading eigenvalues of the symmetric g, largest first, and
// their eigenvectors as the columns of vectors: at least k of them.
// exact is false when they come from the randomized method.
func topEigen(g *mat.SymDense, k int) (values []float64, vectors *mat.Dense, exact bool, err error) {
	n := g.SymmetricDim()
	if n <= exactUpTo {
		var eig mat.EigenSym
		if !eig.Factorize(g, true) {
			return nil, nil, false, fmt.Errorf("pca: eigen-decomposition of the %d×%d Gram matrix did not converge", n, n)
		}
		asc := eig.Values(nil)
		var v mat.Dense
		eig.VectorsTo(&v)
		vectors = mat.NewDense(n, n, nil)
		values = make([]float64, n)
		for c := 0; c < n; c++ {
			values[c] = asc[n-1-c]
			vectors.SetCol(c, mat.Col(nil, n-1-c, &v))
		}
		return values, vectors, true, nil
	}
	values, vectors, err = randomizedEigen(g, k)
	return values, vectors, false, err
}

// Randomized subspace iteration (Halko, Martinsson and Tropp 2011, algorithms 4.4
// and 5.3), as scikit-learn's randomized SVD: oversampling 10, 4 power
// iterations, here on the Gram matrix with a fixed seed so training is repeatable.
const (
	oversample = 10
	powerIters = 4
)

func randomizedEigen(g *mat.SymDense, k int) ([]float64, *mat.Dense, error) {
	n := g.SymmetricDim()
	l := min(k+oversample, n)
	r := rand.New(rand.NewPCG(42, 0))
	q := mat.NewDense(l, n, nil) // rows span the subspace
	for i := 0; i < l; i++ {
		for j := 0; j < n; j++ {
			q.Set(i, j, r.NormFloat64())
		}
	}
	var y mat.Dense
	for it := 0; it <= powerIters; it++ {
		y.Mul(q, g) // rows of (G·Qᵀ)ᵀ; G is symmetric
		q.Copy(&y)
		orthonormalizeRows(q)
	}
	var qg, b mat.Dense
	qg.Mul(q, g)
	b.Mul(&qg, q.T())
	bs := mat.NewSymDense(l, nil)
	for i := 0; i < l; i++ {
		for j := i; j < l; j++ {
			bs.SetSym(i, j, (b.At(i, j)+b.At(j, i))/2)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(bs, true) {
		return nil, nil, fmt.Errorf("pca: eigen-decomposition of the %d×%d projected Gram matrix did not converge", l, l)
	}
	asc := eig.Values(nil)
	var w mat.Dense
	eig.VectorsTo(&w)
	var u mat.Dense
	u.Mul(q.T(), &w) // n×l, columns in ascending order
	values := make([]float64, l)
	vectors := mat.NewDense(n, l, nil)
	for c := 0; c < l; c++ {
		values[c] = asc[l-1-c]
		vectors.SetCol(c, mat.Col(nil, l-1-c, &u))
	}
	return values, vectors, nil
}

// orthonormalizeRows makes the rows of a orthonormal by modified Gram–Schmidt,
// twice over for accuracy; a row that is (numerically) in the span of the ones
// before it becomes zero.
func orthonormalizeRows(a *mat.Dense) {
	rows, _ := a.Dims()
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < rows; i++ {
			ri := a.RawRowView(i)
			for j := 0; j < i; j++ {
				rj := a.RawRowView(j)
				floats.AddScaled(ri, -floats.Dot(ri, rj), rj)
			}
			if norm := floats.Norm(ri, 2); norm > 1e-300 {
				floats.Scale(1/norm, ri)
			} else {
				clear(ri)
			}
		}
	}
}

// Dim is the number of input features.
func (p *PCA) Dim() int { return len(p.Mean) }

// K is the number of output features.
func (p *PCA) K() int { return len(p.Components) }

// Transform returns the whitened features of each row of x.
func (p *PCA) Transform(x [][]float64) ([][]float64, error) {
	n, d, k := len(x), p.Dim(), p.K()
	if n == 0 {
		return nil, nil
	}
	xc := mat.NewDense(n, d, nil)
	for i, row := range x {
		if len(row) != d {
			return nil, fmt.Errorf("pca transform: sample %d has %d features, want %d", i, len(row), d)
		}
		r := xc.RawRowView(i)
		for j, v := range row {
			r[j] = v - p.Mean[j]
		}
	}
	comp := mat.NewDense(k, d, nil)
	for r, c := range p.Components {
		copy(comp.RawRowView(r), c)
	}
	z := mulTransposed(xc, comp)
	out := make([][]float64, n)
	for i := range out {
		row := z.RawRowView(i)
		out[i] = make([]float64, k)
		for j := range row {
			out[i][j] = row[j] / math.Sqrt(p.Variance[j])
		}
	}
	return out, nil
}

// Residuals returns, for each row of x, the squared distance from x to its
// projection on the components: what of x − Mean the axes do not explain.
func (p *PCA) Residuals(x [][]float64) ([]float64, error) {
	n, d, k := len(x), p.Dim(), p.K()
	xc := mat.NewDense(max(n, 1), d, nil)
	total := make([]float64, n)
	for i, row := range x {
		if len(row) != d {
			return nil, fmt.Errorf("pca residuals: sample %d has %d features, want %d", i, len(row), d)
		}
		r := xc.RawRowView(i)
		for j, v := range row {
			r[j] = v - p.Mean[j]
			total[i] += r[j] * r[j]
		}
	}
	comp := mat.NewDense(k, d, nil)
	for r, c := range p.Components {
		copy(comp.RawRowView(r), c)
	}
	proj := mulTransposed(xc, comp)
	for i := range total {
		for _, v := range proj.RawRowView(i) {
			total[i] -= v * v
		}
	}
	return total, nil
}

// Validate checks that the parts agree and hold finite numbers, for a PCA read
// from storage.
func (p *PCA) Validate() error {
	d := len(p.Mean)
	if d == 0 || len(p.Components) == 0 || len(p.Components) != len(p.Variance) {
		return fmt.Errorf("pca: %d features, %d components, %d variances", d, len(p.Components), len(p.Variance))
	}
	for i, c := range p.Components {
		if len(c) != d {
			return fmt.Errorf("pca: component %d has %d features, want %d", i, len(c), d)
		}
		if v := p.Variance[i]; !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("pca: component %d has variance %g", i, v)
		}
	}
	return nil
}
