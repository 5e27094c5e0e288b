package svm

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// Grid is the search space: every C with every γ, cross-validated over folds.
type Grid struct {
	Cs     []float64
	Gammas []float64
}

// EigenfacesGrid is the grid of the original study (and of scikit-learn's
// eigenfaces example).
var EigenfacesGrid = Grid{
	Cs:     []float64{1e3, 5e3, 1e4, 5e4, 1e5},
	Gammas: []float64{1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 1e-1},
}

// Cell is the cross-validated accuracy of one (C, γ).
type Cell struct {
	Params
	Mean   float64   `json:"mean_accuracy"`
	Scores []float64 `json:"fold_accuracy"`
}

// SearchResult holds every cell in grid order (C outer, γ inner — scikit-learn's
// ParameterGrid order) and the best one.
type SearchResult struct {
	Best  Params `json:"best"`
	Cells []Cell `json:"cells"`
}

// Search cross-validates every cell of g on x, y with the given test folds (each
// a list of sample indices; a fold trains on every other sample) and picks the
// cell with the highest mean accuracy, the first in grid order on a tie, as
// scikit-learn's GridSearchCV does. The squared distances are computed once; each
// γ's kernel matrix once, shared by all its C values and folds; (γ, fold) tasks
// run in parallel on every core.
func Search(ctx context.Context, x [][]float64, y []int, folds [][]int, g Grid, tol float64) (SearchResult, error) {
	n := len(x)
	if n == 0 || len(y) != n {
		return SearchResult{}, fmt.Errorf("grid search: %d samples and %d labels", n, len(y))
	}
	if len(folds) < 2 || len(g.Cs) == 0 || len(g.Gammas) == 0 {
		return SearchResult{}, fmt.Errorf("grid search: %d folds, %d C values, %d gamma values", len(folds), len(g.Cs), len(g.Gammas))
	}
	inFold := make([]int, n)
	for i := range inFold {
		inFold[i] = -1
	}
	for f, fold := range folds {
		for _, i := range fold {
			if i < 0 || i >= n || inFold[i] >= 0 {
				return SearchResult{}, fmt.Errorf("grid search: fold %d names sample %d twice or out of range", f, i)
			}
			inFold[i] = f
		}
	}
	dist := SquaredDistances(x, x)

	// scores[c][γ][fold]
	scores := make([][][]float64, len(g.Cs))
	for c := range scores {
		scores[c] = make([][]float64, len(g.Gammas))
		for gi := range scores[c] {
			scores[c][gi] = make([]float64, len(folds))
		}
	}
	kernels := make([][]float64, len(g.Gammas))
	var once = make([]sync.Once, len(g.Gammas))
	kernelFor := func(gi int) []float64 {
		once[gi].Do(func() {
			k := make([]float64, len(dist))
			for i, d := range dist {
				k[i] = RBF(g.Gammas[gi], d)
			}
			kernels[gi] = k
		})
		return kernels[gi]
	}

	// The C values ascending, for the solution path; order[i] is the grid index of
	// cs[i].
	order := make([]int, len(g.Cs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(g.Cs[a], g.Cs[b]) })
	cs := make([]float64, len(order))
	for i, o := range order {
		cs[i] = g.Cs[o]
	}

	type task struct{ gamma, fold int }
	tasks := make(chan task)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Go(func() {
			var s solver
			for t := range tasks {
				k := kernelFor(t.gamma)
				var train []int
				for i := range n {
					if inFold[i] != t.fold {
						train = append(train, i)
					}
				}
				test := folds[t.fold]
				models := s.fitPath(train, y, k, n, cs, tol)
				var votes []int
				for ci, m := range models {
					c := order[ci]
					if m.same {
						scores[c][t.gamma][t.fold] = scores[order[ci-1]][t.gamma][t.fold]
						continue
					}
					if cap(votes) < len(m.classes) {
						votes = make([]int, len(m.classes))
					}
					correct := 0
					for _, i := range test {
						if m.predict(i, k, n, votes[:len(m.classes)]) == y[i] {
							correct++
						}
					}
					scores[c][t.gamma][t.fold] = float64(correct) / float64(len(test))
				}
			}
		})
	}
feed:
	for gi := range g.Gammas {
		for f := range folds {
			select {
			case tasks <- task{gi, f}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(tasks)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return SearchResult{}, fmt.Errorf("grid search: %w", err)
	}

	var res SearchResult
	bestMean := -1.0
	for c, cv := range g.Cs {
		for gi, gv := range g.Gammas {
			cell := Cell{Params: Params{C: cv, Gamma: gv}, Scores: scores[c][gi]}
			for _, s := range cell.Scores {
				cell.Mean += s
			}
			cell.Mean /= float64(len(cell.Scores))
			if cell.Mean > bestMean {
				bestMean, res.Best = cell.Mean, cell.Params
			}
			res.Cells = append(res.Cells, cell)
		}
	}
	return res, nil
}
