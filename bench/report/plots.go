package report

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/bench/stats"
)

// figure is one graph in both formats.
type figure struct {
	Name, Title, Caption string
	PNG, SVG             []byte
}

const (
	figW = 8 * vg.Inch
	figH = 4.5 * vg.Inch
)

var (
	coldColor    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	warmColor    = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	unknownColor = color.RGBA{R: 127, G: 127, B: 127, A: 255}
)

// render draws p as PNG and SVG.
func render(p *plot.Plot) (png, svg []byte, err error) {
	return renderWith(figW, figH, p.Draw)
}

// renderWith draws a w × h figure as PNG and SVG with drawFn.
func renderWith(w, h vg.Length, drawFn func(draw.Canvas)) (png, svg []byte, err error) {
	for _, f := range []struct {
		format string
		out    *[]byte
	}{{"png", &png}, {"svg", &svg}} {
		c, err := draw.NewFormattedCanvas(w, h, f.format)
		if err != nil {
			return nil, nil, err
		}
		drawFn(draw.New(c))
		var b bytes.Buffer
		if _, err := c.WriteTo(&b); err != nil {
			return nil, nil, err
		}
		*f.out = b.Bytes()
	}
	return png, svg, nil
}

// slug makes a file-name part from a name: lower case, [a-z0-9-] only.
func slug(parts ...string) string {
	var out []string
	for _, s := range parts {
		if s == "" {
			continue
		}
		s = strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				return r
			case r >= 'A' && r <= 'Z':
				return r + 'a' - 'A'
			}
			return '-'
		}, s)
		out = append(out, strings.Trim(s, "-"))
	}
	return strings.Join(out, "_")
}

// plotter builds the run's figures.
type plotBuilder struct {
	h       results.Header
	g       *grouping
	samples []results.Sample
	t0      time.Time
	colors  map[string]color.Color // target → color, the same in every graph
	figs    []figure
	skipped []string
}

// figures draws every graph the data allows and names the ones it skipped.
func figures(ctx context.Context, h results.Header, g *grouping, samples []results.Sample, sweeps []Sweep, loads []Load, prices cost.PriceList) ([]figure, []string, error) {
	b := &plotBuilder{h: h, g: g, samples: samples, t0: runStart(h, g, samples), colors: map[string]color.Color{}}
	for i, t := range g.targets() {
		b.colors[t] = plotutil.Color(i)
	}
	steps := []func() error{func() error { return b.costLoad(loads, prices) }, b.batchBars, b.timelines, b.cdfs, b.coldWarm, b.stages, b.instances, func() error { return b.sweepCharts(sweeps) }}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if err := step(); err != nil {
			return nil, nil, fmt.Errorf("graph: %w", err)
		}
	}
	return b.figs, b.skipped, nil
}

func (b *plotBuilder) add(p *plot.Plot, name, title, caption string) error {
	p.Title.Text = title
	// Headroom above the data for the legend; time axes start at zero.
	p.Y.Min = math.Min(0, p.Y.Min)
	p.Y.Max += 0.15 * (p.Y.Max - p.Y.Min)
	png, svg, err := render(p)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	b.figs = append(b.figs, figure{Name: name, Title: title, Caption: caption, PNG: png, SVG: svg})
	return nil
}

func (b *plotBuilder) skip(format string, args ...any) {
	b.skipped = append(b.skipped, "graph skipped: "+fmt.Sprintf(format, args...))
}

// runStart is the origin of the time axes: the header's start, or the first
// request or sample if earlier.
func runStart(h results.Header, g *grouping, samples []results.Sample) time.Time {
	t0 := h.Started
	for _, gr := range g.groups {
		if t0.IsZero() || gr.From.Before(t0) {
			t0 = gr.From
		}
	}
	for _, s := range samples {
		if t0.IsZero() || s.Time.Before(t0) {
			t0 = s.Time
		}
	}
	return t0
}

// scenarioFunctions yields each (scenario, function) with the name suffix to use:
// the function only when the scenario has several.
func (b *plotBuilder) scenarioFunctions(match func(scenario string) bool, f func(scenario, function, suffix string) error) error {
	for _, s := range b.g.scenarios {
		if !match(s) {
			continue
		}
		_, fns := b.g.pairs(s)
		for _, fn := range fns {
			suffix := ""
			if len(fns) > 1 {
				suffix = fn
			}
			if err := f(s, fn, suffix); err != nil {
				return err
			}
		}
	}
	return nil
}

func newPlot(x, y string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

// batchBars is the YOLO study's figure: mean client time per batch, the targets'
// bars side by side.
func (b *plotBuilder) batchBars() error {
	found := false
	err := b.scenarioFunctions(func(s string) bool { return strings.Contains(s, "batch") }, func(s, fn, suffix string) error {
		found = true
		targets, _ := b.g.pairs(s)
		var groups []string
		for _, gr := range b.g.groups {
			if gr.Scenario == s && gr.Function == fn && !slices.Contains(groups, gr.Group) {
				groups = append(groups, gr.Group)
			}
		}
		p := newPlot("batch", "mean client time (ms)")
		w := vg.Points(math.Min(40, 300/float64(len(groups)*len(targets))))
		for i, t := range targets {
			vals := make(plotter.Values, len(groups))
			for j, name := range groups {
				for _, gr := range b.g.groups {
					if gr.Scenario == s && gr.Function == fn && gr.Target == t && gr.Group == name && gr.Client.N > 0 {
						vals[j] = gr.Client.Mean
					}
				}
			}
			bars, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return err
			}
			bars.Color = b.colors[t]
			bars.LineStyle.Width = 0
			bars.Offset = w * vg.Length(float64(i)-float64(len(targets)-1)/2)
			p.Add(bars)
			p.Legend.Add(t, bars)
		}
		names := make([]string, len(groups))
		for i, gname := range groups {
			names[i] = "batch " + gname
		}
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
		return b.add(p, slug(s, suffix), fmt.Sprintf("Mean response per batch: %s %s", s, fn),
			"Mean client time of the successful requests of each batch, targets side by side (the YOLO study's bar chart).")
	})
	if err == nil && !found {
		b.skip("bar chart per batch: the run has no batches scenario")
	}
	return err
}

// timelines are the YOLO study's scatter plots: each request's client time over
// the run, one graph per target, cold points marked.
func (b *plotBuilder) timelines() error {
	for _, t := range b.g.targets() {
		byTemp := map[string]plotter.XYs{}
		for _, r := range b.g.sel("", t, "") {
			if !r.OK() {
				continue
			}
			k := temperature(r)
			byTemp[k] = append(byTemp[k], plotter.XY{X: start(r).Sub(b.t0).Seconds(), Y: r.ClientMS})
		}
		p := newPlot("time since run start (s)", "client time (ms)")
		for _, k := range []struct {
			name  string
			c     color.Color
			shape draw.GlyphDrawer
		}{{"warm", warmColor, draw.CircleGlyph{}}, {"unknown", unknownColor, draw.RingGlyph{}}, {"cold", coldColor, draw.TriangleGlyph{}}} {
			if len(byTemp[k.name]) == 0 {
				continue
			}
			sc, err := plotter.NewScatter(byTemp[k.name])
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: k.c, Shape: k.shape, Radius: vg.Points(2.5)}
			if k.name == "cold" {
				sc.GlyphStyle.Radius = vg.Points(4)
			}
			p.Add(sc)
			p.Legend.Add(fmt.Sprintf("%s (%d)", k.name, len(byTemp[k.name])), sc)
		}
		if len(byTemp) == 0 {
			b.skip("response time over the run for %s: no successful request", t)
			continue
		}
		pad := 0.02 * math.Max(p.X.Max-p.X.Min, 1)
		p.X.Min, p.X.Max = p.X.Min-pad, p.X.Max+pad
		if err := b.add(p, slug("timeline", t), "Response time over the run: "+t,
			"Each successful request's client time by when it was sent; cold starts (as the service reported them) are red triangles."); err != nil {
			return err
		}
	}
	return nil
}

// cdfs draw the distribution of client time per target.
func (b *plotBuilder) cdfs() error {
	return b.scenarioFunctions(func(string) bool { return true }, func(s, fn, suffix string) error {
		targets, _ := b.g.pairs(s)
		p := newPlot("client time (ms)", "fraction of requests ≤ x")
		p.Legend.Top, p.Legend.Left = false, false
		n := 0
		for _, t := range targets {
			xs, _ := measures(b.g.sel(s, t, fn))
			if len(xs) == 0 {
				continue
			}
			slices.Sort(xs)
			pts := make(plotter.XYs, 0, 2*len(xs))
			for i, x := range xs {
				pts = append(pts, plotter.XY{X: x, Y: float64(i) / float64(len(xs))}, plotter.XY{X: x, Y: float64(i+1) / float64(len(xs))})
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return err
			}
			l.Color, l.Width = b.colors[t], vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(t, l)
			n++
		}
		if n == 0 {
			b.skip("latency CDF of %s %s: no successful request", s, fn)
			return nil
		}
		return b.add(p, slug("cdf", s, suffix), fmt.Sprintf("Latency CDF: %s %s", s, fn),
			"Empirical distribution of the client time of successful requests, per target.")
	})
}

// coldWarm compares cold and warm requests' mean client and server time per
// function, one graph per target.
func (b *plotBuilder) coldWarm() error {
	drew := false
	for _, t := range b.g.targets() {
		type cat struct{ fn, measure string }
		var cats []cat
		means := map[string][]float64{}
		recs := b.g.sel("", t, "")
		var fns []string
		for _, r := range recs {
			if !slices.Contains(fns, r.Function) {
				fns = append(fns, r.Function)
			}
		}
		hasCold := false
		for _, fn := range fns {
			for _, m := range []string{Client, Server} {
				var vals [2]float64
				n := 0
				for i, temp := range []string{"cold", "warm"} {
					var sel []results.Record
					for _, r := range recs {
						// Mislabelled requests count in neither.
						if r.Function == fn && heat(b.g.startOf(r)) == temp {
							sel = append(sel, r)
						}
					}
					c, s := measures(sel)
					xs := c
					if m == Server {
						xs = s
					}
					if len(xs) > 0 {
						vals[i] = stats.Mean(xs)
						n++
						if temp == "cold" {
							hasCold = true
						}
					}
				}
				if n == 0 {
					continue
				}
				cats = append(cats, cat{fn, m})
				means["cold"] = append(means["cold"], vals[0])
				means["warm"] = append(means["warm"], vals[1])
			}
		}
		if !hasCold || len(cats) == 0 {
			continue
		}
		drew = true
		p := newPlot("", "mean time (ms)")
		w := vg.Points(math.Min(40, 250/float64(2*len(cats))))
		for i, temp := range []string{"cold", "warm"} {
			bars, err := plotter.NewBarChart(plotter.Values(means[temp]), w)
			if err != nil {
				return err
			}
			bars.Color = map[string]color.Color{"cold": coldColor, "warm": warmColor}[temp]
			bars.LineStyle.Width = 0
			bars.Offset = w * vg.Length(float64(i)-0.5)
			p.Add(bars)
			p.Legend.Add(temp, bars)
		}
		names := make([]string, len(cats))
		for i, c := range cats {
			names[i] = c.fn + " " + c.measure
		}
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.5, float64(len(cats))-0.5
		if err := b.add(p, slug("coldwarm", t), "Cold vs warm: "+t,
			"Mean client and server time of cold and warm requests per function, cold/warm as the service reported it; requests that contradict their burst's label (mislabelled) are in neither."); err != nil {
			return err
		}
	}
	if !drew {
		b.skip("cold vs warm: no request was reported cold")
	}
	return nil
}

// stages stacks the server's stage means per target, function and cold/warm.
func (b *plotBuilder) stages() error {
	rows, stages := stageMeans(b.g)
	if len(rows) == 0 {
		b.skip("server stage breakdown: no request reported timings")
		return nil
	}
	p := newPlot("", "mean server time (ms)")
	p.Legend.Top, p.Legend.Left = true, true
	w := vg.Points(math.Min(50, 350/float64(len(rows))))
	var below *plotter.BarChart
	for i, s := range stages {
		vals := make(plotter.Values, len(rows))
		for j, r := range rows {
			vals[j] = r.means[s]
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		if below != nil {
			bars.StackOn(below)
		}
		below = bars
		p.Add(bars)
		p.Legend.Add(s, bars)
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = fmt.Sprintf("%s\n%s\n%s", r.target, r.function, r.temp)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(rows))-0.5
	return b.add(p, "stages", "Server stage breakdown",
		"Mean milliseconds per stage from timings_ms (init: instance start-up, cold requests only).")
}

// instances draws the instance count each target ran over time and, where the
// run sampled them (ECS), its running tasks beside it, dashed in the same colour.
func (b *plotBuilder) instances() error {
	type series struct{ target, metric string }
	by := map[series]plotter.XYs{}
	hasTasks := map[string]bool{}
	for _, s := range b.samples {
		if s.Metric == results.MetricInstances || s.Metric == results.MetricTasks {
			k := series{s.Target, s.Metric}
			by[k] = append(by[k], plotter.XY{X: s.Time.Sub(b.t0).Seconds(), Y: s.Value})
			hasTasks[s.Target] = hasTasks[s.Target] || s.Metric == results.MetricTasks
		}
	}
	if len(by) == 0 {
		b.skip("instances over time: the run recorded no instance samples (nor ECS task samples)")
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(by), func(a, b series) int {
		return cmp.Or(cmp.Compare(a.target, b.target), cmp.Compare(a.metric, b.metric))
	})
	p := newPlot("time since run start (s)", "instances, tasks")
	for _, k := range keys {
		pts := by[k]
		slices.SortFunc(pts, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.StepStyle = plotter.PostStep
		c := b.colors[k.target]
		if c == nil {
			c = unknownColor
		}
		l.Color, l.Width = c, vg.Points(1.5)
		name := k.target
		switch {
		case k.metric == results.MetricTasks:
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			name += " tasks"
		case hasTasks[k.target]:
			name += " instances"
		}
		p.Add(l)
		p.Legend.Add(name, l)
	}
	p.Y.Min = 0
	return b.add(p, "instances", "Instances over time",
		"The number of instances each target ran, as sampled during the run (on ECS: the Auto Scaling group's EC2 instances, and the service's running tasks dashed).")
}
