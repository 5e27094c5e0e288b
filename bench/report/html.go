package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"path/filepath"
	"slices"
	"strings"
)

// inlineSVGLimit is the largest SVG put inline; bigger ones (scatter plots of many
// thousands of points) go in as PNG to keep the page light.
const inlineSVGLimit = 1 << 20

const css = `body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
.sub{color:#666;margin-top:0}.note{color:#555;font-size:13px}
.headline p{font-size:17px;margin:.4em 0}details{margin:1em 0}summary{cursor:pointer;font-weight:600}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:13px;margin:.5em 0 1em}
th,td{border:1px solid #ddd;padding:3px 7px;white-space:nowrap}th{background:#f0f0f0;position:sticky;top:0}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr:nth-child(even) td{background:#fcfcfc}
figure{margin:1.5em 0}figure svg,figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:13px}pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:12px}
nav a{margin-right:1em}`

// page renders the self-contained HTML report: inline CSS, graphs inline (SVG,
// or PNG as a data URI), no external reference of any kind.
func page(s *Summary, tables []table, figs []figure, skipped []string) []byte {
	var b bytes.Buffer
	esc := html.EscapeString
	b.WriteString("<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n<meta name=viewport content=\"width=device-width,initial-scale=1\">\n")
	fmt.Fprintf(&b, "<title>servebench report – %s</title>\n<style>%s</style></head><body>\n", esc(filepath.Base(s.ResultsPath)), css)
	fmt.Fprintf(&b, "<h1>servebench report</h1>\n<p class=sub>%s · started %s · %d requests, %d failed</p>\n",
		esc(filepath.Base(s.ResultsPath)), esc(s.Header.Started.UTC().Format("2006-01-02 15:04:05 UTC")), s.Requests, s.Failed)
	b.WriteString("<nav><a href=\"#headline\">Answer</a><a href=\"#scenarios\">Scenarios</a><a href=\"#tables\">Tables</a><a href=\"#graphs\">Graphs</a><a href=\"#run\">Run</a><a href=\"#prices\">Prices</a><a href=\"#method\">Method</a></nav>\n")

	// The answer first: one sentence per function, each side's capacity, the
	// cost-against-load chart.
	b.WriteString("<h2 id=headline>The answer</h2>\n<div class=headline>\n")
	for _, line := range s.Headline() {
		fmt.Fprintf(&b, "<p>%s</p>\n", esc(line))
	}
	if len(s.Loads) == 0 {
		b.WriteString("<p class=note>No function was measured on both a serverless and a serverful target: nothing to compare across loads.</p>\n")
	}
	b.WriteString("</div>\n")
	for _, f := range figs {
		if isLoadFigure(f) {
			writeFigure(&b, f)
		}
	}
	for _, t := range tables {
		if t.Name == "cost_load" {
			b.WriteString(t.HTML())
		}
	}

	b.WriteString("<h2 id=scenarios>At the load each scenario offered</h2>\n<ul>\n")
	for _, c := range s.Comparisons {
		for _, v := range c.Verdict() {
			fmt.Fprintf(&b, "<li>%s</li>\n", esc(v))
		}
	}
	b.WriteString("</ul>\n")
	if len(tables) > 0 {
		b.WriteString(tables[0].HTML())
	}

	b.WriteString("<h2 id=tables>Tables</h2>\n<p class=note>The same numbers are in the .md and .csv files beside this page (CSV at full precision).</p>\n")
	for _, t := range tables[1:] {
		switch t.Name {
		case "cost_load": // shown with the answer
		case "latency":
			fmt.Fprintf(&b, "<details><summary>%s (per group; click to open)</summary>\n%s</details>\n", esc(t.Title), t.HTML())
		default:
			b.WriteString(t.HTML())
		}
	}

	b.WriteString("<h2 id=graphs>Graphs</h2>\n")
	for _, msg := range skipped {
		fmt.Fprintf(&b, "<p class=note>%s</p>\n", esc(msg))
	}
	for _, f := range figs {
		if !isLoadFigure(f) {
			writeFigure(&b, f)
		}
	}

	b.WriteString("<h2 id=run>Run</h2>\n")
	h := s.Header
	fmt.Fprintf(&b, "<p>Command: <code>%s</code></p>\n", esc(strings.Join(h.Command, " ")))
	m := h.Machine
	fmt.Fprintf(&b, "<p>Machine: %s, %s/%s, %d CPUs", esc(m.Hostname), esc(m.OS), esc(m.Arch), m.CPUs)
	if m.CPUModel != "" {
		fmt.Fprintf(&b, " (%s)", esc(m.CPUModel))
	}
	if m.MemoryMB > 0 {
		fmt.Fprintf(&b, ", %d MB", m.MemoryMB)
	}
	b.WriteString("</p>\n")
	for _, part := range []struct {
		name string
		v    any
	}{{"Targets", h.Targets}, {"Versions", h.Versions}, {"Configuration", h.Config}, {"Scenarios", h.Scenarios}} {
		j, _ := json.MarshalIndent(part.v, "", "  ")
		fmt.Fprintf(&b, "<h3>%s</h3><pre>%s</pre>\n", part.name, esc(string(j)))
	}

	p := s.Prices
	b.WriteString("<h2 id=prices>Price list</h2>\n")
	fmt.Fprintf(&b, "<p>Prices as of <b>%s</b>. %s Region: %s.<br>Source: %s.</p>\n", esc(p.Date), esc(p.Note), esc(p.Region), esc(p.Source))
	j, _ := json.MarshalIndent(p, "", "  ")
	fmt.Fprintf(&b, "<pre>%s</pre>\n", esc(string(j)))

	minSpan := minSustainedSpan.String()
	b.WriteString(`<h2 id=method>Method</h2><ul>
<li>Percentiles are <b>exact</b>: computed from all sorted samples, interpolating linearly between the closest ranks (numpy's default, Hyndman &amp; Fan type 7). No digest or histogram.</li>
<li>Std is the sample standard deviation (ddof = 1); with one sample it is undefined and shown as –.</li>
<li>Client time runs from the request's intended start to the end of the answer's body, measured by the load generator; server time is the service's own timings_ms.total.</li>
<li>Cold/warm is the flag each answer carried (server.cold, true for exactly the first request an instance serves), not inferred from a request's position. Bursts labelled cold (after a forced cold start), deploy-cold (the first after a deploy, with cold image caches) and warm are checked against it: a request that contradicts its label (a cold burst's that ran warm or on an instance that had served before, a warm burst's that started cold) is mislabelled, counted apart and kept out of every cold and warm figure.</li>
<li>Failed requests (no answer, timeouts, refusals, non-2xx) count in the error rate only, not in the latency statistics. Throughput is successful requests over the wall span of the group, from the first request's start to the last one's end.</li>
<li>Cost against load (the answer at the top): per function, each side's monthly cost if a rate were sustained. Serverless: the warm requests' billed time (platform_report.billed_ms where given, else server total, rounded up to the billing increment) at the target's memory, plus request charges, plus cold starts amortised at one instance replacement per hour of busy time (assumed), so cold starts per request = warm billed time / 1 h, each costing a cold request's mean over a warm one's. Serverful: the deployment record's instance type, one instance more per measured per-instance capacity (the rate scenario with scaling held off; without it, the highest throughput of a group at least ` + minSpan + ` long, said so), each with its public IPv4 and gp3 root volume and, on T3/T3a, CPU above the baseline in proportion to its utilisation; plus the ALB, its two public IPv4 and its LCUs. Bucket GET/PUT requests on both sides. Break-even: the first rate above which serverless stays dearer; the curves may cross more often below it (the fleet's steps), which the table counts.</li>
<li>Per-scenario cost: at the load each scenario offered, cold starts included. Serverless cost: each answered request's billed duration as the platform reported it (Lambda's REPORT line: platform_report.billed_ms) where there is one, else its server time plus init on cold starts, rounded up to the billing increment (Lambda 1 ms, Cloud Run functions 100 ms); the latter ignores the platform's own overhead beyond the handler, so it is a lower bound. Each request is priced at the memory size its answer reported (a memory sweep runs several), plus request charges (Lambda and API Gateway, or Cloud Run functions).</li>
<li>Serverful cost per scenario: the hourly price of the fleet (its instance type and minimum from the target's deployment record only, else the study's defaults, said so in priced_from; the most instances sampled, else the minimum fleet) with addresses, root volumes and surplus CPU, plus the ALB and its LCUs (one LCU per 25 new connections/s, keep-alive off), over the highest throughput of a group at least ` + minSpan + ` long.</li>
</ul>
`)
	// Skipped graphs are explained under Graphs; the rest (e.g. a truncated
	// results file) here.
	var notes []string
	for _, w := range s.Warnings {
		if !slices.Contains(skipped, w) {
			notes = append(notes, w)
		}
	}
	if len(notes) > 0 {
		b.WriteString("<h3>Notes</h3><ul>\n")
		for _, w := range notes {
			fmt.Fprintf(&b, "<li>%s</li>\n", esc(w))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

// writeFigure puts f in the page: inline SVG, or PNG as a data URI when large.
func writeFigure(b *bytes.Buffer, f figure) {
	esc := html.EscapeString
	fmt.Fprintf(b, "<figure id=%q>\n", "f-"+f.Name)
	if len(f.SVG) <= inlineSVGLimit {
		b.WriteString(inlineSVG(f.SVG))
	} else {
		fmt.Fprintf(b, "<img alt=\"%s\" src=\"data:image/png;base64,%s\">", esc(f.Title), base64.StdEncoding.EncodeToString(f.PNG))
	}
	fmt.Fprintf(b, "\n<figcaption><b>%s.</b> %s (%s.png, %s.svg)</figcaption></figure>\n", esc(f.Title), esc(f.Caption), esc(f.Name), esc(f.Name))
}

// inlineSVG strips the XML prolog so the SVG can sit inside HTML.
func inlineSVG(svg []byte) string {
	s := string(svg)
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return s
}
