// Package report turns a run's JSON Lines results into tables (markdown and CSV),
// graphs (PNG and SVG), one self-contained HTML page and a terminal summary.
package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/servebench/servebench/bench/cost"
	"github.com/servebench/servebench/bench/results"
)

// Options say where the report goes and how to price the run.
type Options struct {
	OutDir string // required; created if missing

	// Prices overrides the price list; else PricesFile (JSON overlaid on the
	// defaults, see cost.LoadFile); else cost.Default().
	Prices     *cost.PriceList
	PricesFile string

	// MemoryMB is each serverless target's memory size (target → MB), over
	// its deployment record.
	MemoryMB map[string]int
	// Kinds says how a target is billed (target → lambda, cloudfunctions,
	// serverful). Unset targets are classified by the platform the service
	// reported, then by name.
	Kinds map[string]cost.Kind
	// InstanceType and MinInstances describe every serverful fleet, over each
	// target's deployment record (Header.Deployments), the only thing the
	// results file says the report prices from; without a record, the study's
	// defaults, said to be assumed. The cost tables name the source of each.
	InstanceType string
	MinInstances int

	Log *slog.Logger // default slog.Default()
}

// Summary is what Generate found, for the terminal and for callers.
type Summary struct {
	ResultsPath string
	OutDir      string
	Files       []string // written, relative to OutDir
	Warnings    []string // e.g. a truncated last line, graphs skipped for lack of data
	Header      results.Header
	Prices      cost.PriceList
	Groups      []*Group
	Comparisons []Comparison
	// Loads answer per function across request rates (the headline).
	Loads []Load
	// Capacities are the rate scenario's capacity lines.
	Capacities []results.Capacity
	Requests   int
	Failed     int
	// Mislabelled counts the requests whose answers contradict their burst's
	// label (a cold burst's request that ran warm, a warm one's that started
	// cold), kept out of the cold and warm figures.
	Mislabelled []Mislabel
	// Sweeps are the serverless targets answered at several memory sizes.
	Sweeps []Sweep
}

// Generate reads the results file at resultsPath and writes the report into
// opt.OutDir. Everything is computed in memory first and each file is written
// atomically, so a bad input writes nothing and a crash leaves no half file.
func Generate(ctx context.Context, resultsPath string, opt Options) (*Summary, error) {
	log := opt.Log
	if log == nil {
		log = slog.Default()
	}
	if opt.OutDir == "" {
		return nil, errors.New("report: no output directory (Options.OutDir)")
	}
	b, err := build(resultsPath, opt, log)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	figs, skipped, err := figures(ctx, b.sum.Header, b.g, b.samples, b.sum.Sweeps, b.sum.Loads, b.sum.Prices)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if err := b.write(ctx, opt.OutDir, figs, skipped); err != nil {
		return nil, err
	}
	log.Info("report written", "dir", opt.OutDir, "files", len(b.sum.Files), "requests", b.sum.Requests, "failed", b.sum.Failed)
	return b.sum, nil
}

// built is a report computed from its results file, all but the graphs: the
// stages split so that the fuzz test can run everything but the (slow) drawing.
type built struct {
	sum     *Summary
	g       *grouping
	samples []results.Sample
	tables  []table
}

// build reads the results file and computes the summary and the tables.
func build(resultsPath string, opt Options, log *slog.Logger) (*built, error) {
	file, err := results.ReadFile(resultsPath)
	h, recs, samples := file.Header, file.Records, file.Samples
	sum := &Summary{ResultsPath: resultsPath, OutDir: opt.OutDir, Header: h, Capacities: file.Capacities}
	var trunc *results.TruncatedError
	switch {
	case errors.As(err, &trunc):
		log.Warn("results file ends mid-line; the last line is skipped", "path", resultsPath, "line", trunc.Line)
		sum.Warnings = append(sum.Warnings, err.Error())
	case err != nil:
		return nil, fmt.Errorf("report: %w", err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("report: %s has no request records", resultsPath)
	}
	prices, err := loadPrices(opt)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	sum.Prices = prices

	g := groupRecords(h, recs)
	pr := newPricing(h, recs, opt, prices)
	sum.Groups = g.groups
	sum.Mislabelled = g.mislabels()
	for _, m := range sum.Mislabelled {
		sum.Warnings = append(sum.Warnings, m.String())
	}
	for _, r := range recs {
		sum.Requests++
		if !r.OK() {
			sum.Failed++
		}
	}
	for _, s := range g.scenarios {
		_, functions := g.pairs(s)
		for _, f := range functions {
			sum.Comparisons = append(sum.Comparisons, g.compare(s, f, pr, samples))
		}
	}

	sum.Sweeps = sweeps(g, pr, sum.Comparisons)
	sum.Loads = loads(g, pr, sum.Capacities, samples)
	tables := []table{
		overviewTable(sum.Comparisons),
		loadTable(sum.Loads, prices),
		latencyTable(g.groups),
		coldWarmTable(g, pr),
		stagesTable(g),
		costTable(sum.Comparisons, pr),
		serversTable(recs),
	}
	if len(sum.Capacities) > 0 {
		tables = append(tables, capacityTable(sum.Capacities))
	}
	if len(sum.Sweeps) > 0 {
		tables = append(tables, sweepTable(sum.Sweeps))
	}
	return &built{sum: sum, g: g, samples: samples, tables: tables}, nil
}

// write lays out the report (tables, the graphs figs, those skipped and why)
// and writes its files into outDir, each atomically.
func (b *built) write(ctx context.Context, outDir string, figs []figure, skipped []string) error {
	sum, h := b.sum, b.sum.Header
	sum.Warnings = append(sum.Warnings, skipped...)

	files := map[string][]byte{}
	var order []string
	add := func(name string, data []byte) {
		files[name] = data
		order = append(order, name)
	}
	var md bytes.Buffer
	fmt.Fprintf(&md, "# servebench report\n\nResults: `%s`, started %s. Percentiles are exact (sorted samples, linear interpolation); std is the sample standard deviation (ddof 1); times in ms.\n\n",
		filepath.Base(sum.ResultsPath), h.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	for _, line := range sum.Headline() {
		fmt.Fprintf(&md, "%s\n\n", line)
	}
	for _, f := range figs {
		if isLoadFigure(f) {
			fmt.Fprintf(&md, "![%s](%s.svg)\n\n", f.Title, f.Name)
		}
	}
	md.WriteString("At the load each scenario offered:\n\n")
	for _, c := range sum.Comparisons {
		for _, v := range c.Verdict() {
			fmt.Fprintf(&md, "- %s\n", v)
		}
	}
	md.WriteString("\n")
	for _, t := range b.tables {
		add(t.Name+".md", t.Markdown())
		add(t.Name+".csv", t.CSV())
		md.Write(t.Markdown())
	}
	for _, f := range figs {
		add(f.Name+".png", f.PNG)
		add(f.Name+".svg", f.SVG)
		if !isLoadFigure(f) {
			fmt.Fprintf(&md, "![%s](%s.svg)\n\n", f.Title, f.Name)
		}
	}
	add("report.md", md.Bytes())
	add("index.html", page(sum, b.tables, figs, skipped))

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for _, name := range order {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if err := writeAtomic(filepath.Join(outDir, name), files[name]); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		sum.Files = append(sum.Files, name)
	}
	return nil
}

func loadPrices(opt Options) (cost.PriceList, error) {
	switch {
	case opt.Prices != nil:
		return *opt.Prices, opt.Prices.Validate()
	case opt.PricesFile != "":
		return cost.LoadFile(opt.PricesFile)
	default:
		return cost.Default(), nil
	}
}

// writeAtomic writes data to a temporary file beside path and renames it into
// place, so readers see the old file or the whole new one.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Verdict says in a few lines which side was faster and cheaper and where they
// break even.
func (c Comparison) Verdict() []string {
	head := c.Scenario
	if c.Function != "" {
		head += " / " + c.Function
	}
	if len(c.Sides) < 2 {
		if len(c.Sides) == 1 {
			s := c.Sides[0]
			return []string{fmt.Sprintf("%s: one target only (%s): mean %s ms, p95 %s ms, %s per 1,000 requests",
				head, s.Target, fixed(1)(s.ClientMean), fixed(1)(s.ClientP95), dollars(s.Per1000))}
		}
		return nil
	}
	side := func(name string) Side {
		i := slices.IndexFunc(c.Sides, func(s Side) bool { return s.Target == name })
		return c.Sides[i]
	}
	others := func(name string, v func(Side) string) string {
		var parts []string
		for _, s := range c.Sides {
			if s.Target != name {
				parts = append(parts, s.Target+" "+v(s))
			}
		}
		return strings.Join(parts, ", ")
	}
	// verdict words one comparison: the winner against the others, or a tie.
	verdict := func(winner string, v func(Side) string) string {
		if winner == Tie {
			return "no clear difference, within 1 % (" + others("", v) + ")"
		}
		return fmt.Sprintf("%s (%s vs %s)", winner, v(side(winner)), others(winner, v))
	}
	var out []string
	if c.FasterMean != "" {
		mean := func(s Side) string { return fixed(1)(s.ClientMean) + " ms" }
		p95 := func(s Side) string { return fixed(1)(s.ClientP95) + " ms" }
		line := fmt.Sprintf("%s: faster on mean client time: %s", head, verdict(c.FasterMean, mean))
		if c.FasterP95 != "" {
			line += "; on p95: " + verdict(c.FasterP95, p95)
		}
		out = append(out, line)
	}
	if c.Cheaper != "" {
		per := func(s Side) string { return dollars(s.Per1000) }
		out = append(out, fmt.Sprintf("%s: cheaper per 1,000 requests at the load this scenario offered: %s", head, verdict(c.Cheaper, per)))
	}
	return out
}

// Headline is the answer at a glance, the same sentences wherever it is shown:
// each function's Load sentences, in order.
func (s *Summary) Headline() []string {
	var out []string
	for _, l := range s.Loads {
		out = append(out, l.Sentences()...)
	}
	return out
}

// WriteText writes the terminal summary: one compact table per scenario and the
// verdict.
func (s *Summary) WriteText(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "servebench report: %d requests, %d failed (%s)\n", s.Requests, s.Failed, percent(float64(s.Failed)/math.Max(1, float64(s.Requests))))
	for _, line := range s.Headline() {
		fmt.Fprintf(&b, "\n%s", line)
	}
	if len(s.Loads) > 0 {
		b.WriteString("\n")
	}
	overview := overviewTable(s.Comparisons)
	scenarios := []string{}
	for _, c := range s.Comparisons {
		if !slices.Contains(scenarios, c.Scenario) {
			scenarios = append(scenarios, c.Scenario)
		}
	}
	for _, sc := range scenarios {
		fmt.Fprintf(&b, "\n== %s ==\n", sc)
		t := overview
		t.Cols = t.Cols[1:] // the scenario column is the heading
		t.Rows = nil
		for _, r := range overview.Rows {
			if r[0] == sc {
				t.Rows = append(t.Rows, r[1:])
			}
		}
		if err := t.Text(&b); err != nil {
			return err
		}
		for _, c := range s.Comparisons {
			if c.Scenario == sc {
				for _, v := range c.Verdict() {
					fmt.Fprintf(&b, "  %s\n", v)
				}
			}
		}
	}
	for _, wmsg := range s.Warnings {
		fmt.Fprintf(&b, "note: %s\n", wmsg)
	}
	if len(s.Files) > 0 {
		fmt.Fprintf(&b, "\nreport: %s (%d files)\n", filepath.Join(s.OutDir, "index.html"), len(s.Files))
	}
	_, err := w.Write(b.Bytes())
	return err
}
