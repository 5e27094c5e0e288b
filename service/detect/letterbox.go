package detect

import (
	"image"
	"image/color"
	"math"
	"runtime"
	"sync"
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
	return letterboxBands(img, dst, letterboxBandsFor(img))
}

// letterboxBandsFor is how many goroutines share the letterbox of img: two when there
// are two CPUs to run them and the image is large enough to repay the goroutine
// (BenchmarkLetterbox measures one against two).
func letterboxBandsFor(img image.Image) int {
	if b := img.Bounds(); runtime.GOMAXPROCS(0) < 2 || b.Dx()*b.Dy() < 64*1024 {
		return 1
	}
	return 2
}

// letterboxBands is letterbox with the output rows split into bands, each resized by
// its own goroutine (with its own row cache and reader).
func letterboxBands(img image.Image, dst []float32, bands int) float64 {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	r := math.Min(float64(InputSize)/float64(sh), float64(InputSize)/float64(sw))
	// int() truncation as in the demo; at least one pixel so that a 1×N image still fits.
	dw := max(1, min(InputSize, int(float64(sw)*r)))
	dh := max(1, min(InputSize, int(float64(sh)*r)))
	pad(dst, dw, dh)

	xofs, xw := resizeTaps(sw, dw, true)
	yofs, yw := resizeTaps(sh, dh, false)
	bands = max(1, min(bands, dh))
	var wg sync.WaitGroup
	// A panic in a band (an odd image's At) is raised again here, where the detector
	// recovers it: in the band's own goroutine it would end the process. And the other
	// bands are waited for even when this goroutine's panics: they write into dst.
	panics := make(chan any, bands)
	defer func() {
		wg.Wait()
		select {
		case p := <-panics:
			panic(p)
		default:
		}
	}()
	for i := 1; i < bands; i++ {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					panics <- p
				}
			}()
			resizeRows(img, dst, xofs, xw, yofs, yw, i*dh/bands, (i+1)*dh/bands)
		})
	}
	resizeRows(img, dst, xofs, xw, yofs, yw, 0, dh/bands)
	return r
}

// pad fills the canvas outside the dw×dh resized image with padValue.
func pad(dst []float32, dw, dh int) {
	const plane = InputSize * InputSize
	for c := range 3 {
		p := dst[c*plane : (c+1)*plane]
		for y := range dh {
			fill(p[y*InputSize+dw:(y+1)*InputSize], padValue)
		}
		fill(p[dh*InputSize:], padValue)
	}
}

func fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

// resizeRows writes output rows [dy0, dy1) of the resized image into dst's planes.
func resizeRows(img image.Image, dst []float32, xofs []int, xw []int32, yofs []int, yw []int32, dy0, dy1 int) {
	const plane = InputSize * InputSize
	dw, sh := len(xofs), img.Bounds().Dy()
	src := newRowReader(img)
	// Horizontally resized source rows (3 values per output column), cached by the parity
	// of the source row: an output row needs rows sy and sy+1, which never share a slot,
	// and consecutive output rows mostly reuse them.
	var (
		rows = [2][]int32{make([]int32, 3*dw), make([]int32, 3*dw)}
		rowY = [2]int{-1, -1}
		buf  = make([]uint8, 3*img.Bounds().Dx())
		taps = byteTaps(xofs, xw, src.step)
	)
	row := func(sy int) []int32 {
		sy = min(max(sy, 0), sh-1)
		out := rows[sy&1]
		if rowY[sy&1] != sy {
			rowY[sy&1] = sy
			hresize(out, src.row(sy, buf), taps)
		}
		return out
	}

	// OpenCV's vertical pass uses its SIMD arithmetic for the whole row once the row fills
	// a vector (the tail by a final overlapping vector), its scalar arithmetic otherwise.
	simd := 3*dw >= 8
	for dy := dy0; dy < dy1; dy++ {
		sy, b0, b1 := yofs[dy], yw[2*dy], yw[2*dy+1]
		r0, r1 := row(sy), row(sy+1)
		out := dy * InputSize
		// The rows hold R, G, B per pixel; the planes go B, G, R.
		pb, pg, pr := dst[out:out+dw], dst[plane+out:plane+out+dw], dst[2*plane+out:2*plane+out+dw]
		r0, r1 = r0[:3*dw], r1[:3*dw]
		if simd {
			for dx := range dw {
				i := 3 * dx
				s0, s1 := r0[i:i+3:i+3], r1[i:i+3:i+3]
				pr[dx] = vlinearSIMD(s0[0], s1[0], b0, b1)
				pg[dx] = vlinearSIMD(s0[1], s1[1], b0, b1)
				pb[dx] = vlinearSIMD(s0[2], s1[2], b0, b1)
			}
			continue
		}
		for dx := range dw {
			i := 3 * dx
			pr[dx] = vlinearScalar(r0[i], r1[i], b0, b1)
			pg[dx] = vlinearScalar(r0[i+1], r1[i+1], b0, b1)
			pb[dx] = vlinearScalar(r0[i+2], r1[i+2], b0, b1)
		}
	}
}

// tap is how one output column reads a source row whose pixels are some bytes apart:
// the byte offsets of its two source pixels and their weights. Where the second has
// no weight it is the first again (the last source pixel's neighbour may not exist).
type tap struct {
	i, j   int
	a0, a1 int32
}

func byteTaps(xofs []int, xw []int32, step int) []tap {
	taps := make([]tap, len(xofs))
	for dx, sx := range xofs {
		t := tap{i: step * sx, j: step * sx, a0: xw[2*dx], a1: xw[2*dx+1]}
		if t.a1 != 0 {
			t.j += step
		}
		taps[dx] = t
	}
	return taps
}

// hresize is the horizontal pass over one source row whose pixels start R, G, B: for
// each output column, its two taps weighted, per channel.
func hresize(out []int32, src []uint8, taps []tap) {
	for dx, t := range taps {
		p, q := src[t.i:t.i+3:t.i+3], src[t.j:t.j+3:t.j+3]
		o := out[3*dx : 3*dx+3 : 3*dx+3]
		o[0] = int32(p[0])*t.a0 + int32(q[0])*t.a1
		o[1] = int32(p[1])*t.a0 + int32(q[1])*t.a1
		o[2] = int32(p[2])*t.a0 + int32(q[2])*t.a1
	}
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

// vlinearSIMD blends two horizontally resized values as OpenCV's SIMD vertical pass
// does: operands pre-shifted by 4, each product truncated to its high 16 bits. The
// result cannot leave 0–255: the weights sum to 2048.
func vlinearSIMD(s0, s1, b0, b1 int32) float32 {
	return float32(((s0>>4)*b0>>16 + (s1>>4)*b1>>16 + 2) >> 2)
}

// vlinearScalar blends them as OpenCV's scalar vertical pass does: exact, rounded.
func vlinearScalar(s0, s1, b0, b1 int32) float32 {
	v := int32((int64(s0)*int64(b0) + int64(s1)*int64(b1) + 1<<(2*coefBits-1)) >> (2 * coefBits))
	return float32(min(max(v, 0), 255))
}

// rowReader reads one row of an image, R, G, B first in each pixel of step bytes:
// RGBA and NRGBA images straight from their pixel buffers (no copy, alpha ignored as
// cv2.imread(IMREAD_COLOR) does), anything else converted into packed RGB (step 3) in
// the buffer given, which has room for 3 bytes per pixel. A reader keeps state between
// calls (image/jpeg's chroma upsampling); one goroutine uses it at a time.
type rowReader struct {
	step int
	row  func(y int, buf []uint8) []uint8
}

func newRowReader(img image.Image) rowReader {
	b := img.Bounds()
	w := b.Dx()
	packed := func(f func(y int, out []uint8)) rowReader {
		return rowReader{3, func(y int, buf []uint8) []uint8 { f(y, buf[:3*w]); return buf[:3*w] }}
	}
	switch m := img.(type) {
	case *image.RGBA:
		return rowReader{4, func(y int, _ []uint8) []uint8 {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			return m.Pix[i : i+4*w]
		}}
	case *image.NRGBA:
		return rowReader{4, func(y int, _ []uint8) []uint8 {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			return m.Pix[i : i+4*w]
		}}
	case *image.YCbCr:
		if f := fancyYCbCrRows(m); f != nil {
			return packed(f)
		}
		return packed(func(y int, out []uint8) {
			y += b.Min.Y
			for i := range w {
				x := b.Min.X + i
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				out[3*i], out[3*i+1], out[3*i+2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		})
	case *image.Gray:
		return packed(func(y int, out []uint8) {
			pix := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for i := range w {
				out[3*i], out[3*i+1], out[3*i+2] = pix[i], pix[i], pix[i]
			}
		})
	default:
		return packed(func(y int, out []uint8) {
			for i := range w {
				r, g, bl, _ := img.At(b.Min.X+i, b.Min.Y+y).RGBA()
				out[3*i], out[3*i+1], out[3*i+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
			}
		})
	}
}
