package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/servebench/servebench/bench/cost"
)

// loadFigurePrefix names the cost-against-load charts, which the headline shows.
const loadFigurePrefix = "cost_load_"

func isLoadFigure(f figure) bool { return strings.HasPrefix(f.Name, loadFigurePrefix) }

var rangeColor = color.NRGBA{R: 160, G: 160, B: 160, A: 70}

// costLoad draws one chart per function: each side's monthly cost against the
// request rate (serverless a line, serverful steps), the break-even marked and
// the rates the run measured shaded.
func (b *plotBuilder) costLoad(ls []Load, prices cost.PriceList) error {
	var fns []string
	for _, l := range ls {
		if !slices.Contains(fns, l.Function) {
			fns = append(fns, l.Function)
		}
	}
	for _, fn := range fns {
		var priced []Load
		var why []string
		for _, l := range ls {
			switch {
			case l.Function != fn:
			case l.Err != "":
				why = append(why, l.Err)
			default:
				priced = append(priced, l)
			}
		}
		if len(priced) == 0 {
			b.skip("cost against load of %s: %s", fn, strings.Join(why, "; "))
			continue
		}
		xmax, lo, hi := 0.0, math.Inf(1), 0.0
		for _, l := range priced {
			xmax = math.Max(xmax, 4*l.PerInstance)
			if l.Found {
				xmax = math.Max(xmax, 1.5*l.Rate)
			}
			if !math.IsNaN(l.RangeLo) {
				xmax = math.Max(xmax, 1.2*l.RangeHi)
				lo, hi = math.Min(lo, l.RangeLo), math.Max(hi, l.RangeHi)
			}
		}
		p := newPlot("request rate, sustained (req/s)", "USD per month")
		p.Legend.Left = true
		ymax := 0.0
		var lines []func() error
		drawn := map[string]bool{}
		for _, l := range priced {
			sl := prices.ServerlessMonthly(l.Curve, xmax)
			ymax = math.Max(ymax, sl)
			if !drawn[l.Serverless] {
				drawn[l.Serverless] = true
				pts := plotter.XYs{{X: 0, Y: 0}, {X: xmax, Y: sl}}
				lines = append(lines, b.curve(p, pts, l.Serverless+" (serverless)", l.Serverless, nil))
			}
			if !drawn[l.Serverful] {
				drawn[l.Serverful] = true
				pts, err := stepCurve(prices, l.Curve, xmax)
				if err != nil {
					return fmt.Errorf("cost against load of %s: %w", fn, err)
				}
				for _, pt := range pts {
					ymax = math.Max(ymax, pt.Y)
				}
				lines = append(lines, b.curve(p, pts, fmt.Sprintf("%s (serverful, %s)", l.Serverful, l.Fleet.InstanceType), l.Serverful, []vg.Length{vg.Points(6), vg.Points(3)}))
			}
		}
		if hi > 0 {
			shade, err := plotter.NewPolygon(plotter.XYs{{X: lo, Y: 0}, {X: hi, Y: 0}, {X: hi, Y: ymax}, {X: lo, Y: ymax}})
			if err != nil {
				return err
			}
			shade.Color, shade.LineStyle.Width = rangeColor, 0
			p.Add(shade)
			p.Legend.Add(fmt.Sprintf("measured %s–%s req/s", rps(lo), rps(hi)), shade)
		}
		for _, add := range lines {
			if err := add(); err != nil {
				return err
			}
		}
		for _, l := range priced {
			if !l.Found {
				continue
			}
			mark, err := plotter.NewLine(plotter.XYs{{X: l.Rate, Y: 0}, {X: l.Rate, Y: l.Monthly}})
			if err != nil {
				return err
			}
			mark.Color, mark.Dashes = color.Black, []vg.Length{vg.Points(2), vg.Points(2)}
			dot, err := plotter.NewScatter(plotter.XYs{{X: l.Rate, Y: l.Monthly}})
			if err != nil {
				return err
			}
			dot.GlyphStyle = draw.GlyphStyle{Color: color.Black, Shape: draw.CircleGlyph{}, Radius: vg.Points(4)}
			p.Add(mark, dot)
			p.Legend.Add(fmt.Sprintf("break-even %s req/s ($%s/month)", rps(l.Rate), fixed(2)(l.Monthly)), dot)
		}
		// Room above the curves for the legend's lines.
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, xmax, 0, 1.3*ymax
		if err := b.add(p, loadFigurePrefix+slug(fn), "Cost against load: "+fn,
			"Monthly cost of each side if a rate were sustained: serverless a line (warm billed time, cold starts amortised, request charges, bucket requests), "+
				"serverful steps (one more instance per measured per-instance capacity, with addresses, root volumes, surplus CPU, ALB and LCUs). "+
				"The dot marks the break-even (the first rate above which serverless stays dearer); the shaded band is the range of rates the run measured. "+
				"Every figure is in the cost against load table."); err != nil {
			return err
		}
	}
	return nil
}

// curve returns what adds pts to p as target's line, in the target's colour:
// the lines go on after the shaded range, so that they are not under it.
func (b *plotBuilder) curve(p *plot.Plot, pts plotter.XYs, name, target string, dashes []vg.Length) func() error {
	return func() error {
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		c := b.colors[target]
		if c == nil {
			c = unknownColor
		}
		l.Color, l.Width, l.Dashes = c, vg.Points(2), dashes
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
}

// stepCurve samples the serverful side's monthly cost from 0 to xmax: evenly,
// and on both sides of every step so that the jumps draw upright.
func stepCurve(prices cost.PriceList, l cost.Load, xmax float64) (plotter.XYs, error) {
	xs := []float64{}
	const n = 200
	for i := 0; i <= n; i++ {
		xs = append(xs, xmax*float64(i)/n)
	}
	eps := xmax * 1e-6
	for k := 1; float64(k)*l.Fleet.PerInstance < xmax; k++ {
		x := float64(k) * l.Fleet.PerInstance
		xs = append(xs, x, x+eps)
	}
	slices.Sort(xs)
	pts := make(plotter.XYs, 0, len(xs))
	for _, x := range xs {
		y, err := prices.ServerfulMonthly(l, x)
		if err != nil {
			return nil, err
		}
		pts = append(pts, plotter.XY{X: x, Y: y})
	}
	return pts, nil
}
