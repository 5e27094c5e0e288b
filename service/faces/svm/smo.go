// Package svm is a C-support-vector classifier with an RBF kernel: libsvm's SMO
// solver (second-order working-set selection, WSS3), one-vs-one multi-class voting,
// balanced class weights, and a grid search over C and γ that shares one
// squared-distance matrix across every γ, C and fold.
package svm

import "math"

// tau stands in for a non-positive curvature in the SMO step, as in libsvm.
const tau = 1e-12

// Binary is the solution of one two-class problem: f(x) = Σ Coef[i]·K(SV[i], x) − Rho,
// positive for the first class.
type Binary struct {
	Coef []float64 // α_i·y_i of each support vector
	SV   []int     // indices of the support vectors in the problem's samples
	Rho  float64
	Iter int
	// HitUpper is set when some α reached its upper bound during the run. When it
	// did not, no step was clipped from above, so the run — and its solution — is
	// exactly the same for any larger C (all bounds grow together): the grid
	// search solves once for every C from this one up.
	HitUpper bool
}

// Bound states of a variable, kept up to date as libsvm does, so the working-set
// scan reads a byte instead of comparing against C.
const (
	atLower int8 = iota
	atUpper
	free
)

// solver holds the buffers of one SMO run; a grid-search worker reuses one for
// every binary problem it solves.
type solver struct {
	q, qd, alpha, grad, c []float64
	status                []int8
}

func grow(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	return b[:n]
}

// solveBinary runs SMO on the dual
//
//	min ½ αᵀQα − eᵀα,  0 ≤ α_i ≤ C_i,  yᵀα = 0,  Q_ij = y_i y_j K_ij
//
// for the samples sub of a precomputed kernel matrix k (row stride stride), with
// labels y (±1); cPos and cNeg are the box bounds of the +1 and −1 samples. eps is
// the stopping tolerance on the maximal KKT violation (libsvm's -e, scikit-learn's
// tol).
func (s *solver) solveBinary(k []float64, stride int, sub []int, y []int8, cPos, cNeg, eps float64) Binary {
	n := len(sub)
	// Q is held whole: the one-vs-one problems here have tens to hundreds of
	// samples, so a full matrix is smaller than any cache bookkeeping.
	s.q, s.qd = grow(s.q, n*n), grow(s.qd, n)
	s.alpha, s.grad, s.c = grow(s.alpha, n), grow(s.grad, n), grow(s.c, n)
	if cap(s.status) < n {
		s.status = make([]int8, n)
	}
	q, qd, alpha, grad, c, status := s.q, s.qd, s.alpha, s.grad, s.c, s.status[:n]
	for i := 0; i < n; i++ {
		row := k[sub[i]*stride:]
		for j := 0; j <= i; j++ {
			v := row[sub[j]]
			if y[i] != y[j] {
				v = -v
			}
			q[i*n+j], q[j*n+i] = v, v
		}
		qd[i] = q[i*n+i]
		alpha[i], grad[i], status[i] = 0, -1, atLower // ∇ = Qα − e at α = 0
		c[i] = cNeg
		if y[i] > 0 {
			c[i] = cPos
		}
	}
	setStatus := func(i int) {
		switch {
		case alpha[i] >= c[i]:
			status[i] = atUpper
		case alpha[i] <= 0:
			status[i] = atLower
		default:
			status[i] = free
		}
	}

	maxIter := max(10000000, 100*n)
	iter := 0
	hitUpper := false
	for ; iter < maxIter; iter++ {
		i, j, ok := selectWorkingSet(n, y, q, qd, grad, status, eps)
		if !ok {
			break
		}
		qi, qj := q[i*n:(i+1)*n], q[j*n:(j+1)*n]
		ci, cj := c[i], c[j]
		oldI, oldJ := alpha[i], alpha[j]
		if y[i] != y[j] {
			quad := qd[i] + qd[j] + 2*qi[j]
			if quad <= 0 {
				quad = tau
			}
			delta := (-grad[i] - grad[j]) / quad
			diff := alpha[i] - alpha[j]
			alpha[i] += delta
			alpha[j] += delta
			if diff > 0 {
				if alpha[j] < 0 {
					alpha[j], alpha[i] = 0, diff
				}
			} else if alpha[i] < 0 {
				alpha[i], alpha[j] = 0, -diff
			}
			if diff > ci-cj {
				if alpha[i] > ci {
					alpha[i], alpha[j] = ci, ci-diff
				}
			} else if alpha[j] > cj {
				alpha[j], alpha[i] = cj, cj+diff
			}
		} else {
			quad := qd[i] + qd[j] - 2*qi[j]
			if quad <= 0 {
				quad = tau
			}
			delta := (grad[i] - grad[j]) / quad
			sum := alpha[i] + alpha[j]
			alpha[i] -= delta
			alpha[j] += delta
			if sum > ci {
				if alpha[i] > ci {
					alpha[i], alpha[j] = ci, sum-ci
				}
			} else if alpha[j] < 0 {
				alpha[j], alpha[i] = 0, sum
			}
			if sum > cj {
				if alpha[j] > cj {
					alpha[j], alpha[i] = cj, sum-cj
				}
			} else if alpha[i] < 0 {
				alpha[i], alpha[j] = 0, sum
			}
		}
		setStatus(i)
		setStatus(j)
		if status[i] == atUpper || status[j] == atUpper {
			hitUpper = true
		}
		dI, dJ := alpha[i]-oldI, alpha[j]-oldJ
		for t := range grad {
			grad[t] += qi[t]*dI + qj[t]*dJ
		}
	}

	b := Binary{Rho: rho(y, grad, status), Iter: iter, HitUpper: hitUpper}
	for i, a := range alpha {
		if a > 0 {
			b.Coef = append(b.Coef, a*float64(y[i]))
			b.SV = append(b.SV, i)
		}
	}
	return b
}

// selectWorkingSet is libsvm's WSS3: i maximises the violation −y_i∇_i over
// I_up, j minimises the second-order decrease of the objective among the pairs
// that violate the KKT conditions with i. ok is false once the maximal violation
// is below eps.
func selectWorkingSet(n int, y []int8, q, qd, grad []float64, status []int8, eps float64) (int, int, bool) {
	gmax, gmax2 := math.Inf(-1), math.Inf(-1)
	gmaxIdx, gminIdx := -1, -1
	objDiffMin := math.Inf(1)
	for t := 0; t < n; t++ {
		if y[t] > 0 {
			if status[t] != atUpper && -grad[t] >= gmax {
				gmax, gmaxIdx = -grad[t], t
			}
		} else if status[t] != atLower && grad[t] >= gmax {
			gmax, gmaxIdx = grad[t], t
		}
	}
	i := gmaxIdx
	if i < 0 {
		return 0, 0, false
	}
	qi := q[i*n : (i+1)*n]
	yi := float64(y[i])
	for j := 0; j < n; j++ {
		var gradDiff, quad float64
		if y[j] > 0 {
			if status[j] == atLower {
				continue
			}
			gradDiff = gmax + grad[j]
			gmax2 = max(gmax2, grad[j])
			quad = qd[i] + qd[j] - 2*yi*qi[j]
		} else {
			if status[j] == atUpper {
				continue
			}
			gradDiff = gmax - grad[j]
			gmax2 = max(gmax2, -grad[j])
			quad = qd[i] + qd[j] + 2*yi*qi[j]
		}
		if gradDiff <= 0 {
			continue
		}
		if quad <= 0 {
			quad = tau
		}
		if obj := -gradDiff * gradDiff / quad; obj <= objDiffMin {
			gminIdx, objDiffMin = j, obj
		}
	}
	if gmax+gmax2 < eps || gminIdx < 0 {
		return 0, 0, false
	}
	return i, gminIdx, true
}

// rho is the offset: the mean of y_i∇_i over the free variables, or the middle of
// the feasible interval when none is free.
func rho(y []int8, grad []float64, status []int8) float64 {
	ub, lb := math.Inf(1), math.Inf(-1)
	nFree, sumFree := 0, 0.0
	for i := range grad {
		yg := float64(y[i]) * grad[i]
		switch status[i] {
		case atUpper:
			if y[i] < 0 {
				ub = min(ub, yg)
			} else {
				lb = max(lb, yg)
			}
		case atLower:
			if y[i] > 0 {
				ub = min(ub, yg)
			} else {
				lb = max(lb, yg)
			}
		default:
			nFree++
			sumFree += yg
		}
	}
	if nFree > 0 {
		return sumFree / float64(nFree)
	}
	return (ub + lb) / 2
}
