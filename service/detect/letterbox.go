package detect

import (
	"image"
	"image/color"
	"math"
)

// InputSize is the side of the square network input.
const InputSize = 416

// padValue fills the letterbox canvas outside the resized image, as the YOLOX demo does.
const padValue = 114

// The resize is OpenCV's fixed-point INTER_LINEAR for 8-bit images, reproduced to the
// last bit (checked against cv2.resize of OpenCV 4.6): weights of 11 bits per axis,
// computed in float32 and rounded half to even; a horizontal pass in int32; then a
// vertical pass that, for all but the last few values of a row, takes OpenCV's SIMD
// route (pre-shifted operands and truncating products, 16 or 8 values at a time) and
// for the rest its exact rounding. The truncations matter: a plain rounded bilinear is
// one level brighter on about a tenth of the values, which moves box edges by pixels.
const (
	coefBits  = 11
	coefScale = 1 << coefBits
)

// letterbox scales img by r = min(416/h, 416/w) into the top-left corner of a 416×416
// canvas filled with 114 and writes it to dst (len 3·416·416) as planar BGR float32 in
// 0–255, the input layout of the YOLOX ONNX export. It returns r, by which the
// network's boxes are divided to get back to the pixels of img.
//
// The resize is OpenCV's INTER_LINEAR, the one the official YOLOX demo uses: each output
// pixel samples the source at (d+0.5)·src/dst−0.5 with 2×2 bilinear weights and no
// smoothing when shrinking. x/image/draw.BiLinear smooths when it shrinks, which moves
// the scores by up to 0.03; see the package tests.
func letterbox(img image.Image, dst []float32) float64 {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	r := math.Min(float64(InputSize)/float64(sh), float64(InputSize)/float64(sw))
	// int() truncation as in the demo; at least one pixel so that a 1×N image still fits.
	dw := max(1, min(InputSize, int(float64(sw)*r)))
	dh := max(1, min(InputSize, int(float64(sh)*r)))

	const plane = InputSize * InputSize
	for i := range dst[:3*plane] {
		dst[i] = padValue
	}

	xofs, xw := resizeTaps(sw, dw, true)
	yofs, yw := resizeTaps(sh, dh, false)
	src := newRowReader(img)

	// Horizontally resized source rows (3 values per output column), cached by the parity
	// of the source row: an output row needs rows sy and sy+1, which never share a slot,
	// and consecutive output rows mostly reuse them.
	var (
		rows   = [2][]int32{make([]int32, 3*dw), make([]int32, 3*dw)}
		rowY   = [2]int{-1, -1}
		srcRow = make([]uint8, 3*sw)
	)
	row := func(sy int) []int32 {
		sy = min(max(sy, 0), sh-1)
		out := rows[sy&1]
		if rowY[sy&1] == sy {
			return out
		}
		rowY[sy&1] = sy
		src.row(sy, srcRow)
		for dx := range dw {
			sx, a0, a1 := xofs[dx], xw[2*dx], xw[2*dx+1]
			p := srcRow[3*sx : 3*sx+3 : 3*sx+3]
			q := p // the next pixel, when it has any weight (the last one may not exist)
			if a1 != 0 {
				q = srcRow[3*sx+3 : 3*sx+6 : 3*sx+6]
			}
			o := out[3*dx : 3*dx+3 : 3*dx+3]
			o[0] = int32(p[0])*a0 + int32(q[0])*a1
			o[1] = int32(p[1])*a0 + int32(q[1])*a1
			o[2] = int32(p[2])*a0 + int32(q[2])*a1
		}
		return out
	}

	// OpenCV's vertical pass uses its SIMD arithmetic for the whole row once the row fills
	// a vector (the tail by a final overlapping vector), its scalar arithmetic otherwise.
	simd := 3*dw >= 8
	for dy := range dh {
		sy, b0, b1 := yofs[dy], yw[2*dy], yw[2*dy+1]
		r0, r1 := row(sy), row(sy+1)
		out := dy * InputSize
		// The rows hold R, G, B per pixel; the planes go B, G, R.
		pb, pg, pr := dst[out:out+dw], dst[plane+out:plane+out+dw], dst[2*plane+out:2*plane+out+dw]
		for dx := range dw {
			i := 3 * dx
			pr[dx] = vlinear(simd, r0[i], r1[i], b0, b1)
			pg[dx] = vlinear(simd, r0[i+1], r1[i+1], b0, b1)
			pb[dx] = vlinear(simd, r0[i+2], r1[i+2], b0, b1)
		}
	}
	return r
}

// resizeTaps gives, for each of n output positions along an axis of src source pixels,
// the first source index and the two fixed-point weights, as OpenCV computes them: the
// sampling point (d+0.5)·src/n−0.5 in float32, clamped to the edges along x only (along y
// OpenCV clamps the row indexes instead, which weighs the same row twice).
func resizeTaps(src, n int, clampEdges bool) (ofs []int, w []int32) {
	ofs = make([]int, n)
	w = make([]int32, 2*n)
	scale := 1 / (float64(n) / float64(src))
	for d := range n {
		f := float32((float64(d)+0.5)*scale - 0.5)
		s := int(math.Floor(float64(f)))
		f -= float32(s)
		if clampEdges && s < 0 {
			s, f = 0, 0
		}
		if clampEdges && s >= src-1 {
			s, f = src-1, 0
		}
		ofs[d] = s
		w[2*d] = int32(math.RoundToEven(float64((1 - f) * coefScale)))
		w[2*d+1] = int32(math.RoundToEven(float64(f * coefScale)))
	}
	return ofs, w
}

// vlinear blends two horizontally resized values as OpenCV's vertical pass does: with
// simd, its SIMD arithmetic (operands pre-shifted by 4, each product truncated to its
// high 16 bits), else its scalar one (exact, rounded).
func vlinear(simd bool, s0, s1, b0, b1 int32) float32 {
	var v int32
	if simd {
		v = ((s0>>4)*b0>>16 + (s1>>4)*b1>>16 + 2) >> 2
	} else {
		v = int32((int64(s0)*int64(b0) + int64(s1)*int64(b1) + 1<<(2*coefBits-1)) >> (2 * coefBits))
	}
	return float32(min(max(v, 0), 255))
}

// rowReader reads one row of an image as packed RGB bytes. The common decoder outputs get
// direct access to their pixel buffers; anything else goes through image.Image.At.
type rowReader struct {
	row func(y int, out []uint8)
}

func newRowReader(img image.Image) rowReader {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.YCbCr:
		if f := fancyYCbCrRows(m); f != nil {
			return rowReader{f}
		}
		return rowReader{func(y int, out []uint8) {
			y += b.Min.Y
			for i := range b.Dx() {
				x := b.Min.X + i
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				out[3*i], out[3*i+1], out[3*i+2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}}
	case *image.RGBA:
		return rowReader{func(y int, out []uint8) { packRGBA(m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):], out) }}
	case *image.NRGBA:
		// Alpha is ignored, as cv2.imread(IMREAD_COLOR) does.
		return rowReader{func(y int, out []uint8) { packRGBA(m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):], out) }}
	case *image.Gray:
		return rowReader{func(y int, out []uint8) {
			pix := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for i := range b.Dx() {
				out[3*i], out[3*i+1], out[3*i+2] = pix[i], pix[i], pix[i]
			}
		}}
	default:
		return rowReader{func(y int, out []uint8) {
			for i := range b.Dx() {
				r, g, bl, _ := img.At(b.Min.X+i, b.Min.Y+y).RGBA()
				out[3*i], out[3*i+1], out[3*i+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
			}
		}}
	}
}

func packRGBA(pix, out []uint8) {
	for i := range len(out) / 3 {
		out[3*i], out[3*i+1], out[3*i+2] = pix[4*i], pix[4*i+1], pix[4*i+2]
	}
}
