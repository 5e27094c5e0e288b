package faces

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"image"
	"io"
	"math"

	"github.com/servebench/servebench/service/faces/pca"
	"github.com/servebench/servebench/service/faces/svm"
)

// ModelVersion is the version of the stored model format this code writes and
// reads. Bump it when Model changes shape; Decode refuses other versions so a
// stale model is retrained rather than misread.
const ModelVersion = 1

// modelMagic opens every stored model, ahead of the gob body. The body is not
// compressed: it is mostly float64 PCA axes, which gzip shrinks by a few per cent
// at the cost of more time than reading the extra bytes.
const modelMagic = "servebench-faces-model\n"

// Model is a trained Eigenfaces classifier: the image size it expects, the PCA
// (mean, axes, variances for whitening) and the SVM over the whitened features.
type Model struct {
	Version       int
	Layout        Layout
	Names         []string // person by label
	Width, Height int
	PCA           *pca.PCA
	SVM           *svm.Model
}

// Encode writes m as the magic line, then gob.
func (m *Model) Encode(w io.Writer) error {
	if _, err := io.WriteString(w, modelMagic); err != nil {
		return fmt.Errorf("encode model: %w", err)
	}
	if err := gob.NewEncoder(w).Encode(m); err != nil {
		return fmt.Errorf("encode model: %w", err)
	}
	return nil
}

// DecodeModel reads a model written by Encode and checks it: format, version and
// that every part agrees with the others, so a corrupt object is an error here,
// never an index out of range at predict time.
func DecodeModel(r io.Reader) (*Model, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(modelMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != modelMagic {
		return nil, fmt.Errorf("decode model: not a servebench faces model")
	}
	var m Model
	if err := gob.NewDecoder(br).Decode(&m); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	if m.Version != ModelVersion {
		return nil, fmt.Errorf("decode model: version %d, this service reads version %d", m.Version, ModelVersion)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	return &m, nil
}

// Validate checks that the model's parts fit together.
func (m *Model) Validate() error {
	if m.PCA == nil || m.SVM == nil {
		return fmt.Errorf("model lacks its PCA or SVM")
	}
	// By division, not product: Width·Height can wrap around to the feature count
	// with sides that Refine would index far out of range.
	if d := m.PCA.Dim(); m.Width < 1 || m.Height < 1 || d%m.Height != 0 || d/m.Height != m.Width {
		return fmt.Errorf("model image size %d×%d does not match %d PCA features", m.Width, m.Height, m.PCA.Dim())
	}
	if err := m.PCA.Validate(); err != nil {
		return err
	}
	if err := m.SVM.Validate(); err != nil {
		return err
	}
	if m.SVM.Dim() != m.PCA.K() {
		return fmt.Errorf("svm takes %d features, pca gives %d", m.SVM.Dim(), m.PCA.K())
	}
	// Predict's votes and score rely on what svm.Model documents and its Validate
	// leaves unchecked: classes ascending, each with one vote count, and exactly
	// the pairs (0,1), (0,2), …, (1,2), … in order, so no class gets more than
	// k−1 votes.
	k := len(m.SVM.Classes)
	for i, c := range m.SVM.Classes {
		if c < 0 || c >= len(m.Names) {
			return fmt.Errorf("svm label %d has no name (%d names)", c, len(m.Names))
		}
		if i > 0 && c <= m.SVM.Classes[i-1] {
			return fmt.Errorf("svm labels %v are not ascending", m.SVM.Classes)
		}
	}
	next := 0
	for a := 0; a < k; a++ {
		for b := a + 1; b < k; b++ {
			if p := m.SVM.Pairs[next]; p.A != a || p.B != b {
				return fmt.Errorf("svm pair %d is (%d,%d), want (%d,%d)", next, p.A, p.B, a, b)
			}
			next++
		}
	}
	// A NaN or infinity anywhere would make every prediction meaningless, and a
	// NaN would make a decoded model differ from itself.
	finite := allFinite(m.PCA.Mean) && allFinite(m.PCA.Components...) && allFinite(m.SVM.SV...) &&
		allFinite([]float64{m.SVM.Params.C, m.SVM.Params.Gamma})
	for _, p := range m.SVM.Pairs {
		finite = finite && allFinite(p.Coef, []float64{p.Rho})
	}
	if !finite {
		return fmt.Errorf("model holds a number that is not finite")
	}
	return nil
}

// allFinite tells whether every value of every row is a finite number.
func allFinite(rows ...[]float64) bool {
	for _, row := range rows {
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
	}
	return true
}

// Prediction is the label of one face. Score is the share of the one-vs-one votes
// the winner got: 1 when it beat every other person, (k−1) votes of k−1.
type Prediction struct {
	Label int     `json:"label"`
	Name  string  `json:"name"`
	Score float64 `json:"score"`
	Votes int     `json:"votes"`
}

// Predict classifies features x (Width·Height grey levels).
func (m *Model) Predict(x []float64) (Prediction, error) {
	z, err := m.PCA.Transform([][]float64{x})
	if err != nil {
		return Prediction{}, err
	}
	label, votes := m.SVM.Predict(z[0])
	p := Prediction{Label: label, Name: m.Names[label]}
	for i, c := range m.SVM.Classes {
		if c == label {
			p.Votes = votes[i]
		}
	}
	p.Score = float64(p.Votes) / float64(len(m.SVM.Classes)-1)
	return p, nil
}

// Refine moves and scales a detected face's box around its first guess to the
// framing closest to the model's face space (the smallest PCA residual, Turk and
// Pentland's "distance from face space"), so the crop lines up with the training
// images as eigenfaces need: a few pixels off costs much accuracy. It tries shifts
// of up to a tenth of the box and scales of ±10 %.
func (m *Model) Refine(img image.Image, f Face) (Face, error) {
	if !f.Detected {
		return f, nil
	}
	b := img.Bounds()
	x0, y0, x1, y1 := float64(f.Box[0]), float64(f.Box[1]), float64(f.Box[2]), float64(f.Box[3])
	cx, cy, w, h := (x0+x1)/2, (y0+y1)/2, x1-x0, y1-y0
	var boxes []image.Rectangle
	union := image.Rectangle{}
	for _, s := range []float64{0.9, 0.95, 1, 1.05, 1.1} {
		for dy := -2; dy <= 2; dy++ {
			for dx := -2; dx <= 2; dx++ {
				ccx, ccy, ww, hh := cx+float64(dx)*0.05*w, cy+float64(dy)*0.05*h, w*s, h*s
				r := image.Rect(int(ccx-ww/2), int(ccy-hh/2), int(ccx+ww/2), int(ccy+hh/2))
				if r.In(b) {
					boxes = append(boxes, r)
					union = union.Union(r)
				}
			}
		}
	}
	if len(boxes) == 0 {
		return f, nil
	}
	// Scale the region once to about the training resolution; each candidate is
	// then sampled from it bilinearly, far cheaper than a resampling per box.
	k := float64(m.Width) / w
	pw, ph := max(1, int(float64(union.Dx())*k)), max(1, int(float64(union.Dy())*k))
	plane := Features(img, union, pw, ph)
	kx, ky := float64(pw)/float64(union.Dx()), float64(ph)/float64(union.Dy())
	feats := make([][]float64, len(boxes))
	for i, r := range boxes {
		x := make([]float64, m.Width*m.Height)
		sx, sy := float64(r.Dx())/float64(m.Width), float64(r.Dy())/float64(m.Height)
		for v := 0; v < m.Height; v++ {
			py := (float64(r.Min.Y-union.Min.Y)+(float64(v)+0.5)*sy)*ky - 0.5
			for u := 0; u < m.Width; u++ {
				px := (float64(r.Min.X-union.Min.X)+(float64(u)+0.5)*sx)*kx - 0.5
				x[v*m.Width+u] = bilinear(plane, pw, ph, px, py)
			}
		}
		feats[i] = x
	}
	res, err := m.PCA.Residuals(feats)
	if err != nil {
		return f, err
	}
	best := 0
	for i, v := range res {
		if v < res[best] {
			best = i
		}
	}
	r := boxes[best]
	f.Box = [4]int{r.Min.X, r.Min.Y, r.Max.X, r.Max.Y}
	return f, nil
}

// bilinear samples the w×h plane p at (x, y), clamping at the edges.
func bilinear(p []float64, w, h int, x, y float64) float64 {
	x = min(max(x, 0), float64(w-1))
	y = min(max(y, 0), float64(h-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	top := p[y0*w+x0]*(1-fx) + p[y0*w+x1]*fx
	bot := p[y1*w+x0]*(1-fx) + p[y1*w+x1]*fx
	return top*(1-fy) + bot*fy
}
