// Package annotate draws detections onto an image: a box in a colour of the class,
// and a filled tag above it with the label and score.
package annotate

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/servebench/servebench/service/detect"
)

// palette holds well-separated, saturated colours; a class keeps its colour.
var palette = []color.RGBA{
	{230, 25, 75, 255}, {60, 180, 75, 255}, {255, 225, 25, 255}, {0, 130, 200, 255},
	{245, 130, 48, 255}, {145, 30, 180, 255}, {70, 240, 240, 255}, {240, 50, 230, 255},
	{210, 245, 60, 255}, {250, 190, 212, 255}, {0, 128, 128, 255}, {170, 110, 40, 255},
}

// Color is the colour boxes of classID are drawn in.
func Color(classID int) color.RGBA {
	if classID < 0 {
		classID = -classID
	}
	return palette[classID%len(palette)]
}

// Draw returns a new RGBA image: src with every detection drawn on it. src is not
// changed.
func Draw(src image.Image, dets []detect.Detection) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
	DrawOn(dst, dets)
	return dst
}

// DrawOn draws every detection onto img itself, saving Draw's copy when the caller has
// no further use for the image as it was. Boxes are in pixels from img's top-left
// corner, as the detector gives them. Lines are thicker on larger images so boxes stay
// visible.
func DrawOn(img *image.RGBA, dets []detect.Detection) {
	b := img.Bounds()
	thick := max(2, min(b.Dx(), b.Dy())/200)
	face := basicfont.Face7x13
	for _, d := range dets {
		c := Color(d.ClassID)
		r := image.Rect(int(d.Box[0]), int(d.Box[1]), int(d.Box[2]), int(d.Box[3])).Add(b.Min).Intersect(b)
		if r.Empty() {
			continue
		}
		outline(img, r, thick, c)
		tag(img, r, fmt.Sprintf("%s %.2f", d.Label, d.Score), face, c)
	}
}

// outline draws a rectangle border of width thick inside r.
func outline(dst *image.RGBA, r image.Rectangle, thick int, c color.RGBA) {
	u := image.NewUniform(c)
	t := min(thick, r.Dx()/2+1, r.Dy()/2+1)
	for _, side := range []image.Rectangle{
		{r.Min, image.Pt(r.Max.X, r.Min.Y+t)},
		{image.Pt(r.Min.X, r.Max.Y-t), r.Max},
		{r.Min, image.Pt(r.Min.X+t, r.Max.Y)},
		{image.Pt(r.Max.X-t, r.Min.Y), r.Max},
	} {
		draw.Draw(dst, side, u, image.Point{}, draw.Src)
	}
}

// tag draws text on a filled box of colour c above r's top-left corner, or just
// inside the box when there is no room above.
func tag(dst *image.RGBA, r image.Rectangle, text string, face font.Face, c color.RGBA) {
	m := face.Metrics()
	h := (m.Ascent + m.Descent).Ceil() + 2
	w := font.MeasureString(face, text).Ceil() + 4
	top := r.Min.Y - h
	if top < dst.Bounds().Min.Y {
		top = r.Min.Y
	}
	box := image.Rect(r.Min.X, top, r.Min.X+w, top+h).Intersect(dst.Bounds())
	draw.Draw(dst, box, image.NewUniform(c), image.Point{}, draw.Src)
	ink := color.Black
	if int(c.R)*299+int(c.G)*587+int(c.B)*114 < 128*1000 { // dark background: white text
		ink = color.White
	}
	d := font.Drawer{Dst: dst, Src: image.NewUniform(ink), Face: face,
		Dot: fixed.P(r.Min.X+2, top+1+m.Ascent.Ceil())}
	d.DrawString(text)
}
