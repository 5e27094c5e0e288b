package report

import (
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/stats"
)

// Sweep is a serverless target's function measured at several memory sizes (its
// answers' server.memory_mb), as AWS Lambda Power Tuning measures one, priced
// against the serverful fleets.
type Sweep struct {
	Target, Function string
	Kind             cost.Kind
	Points           []SweepPoint // by memory size
	Serverful        []SweepLine  // the alternative, one per serverful target
}

// SweepPoint is one memory size of a sweep: warm latency and cost.
type SweepPoint struct {
	MemoryMB int
	Warm     int     // successful warm requests at this size
	P50, P90 float64 // their client time, ms; NaN without any
	// Per1000 is USD per 1,000 of these warm requests, from each one's billed
	// time; NaN when not priced (Basis says why).
	Per1000 float64
	// FromPlatform of the priced durations were the platform's billed ms
	// (platform_report); the rest the measured server time (+ init).
	FromPlatform, Priced int
	Basis                string
}

// SweepLine is a serverful target's cost per 1,000 requests of the same function
// at the highest throughput it sustained in a scenario.
type SweepLine struct {
	Target, Scenario string
	Rate, Per1000    float64 // req/s, USD
}

// sweeps finds every (serverless target, function) answered at more than one
// memory size and measures each size. Only warm requests count (a sweep
// compares steady-state speed and price, as Power Tuning does); mislabelled
// ones are left out as everywhere.
func sweeps(g *grouping, pr pricing, cs []Comparison) []Sweep {
	var out []Sweep
	for _, t := range g.targets() {
		kind := pr.kinds[t]
		if kind != cost.Lambda && kind != cost.CloudFunctions {
			continue
		}
		byFn := map[string]map[int][]results.Record{}
		var fns []string
		for _, r := range g.sel("", t, "") {
			if !r.OK() || r.MemoryMB <= 0 {
				continue
			}
			if byFn[r.Function] == nil {
				byFn[r.Function] = map[int][]results.Record{}
				fns = append(fns, r.Function)
			}
			sizes := byFn[r.Function]
			if _, ok := sizes[r.MemoryMB]; !ok {
				sizes[r.MemoryMB] = nil // a size seen, even if with no warm request
			}
			if heat(g.startOf(r)) == "warm" {
				sizes[r.MemoryMB] = append(sizes[r.MemoryMB], r)
			}
		}
		for _, fn := range fns {
			if len(byFn[fn]) < 2 {
				continue
			}
			sw := Sweep{Target: t, Function: fn, Kind: kind, Serverful: serverfulLines(cs, fn)}
			for _, mb := range slices.Sorted(maps.Keys(byFn[fn])) {
				sw.Points = append(sw.Points, sweepPoint(pr.prices, kind, mb, byFn[fn][mb]))
			}
			out = append(out, sw)
		}
	}
	return out
}

func sweepPoint(prices cost.PriceList, kind cost.Kind, mb int, warm []results.Record) SweepPoint {
	p := SweepPoint{MemoryMB: mb, Warm: len(warm), P50: nan, P90: nan, Per1000: nan}
	client, _ := measures(warm)
	if len(client) > 0 {
		s := stats.Summarize(client)
		p.P50, p.P90 = s.P50, s.P90
	}
	var billed []float64
	for _, r := range warm {
		switch {
		case r.PlatformReport != nil:
			p.FromPlatform++
		case r.ServerMS <= 0:
			continue // nothing to price it on
		}
		billed = append(billed, billedMS(r))
	}
	p.Priced = len(billed)
	per, err := prices.ServerlessPerRequest(kind, mb, billed)
	if err != nil {
		p.Basis = "not priced: " + err.Error()
		return p
	}
	p.Per1000 = per * 1000
	switch p.FromPlatform {
	case p.Priced:
		p.Basis = fmt.Sprintf("platform billed ms (platform_report) of %d warm requests", p.Priced)
	case 0:
		p.Basis = fmt.Sprintf("measured duration (server total; no platform_report) of %d warm requests", p.Priced)
	default:
		p.Basis = fmt.Sprintf("%d of %d warm requests on platform billed ms, the rest on measured duration", p.FromPlatform, p.Priced)
	}
	return p
}

// serverfulLines is each serverful target's cost per 1,000 requests of fn at the
// highest throughput it sustained in any scenario: the fleet at its best.
func serverfulLines(cs []Comparison, fn string) []SweepLine {
	var out []SweepLine
	for _, c := range cs {
		if c.Function != fn {
			continue
		}
		for _, s := range c.Sides {
			if s.Kind != cost.Serverful || math.IsNaN(s.Per1000) {
				continue
			}
			i := slices.IndexFunc(out, func(l SweepLine) bool { return l.Target == s.Target })
			l := SweepLine{Target: s.Target, Scenario: c.Scenario, Rate: s.Sustained, Per1000: s.Per1000}
			switch {
			case i < 0:
				out = append(out, l)
			case s.Sustained > out[i].Rate:
				out[i] = l
			}
		}
	}
	return out
}

func sweepTable(sws []Sweep) table {
	t := table{
		Name:  "memory_sweep",
		Title: "Memory sweep: warm latency and cost per memory size",
		Note: "Per serverless target and function answered at several memory sizes (server.memory_mb): warm requests' client time (exact percentiles) and cost per 1,000 of them, " +
			"from the platform's billed milliseconds where it reported them, else from the measured duration (basis says which). " +
			"Serverful rows: the fleet's cost per 1,000 requests of the same function at the highest throughput it sustained (the chart's horizontal line).",
		Cols: []column{
			{"target", nil}, {"function", nil}, {"memory_mb", mbFn}, {"warm_n", nil},
			{"warm_p50_ms", ms1}, {"warm_p90_ms", ms1}, {"usd_per_1000", dollars}, {"basis", nil},
		},
	}
	for _, sw := range sws {
		for _, p := range sw.Points {
			t.Rows = append(t.Rows, []any{sw.Target, sw.Function, float64(p.MemoryMB), p.Warm, p.P50, p.P90, p.Per1000, p.Basis})
		}
		for _, l := range sw.Serverful {
			t.Rows = append(t.Rows, []any{l.Target, sw.Function, nan, dash, nan, nan, l.Per1000,
				fmt.Sprintf("serverful fleet at its measured %.3g req/s (%s)", l.Rate, l.Scenario)})
		}
	}
	return t
}

// sweepCharts draws each sweep as Power Tuning does — speed and cost against
// memory size — with the serverful fleets' cost as horizontal lines: warm p50 and
// p90 above, cost per 1,000 below, on one memory axis.
func (b *plotBuilder) sweepCharts(sws []Sweep) error {
	for _, sw := range sws {
		var sizes []float64
		var ticks []plot.Tick
		lat50, lat90, usd := plotter.XYs{}, plotter.XYs{}, plotter.XYs{}
		for _, p := range sw.Points {
			x := float64(p.MemoryMB)
			sizes = append(sizes, x)
			ticks = append(ticks, plot.Tick{Value: x, Label: strconv.Itoa(p.MemoryMB)})
			if !math.IsNaN(p.P50) {
				lat50 = append(lat50, plotter.XY{X: x, Y: p.P50})
				lat90 = append(lat90, plotter.XY{X: x, Y: p.P90})
			}
			if !math.IsNaN(p.Per1000) {
				usd = append(usd, plotter.XY{X: x, Y: p.Per1000})
			}
		}
		if len(lat50) == 0 && len(usd) == 0 {
			b.skip("memory sweep of %s %s: no warm request at any size", sw.Target, sw.Function)
			continue
		}
		top := newPlot("", "warm client time (ms)")
		c := b.colors[sw.Target]
		for _, l := range []struct {
			name string
			pts  plotter.XYs
			dash []vg.Length
		}{{"p50", lat50, nil}, {"p90", lat90, []vg.Length{vg.Points(4), vg.Points(3)}}} {
			if err := addLinePoints(top, sw.Target+" "+l.name, l.pts, c, l.dash); err != nil {
				return err
			}
		}
		bottom := newPlot("memory (MB)", "USD per 1,000 requests")
		if err := addLinePoints(bottom, sw.Target, usd, c, nil); err != nil {
			return err
		}
		lo, hi := slices.Min(sizes), slices.Max(sizes)
		pad := 0.05 * (hi - lo)
		for _, l := range sw.Serverful {
			line, err := plotter.NewLine(plotter.XYs{{X: lo - pad, Y: l.Per1000}, {X: hi + pad, Y: l.Per1000}})
			if err != nil {
				return err
			}
			line.Color, line.Width, line.Dashes = b.colors[l.Target], vg.Points(1.5), []vg.Length{vg.Points(6), vg.Points(3)}
			bottom.Add(line)
			bottom.Legend.Add(fmt.Sprintf("%s fleet at %.3g req/s", l.Target, l.Rate), line)
		}
		for _, p := range []*plot.Plot{top, bottom} {
			p.X.Tick.Marker = plot.ConstantTicks(ticks)
			p.X.Min, p.X.Max = lo-pad, hi+pad
			p.Y.Min = 0
			p.Y.Max *= 1.15 // headroom for the legend
		}
		top.Title.Text = fmt.Sprintf("Memory sweep: %s %s", sw.Target, sw.Function)
		plots := [][]*plot.Plot{{top}, {bottom}}
		png, svg, err := renderWith(figW, 1.6*figH, func(dc draw.Canvas) {
			canvases := plot.Align(plots, draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Points(6)}, dc)
			top.Draw(canvases[0][0])
			bottom.Draw(canvases[1][0])
		})
		if err != nil {
			return fmt.Errorf("memory sweep of %s %s: %w", sw.Target, sw.Function, err)
		}
		b.figs = append(b.figs, figure{
			Name: slug("sweep", sw.Target, sw.Function), Title: top.Title.Text, PNG: png, SVG: svg,
			Caption: "Warm client time (p50, p90) and cost per 1,000 warm requests at each memory size, as AWS Lambda Power Tuning draws them, " +
				"against the serverful fleet's cost per 1,000 at its measured throughput (dashed); the numbers are in the memory sweep table.",
		})
	}
	return nil
}

// addLinePoints adds pts to p as a line with its points marked, if there are any.
func addLinePoints(p *plot.Plot, name string, pts plotter.XYs, c color.Color, dashes []vg.Length) error {
	if len(pts) == 0 {
		return nil
	}
	l, sc, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	l.Color, l.Width, l.Dashes = c, vg.Points(1.5), dashes
	sc.GlyphStyle = draw.GlyphStyle{Color: c, Shape: draw.CircleGlyph{}, Radius: vg.Points(3)}
	p.Add(l, sc)
	p.Legend.Add(name, l, sc)
	return nil
}
