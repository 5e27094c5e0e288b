package scenario

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/study"
)

// Functions coldwarm can call, in the order their state needs: the data set before
// training, a model and an uploaded image before a face prediction (the studies'
// functions, package study).
var Functions = study.Functions()

// ColdWarm is the Eigenfaces study's load, for each function: force the target
// cold, send a burst of parallel calls, then at once a second burst. The bursts are
// labelled "cold" and "warm"; each answer's server.cold says what it really was.
type ColdWarm struct {
	Burst      int      // calls per burst for predict (the Eigenfaces study: study.Burst)
	FacesBurst int      // calls per burst for the faces functions (train is heavy)
	Functions  []string // subset of Functions, run in Functions' order
	Images     []string // input-bucket keys for predict
	Face       []byte   // the image faces/upload sends (a PGM from the data set)
	FaceName   string   // its file name
	// FacesTimeout is the per-request timeout of the faces functions (the study's
	// Cloud Functions allowed study.GCFTimeoutSeconds); zero keeps the Attacker's.
	FacesTimeout time.Duration
}

// Name implements Scenario.
func (c ColdWarm) Name() string { return "coldwarm" }

// Planned implements Scenario.
func (c ColdWarm) Planned(Target) int {
	n := 0
	for _, f := range c.Functions {
		n += 2 * c.burst(f)
	}
	return n
}

func (c ColdWarm) burst(fn string) int {
	if strings.HasPrefix(fn, study.FacesFunctionsPrefix) {
		return c.FacesBurst
	}
	return c.Burst
}

// Validate reports settings that cannot run.
func (c ColdWarm) Validate() error {
	for _, f := range c.Functions {
		if !slices.Contains(Functions, f) {
			return fmt.Errorf("coldwarm function %q: allowed are %s", f, strings.Join(Functions, ", "))
		}
		if c.burst(f) < 1 {
			return fmt.Errorf("coldwarm burst for %s is %d: must be at least 1", f, c.burst(f))
		}
	}
	if slices.Contains(c.Functions, study.FunctionPredict) && len(c.Images) == 0 {
		return fmt.Errorf("coldwarm: predict needs images")
	}
	if slices.Contains(c.Functions, study.FunctionFacesUpload) && len(c.Face) == 0 {
		return fmt.Errorf("coldwarm: faces/upload needs a face image")
	}
	return nil
}

// Run implements Scenario.
func (c ColdWarm) Run(ctx context.Context, r *Runner, t Target) (Summary, error) {
	sum := Summary{Scenario: c.Name(), Target: t.Name}
	if err := c.Validate(); err != nil {
		return sum, err
	}
	var routes []string
	for _, fn := range c.Functions {
		routes = append(routes, "/"+fn)
	}
	if err := t.serves(routes...); err != nil {
		return sum, err
	}
	for _, fn := range Functions {
		if !slices.Contains(c.Functions, fn) {
			continue
		}
		if t.Cold != nil {
			start := time.Now()
			if err := t.Cold.ForceCold(ctx); err != nil {
				return sum, fmt.Errorf("coldwarm %s on %s: force cold: %w", fn, t.Name, err)
			}
			r.Log.Info("coldwarm: forced cold", "target", t.Name, "function", fn, "took", time.Since(start).Round(time.Millisecond))
		} else if len(sum.Lines) == 0 {
			sum.Lines = append(sum.Lines, "this target cannot be forced cold: each cold burst is as cold as found (see the cold counts)")
		}
		for i, burst := range []string{"cold", "warm"} {
			rs, err := r.attack(ctx, func(n int) (loadgen.Target, error) {
				rec := results.Record{Scenario: c.Name(), Target: t.Name, Function: fn, Group: burst, Batch: i + 1}
				return c.target(t, fn, n+1, rec)
			}, loadgen.Burst(c.burst(fn)))
			cnt := count(rs)
			client, server := means(rs)
			line := fmt.Sprintf("%-20s %s burst: client mean %.3f s, server mean %.3f s; %s", fn, burst, client, server, cnt)
			sum.Lines = append(sum.Lines, line)
			r.Log.Info("coldwarm: "+t.Name, "function", fn, "burst", burst, "results", cnt.String())
			if err != nil {
				return sum, fmt.Errorf("coldwarm %s on %s, %s burst: %w", fn, t.Name, burst, err)
			}
		}
	}
	return sum, nil
}

// target builds the request of caller id (1-based) for fn. Each caller has its own
// faces state (?id=N), so parallel callers do not collide.
func (c ColdWarm) target(t Target, fn string, id int, rec results.Record) (loadgen.Target, error) {
	if "/"+fn == predictRoute {
		img := c.Images[(id-1)%len(c.Images)]
		rec.Image = img
		return predictTarget(t, img, rec), nil
	}
	lt := loadgen.Target{Method: http.MethodPost, URL: fmt.Sprintf("%s?id=%d", t.URLFor("/"+fn), id), Timeout: c.FacesTimeout, Record: rec}
	if fn == study.FunctionFacesUpload {
		body, ctype, err := FaceUpload(c.FaceName, c.Face)
		if err != nil {
			return lt, err
		}
		lt.Body = body
		lt.Header = http.Header{"Content-Type": {ctype}}
		rec.Image = c.FaceName
		lt.Record = rec
	}
	return lt, nil
}

// FaceUpload is the multipart body of a faces/upload call sending the image data
// as name, and its Content-Type.
func FaceUpload(name string, data []byte) (body []byte, contentType string, err error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	part, err := mw.CreateFormFile("file", name)
	if err != nil {
		return nil, "", fmt.Errorf("faces/upload body: %w", err)
	}
	if _, err := part.Write(data); err != nil {
		return nil, "", fmt.Errorf("faces/upload body: %w", err)
	}
	if err := mw.Close(); err != nil {
		return nil, "", fmt.Errorf("faces/upload body: %w", err)
	}
	return b.Bytes(), mw.FormDataContentType(), nil
}

// means is the mean client and server time in seconds of the successful results.
func means(rs []loadgen.Result) (client, server float64) {
	n := 0
	for _, r := range rs {
		if !r.OK() {
			continue
		}
		n++
		client += r.Latency().Seconds()
		server += r.TimingsMS["total"] / 1000
	}
	if n == 0 {
		return 0, 0
	}
	return client / float64(n), server / float64(n)
}
