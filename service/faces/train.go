package faces

import (
	"context"
	"fmt"
	"time"

	"github.com/servebench/servebench/service/faces/pca"
	"github.com/servebench/servebench/service/faces/split"
	"github.com/servebench/servebench/service/faces/svm"
	"github.com/servebench/servebench/service/timing"
)

// TrainOptions are the knobs of the Eigenfaces pipeline. DefaultTrainOptions is the
// original study's.
type TrainOptions struct {
	Components   int     // PCA components (fewer when the samples are fewer)
	TestFraction float64 // held out for the test accuracy
	Seed         uint32  // of the train/test split (NumPy RandomState, as random_state=42)
	Folds        int     // cross-validation folds of the grid search
	Grid         svm.Grid
	Tol          float64 // SMO stopping tolerance
}

// DefaultTrainOptions: PCA 150 whitened; split 75/25 as
// train_test_split(X, y, test_size=0.25, random_state=42) (unstratified); RBF SVM
// with balanced class weights; 5-fold stratified grid search over the study's C
// and γ.
var DefaultTrainOptions = TrainOptions{
	Components:   150,
	TestFraction: 0.25,
	Seed:         42,
	Folds:        5,
	Grid:         svm.EigenfacesGrid,
	Tol:          svm.Tol,
}

// ClassReport is the test-set precision and recall of one person.
type ClassReport struct {
	Name      string  `json:"name"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	Support   int     `json:"support"` // test images of this person
}

// Report describes a training run.
type Report struct {
	Layout         Layout        `json:"layout"`
	Samples        int           `json:"samples"`
	TrainSamples   int           `json:"train_samples"`
	TestSamples    int           `json:"test_samples"`
	Classes        int           `json:"classes"`
	Features       int           `json:"features"`
	Components     int           `json:"components"`
	Best           svm.Params    `json:"best"`
	CVAccuracy     float64       `json:"cv_accuracy"`
	TestAccuracy   float64       `json:"test_accuracy"`
	SupportVectors int           `json:"support_vectors"`
	PerClass       []ClassReport `json:"per_class"`
	Grid           []svm.Cell    `json:"grid"`
}

// Train runs the Eigenfaces pipeline on ds: split, PCA fitted on the training
// part only, grid search on its whitened features, refit of the best cell on the
// whole training part, and scoring on the test part. Stages "split", "pca",
// "grid_search", "fit" and "evaluate" are recorded in st.
func Train(ctx context.Context, ds *Dataset, opt TrainOptions, st *timing.Stages) (*Model, Report, error) {
	t := time.Now()
	trainIdx, testIdx, err := split.TrainTest(len(ds.X), opt.TestFraction, opt.Seed)
	if err != nil {
		return nil, Report{}, err
	}
	pick := func(idx []int) ([][]float64, []int) {
		x, y := make([][]float64, len(idx)), make([]int, len(idx))
		for i, s := range idx {
			x[i], y[i] = ds.X[s], ds.Y[s]
		}
		return x, y
	}
	xTrain, yTrain := pick(trainIdx)
	xTest, yTest := pick(testIdx)
	folds, err := split.StratifiedKFold(yTrain, opt.Folds)
	if err != nil {
		return nil, Report{}, fmt.Errorf("cross-validation folds: %w", err)
	}
	t = st.Since("split", t)

	p, zTrain, err := pca.FitTransform(xTrain, opt.Components)
	if err != nil {
		return nil, Report{}, err
	}
	zTest, err := p.Transform(xTest)
	if err != nil {
		return nil, Report{}, err
	}
	t = st.Since("pca", t)

	search, err := svm.Search(ctx, zTrain, yTrain, folds, opt.Grid, opt.Tol)
	if err != nil {
		return nil, Report{}, err
	}
	t = st.Since("grid_search", t)

	clf, err := svm.Fit(zTrain, yTrain, search.Best, opt.Tol)
	if err != nil {
		return nil, Report{}, err
	}
	t = st.Since("fit", t)

	m := &Model{Version: ModelVersion, Layout: ds.Layout, Names: ds.Names, Width: ds.Width, Height: ds.Height, PCA: p, SVM: clf}
	rep := Report{
		Layout: ds.Layout, Samples: len(ds.X), TrainSamples: len(xTrain), TestSamples: len(xTest),
		Classes: len(ds.Names), Features: len(ds.X[0]), Components: p.K(), Best: search.Best,
		SupportVectors: len(clf.SV), Grid: search.Cells,
	}
	for _, c := range search.Cells {
		if c.Params == search.Best {
			rep.CVAccuracy = c.Mean
		}
	}
	predicted := make([]int, len(zTest))
	for i, z := range zTest {
		predicted[i], _ = clf.Predict(z)
	}
	rep.TestAccuracy, rep.PerClass = scores(ds.Names, yTest, predicted)
	st.Since("evaluate", t)
	return m, rep, nil
}

// scores returns the accuracy and, per class, precision and recall (0 when
// undefined, as scikit-learn's zero_division=0).
func scores(names []string, truth, predicted []int) (float64, []ClassReport) {
	tp := make([]int, len(names))
	predCount := make([]int, len(names))
	support := make([]int, len(names))
	correct := 0
	for i := range truth {
		support[truth[i]]++
		predCount[predicted[i]]++
		if truth[i] == predicted[i] {
			tp[truth[i]]++
			correct++
		}
	}
	per := make([]ClassReport, len(names))
	for c, name := range names {
		per[c] = ClassReport{Name: name, Support: support[c]}
		if predCount[c] > 0 {
			per[c].Precision = float64(tp[c]) / float64(predCount[c])
		}
		if support[c] > 0 {
			per[c].Recall = float64(tp[c]) / float64(support[c])
		}
	}
	acc := 0.0
	if len(truth) > 0 {
		acc = float64(correct) / float64(len(truth))
	}
	return acc, per
}
