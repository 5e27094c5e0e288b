package detect

import "image"

// The reference pipeline reads JPEGs with OpenCV, that is libjpeg(-turbo), which
// upsamples subsampled chroma with a triangle filter ("fancy upsampling") and converts
// to RGB with its own rounding. The service decodes with libjpeg-turbo itself when its
// library loads (imagein), and its RGBA pixels need none of this. When it falls back
// to Go's image/jpeg, that decoder keeps the chroma subsampled and
// color.YCbCrToRGB repeats each chroma sample. The difference is worth up to 0.013 in
// the scores of the reference images, so for the 4:2:0, 4:2:2, 4:4:0 and 4:4:4 layouts
// the rows are rebuilt the libjpeg way (jdsample.c h2v2/h2v1/h1v2_fancy_upsample,
// jdcolor.c ycc_rgb_convert); they then match djpeg's output but for Go's IDCT (at most
// 3 levels, on a few percent of values). Other layouts use the per-pixel conversion.

// libjpeg's YCbCr→RGB tables, indexed by the chroma value.
var yccTables = func() (t struct{ crR, cbB, crG, cbG [256]int32 }) {
	const (
		scaleBits = 16
		half      = 1 << (scaleBits - 1)
	)
	fix := func(x float64) int32 { return int32(x*(1<<scaleBits) + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		t.crR[i] = (fix(1.40200)*x + half) >> scaleBits
		t.cbB[i] = (fix(1.77200)*x + half) >> scaleBits
		t.crG[i] = -fix(0.71414) * x
		t.cbG[i] = -fix(0.34414)*x + half
	}
	return t
}()

func clamp8(v int32) uint8 { return uint8(min(max(v, 0), 255)) }

// fancyYCbCrRows returns a row reader reproducing libjpeg's decoded pixels, or nil when m
// is not a layout it handles.
func fancyYCbCrRows(m *image.YCbCr) func(y int, out []uint8) {
	var horizontal, vertical bool
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		horizontal = true
	case image.YCbCrSubsampleRatio440:
		vertical = true
	case image.YCbCrSubsampleRatio420:
		horizontal, vertical = true, true
	default:
		return nil
	}
	// The chroma planes are addressed from the origin, as image/jpeg decodes.
	if m.Rect.Min != (image.Point{}) {
		return nil
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	cw, ch := w, h
	if horizontal {
		cw = (w + 1) / 2
	}
	if vertical {
		ch = (h + 1) / 2
	}
	sumCb := make([]int32, cw)
	sumCr := make([]int32, cw)
	cb := make([]uint8, 2*cw) // upsampled chroma row
	cr := make([]uint8, 2*cw)

	return func(y int, out []uint8) {
		var cbRow, crRow []uint8
		if vertical {
			// Each output row mixes its chroma row (3/4) with the nearest other one
			// (1/4): above for even rows, below for odd ones; edges repeat.
			cy := y / 2
			other := max(cy-1, 0)
			if y%2 == 1 {
				other = min(cy+1, ch-1)
			}
			colSums(sumCb, m.Cb[cy*m.CStride:], m.Cb[other*m.CStride:])
			colSums(sumCr, m.Cr[cy*m.CStride:], m.Cr[other*m.CStride:])
		}
		switch {
		case vertical && horizontal:
			upsampleRow(cb, sumCb, 4, 8, 7)
			upsampleRow(cr, sumCr, 4, 8, 7)
			cbRow, crRow = cb, cr
		case vertical:
			bias := int32(1 + y%2)
			for i := range cw {
				cb[i] = uint8((sumCb[i] + bias) >> 2)
				cr[i] = uint8((sumCr[i] + bias) >> 2)
			}
			cbRow, crRow = cb, cr
		case horizontal:
			cbRow, crRow = m.Cb[y*m.CStride:], m.Cr[y*m.CStride:]
			for i := range cw {
				sumCb[i], sumCr[i] = int32(cbRow[i]), int32(crRow[i])
			}
			upsampleRow(cb, sumCb, 2, 1, 2)
			upsampleRow(cr, sumCr, 2, 1, 2)
			cbRow, crRow = cb, cr
		default:
			cbRow, crRow = m.Cb[y*m.CStride:], m.Cr[y*m.CStride:]
		}
		ys := m.Y[y*m.YStride : y*m.YStride+w]
		cbRow, crRow, out = cbRow[:w], crRow[:w], out[:3*w]
		t := &yccTables
		for x, yv := range ys {
			yy, b, r := int32(yv), cbRow[x], crRow[x]
			o := out[3*x : 3*x+3 : 3*x+3]
			o[0] = clamp8(yy + t.crR[r])
			o[1] = clamp8(yy + (t.cbG[b]+t.crG[r])>>16)
			o[2] = clamp8(yy + t.cbB[b])
		}
	}
}

// colSums weighs two chroma rows 3:1 (libjpeg's vertical triangle filter).
func colSums(dst []int32, near, far []uint8) {
	for i := range dst {
		dst[i] = int32(near[i])*3 + int32(far[i])
	}
}

// upsampleRow doubles a row horizontally, each output weighing its own column 3/4 and
// the nearest other one 1/4 (at the edges the column alone), then shifts right with
// libjpeg's rounding, which differs between even and odd outputs.
func upsampleRow(dst []uint8, src []int32, shift uint, even, odd int32) {
	n := len(src)
	for i, s := range src {
		left, right := s, s
		if i > 0 {
			left = src[i-1]
		}
		if i < n-1 {
			right = src[i+1]
		}
		dst[2*i] = uint8((s*3 + left + even) >> shift)
		dst[2*i+1] = uint8((s*3 + right + odd) >> shift)
	}
}
