package pca

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkFitORLSize is the PCA stage of training on ORL: fit on 300 images of
// 92×112 and transform the 100 test images.
func BenchmarkFitORLSize(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([][]float64, 400)
	for i := range x {
		x[i] = make([]float64, 10304)
		for j := range x[i] {
			x[i][j] = float64(r.IntN(256))
		}
	}
	for b.Loop() {
		p, _, err := FitTransform(x[:300], 150)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Transform(x[300:]); err != nil {
			b.Fatal(err)
		}
	}
}
