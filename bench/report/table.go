package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// column is one column of a table: its header and how a value reads in the
// markdown, HTML and terminal forms. CSV always carries full precision.
type column struct {
	Name   string
	Format func(v any) string // nil: fmt's %v, NaN as "–"
}

// table is the one source of the markdown, CSV, HTML and terminal forms of a table,
// so they always show the same numbers.
type table struct {
	Name  string // file stem
	Title string
	Note  string
	Cols  []column
	Rows  [][]any
}

const dash = "–"

// fixed formats a float with prec decimals, NaN as a dash.
func fixed(prec int) func(any) string {
	return func(v any) string {
		f, ok := v.(float64)
		if !ok {
			return fmt.Sprint(v)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dash
		}
		return strconv.FormatFloat(f, 'f', prec, 64)
	}
}

// percent formats a fraction as a percentage.
func percent(v any) string {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) {
		return dash
	}
	return strconv.FormatFloat(100*f, 'f', 1, 64) + " %"
}

// dollars formats USD with enough digits for fractions of a cent.
func dollars(v any) string {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) {
		return dash
	}
	switch {
	case f == 0:
		return "$0"
	case math.Abs(f) < 1:
		return "$" + strconv.FormatFloat(f, 'g', 3, 64)
	default:
		return "$" + strconv.FormatFloat(f, 'f', 2, 64)
	}
}

func (c column) text(v any) string {
	if c.Format != nil {
		return c.Format(v)
	}
	if f, ok := v.(float64); ok {
		return fixed(3)(f)
	}
	return fmt.Sprint(v)
}

// raw is a value as CSV holds it: floats in full precision, NaN as an empty cell
// (a spreadsheet's blank).
func raw(v any) string {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

func (t table) header() []string {
	h := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		h[i] = c.Name
	}
	return h
}

func (t table) cells(row []any, f func(column, any) string) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = f(t.Cols[i], v)
	}
	return out
}

func (t table) CSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(t.header())
	for _, r := range t.Rows {
		_ = w.Write(t.cells(r, func(_ column, v any) string { return raw(v) }))
	}
	w.Flush()
	return b.Bytes()
}

func (t table) Markdown() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "## %s\n\n", t.Title)
	if t.Note != "" {
		fmt.Fprintf(&b, "%s\n\n", t.Note)
	}
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	line := func(cells []string) {
		for i := range cells {
			cells[i] = esc(cells[i])
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
	}
	line(t.header())
	sep := make([]string, len(t.Cols))
	for i := range sep {
		sep[i] = "---"
	}
	fmt.Fprintf(&b, "| %s |\n", strings.Join(sep, " | "))
	for _, r := range t.Rows {
		line(t.cells(r, column.text))
	}
	b.WriteString("\n")
	return b.Bytes()
}

func (t table) HTML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<h3 id=%q>%s</h3>\n", "t-"+t.Name, html.EscapeString(t.Title))
	if t.Note != "" {
		fmt.Fprintf(&b, "<p class=note>%s</p>\n", html.EscapeString(t.Note))
	}
	b.WriteString("<div class=scroll><table><thead><tr>")
	for _, h := range t.header() {
		fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(h))
	}
	b.WriteString("</tr></thead><tbody>\n")
	for _, r := range t.Rows {
		b.WriteString("<tr>")
		for i, v := range r {
			class := ""
			if _, num := v.(float64); num {
				class = " class=n"
			} else if _, num := v.(int); num {
				class = " class=n"
			}
			fmt.Fprintf(&b, "<td%s>%s</td>", class, html.EscapeString(t.Cols[i].text(v)))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody></table></div>\n")
	return b.String()
}

// Text writes the table aligned for a terminal.
func (t table) Text(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(t.header(), "\t")+"\t")
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(t.cells(r, column.text), "\t")+"\t")
	}
	return tw.Flush()
}
