package detect

import (
	"cmp"
	"math"
	"slices"
)

// Shape of the YOLOX-nano output: one row per anchor point of the three feature maps
// (strides 8, 16, 32 over a 416 input: 52², 26², 13² = 3549 points), each row being
// x, y, w, h, objectness and the 80 class scores.
const (
	numClasses = len(Labels)
	rowLen     = 5 + numClasses
)

var strides = [...]int{8, 16, 32}

// numAnchors is the number of output rows for a 416×416 input.
const numAnchors = (InputSize/8)*(InputSize/8) + (InputSize/16)*(InputSize/16) + (InputSize/32)*(InputSize/32)

// decode turns the raw network output into detections in the pixels of an image of
// size w×h that was letterboxed with ratio r: grid decode, score = objectness × best
// class score (both already sigmoided by the export) ≥ opt.ScoreThreshold, NMS per class
// at opt.IOUThreshold, boxes scaled back and clipped, best first.
func decode(out []float32, r float64, w, h int, opt Options) []Detection {
	var cands []Detection
	i := 0
	for _, s := range strides {
		n := InputSize / s
		fs := float32(s)
		for gy := range n {
			for gx := range n {
				row := out[i*rowLen : (i+1)*rowLen]
				i++
				obj := row[4]
				if obj < opt.ScoreThreshold { // class scores are ≤ 1, so this row cannot pass
					continue
				}
				cls, best := 0, row[5]
				for c, p := range row[6:] {
					if p > best {
						cls, best = c+1, p
					}
				}
				score := obj * best
				if score < opt.ScoreThreshold {
					continue
				}
				cx := (row[0] + float32(gx)) * fs
				cy := (row[1] + float32(gy)) * fs
				bw := float32(math.Exp(float64(row[2]))) * fs
				bh := float32(math.Exp(float64(row[3]))) * fs
				inv := float32(1 / r)
				cands = append(cands, Detection{
					Label:   Labels[cls],
					ClassID: cls,
					Score:   score,
					Box: [4]float32{
						(cx - bw/2) * inv, (cy - bh/2) * inv,
						(cx + bw/2) * inv, (cy + bh/2) * inv,
					},
				})
			}
		}
	}
	dets := nms(cands, opt.IOUThreshold)
	for k := range dets {
		clip(&dets[k].Box, float32(w), float32(h))
	}
	return dets
}

// nms keeps, class by class, the best-scoring boxes and drops any box overlapping an
// already kept box of the same class by more than iou. The result is sorted by score,
// best first (ties keep their input order).
func nms(cands []Detection, iou float32) []Detection {
	slices.SortStableFunc(cands, func(a, b Detection) int { return cmp.Compare(b.Score, a.Score) })
	kept := cands[:0:0]
	for _, c := range cands {
		ok := true
		for _, k := range kept {
			if k.ClassID == c.ClassID && boxIoU(k.Box, c.Box) > iou {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, c)
		}
	}
	return kept
}

// boxIoU is the intersection over union of two x1,y1,x2,y2 boxes.
func boxIoU(a, b [4]float32) float32 {
	iw := min(a[2], b[2]) - max(a[0], b[0])
	ih := min(a[3], b[3]) - max(a[1], b[1])
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

func clip(b *[4]float32, w, h float32) {
	for k := range b {
		lim := w
		if k%2 == 1 {
			lim = h
		}
		b[k] = min(max(b[k], 0), lim)
	}
}
