package scenario

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/study"
)

// Batches is the YOLO study's load: Batches batches one after another, each Size
// concurrent POST /predict, images cycled from Images, no think time. (Keep-alive
// is the Attacker's setting; the study had it off.)
type Batches struct {
	Size    int      // concurrent requests per batch (the YOLO study: study.BatchSize)
	Batches int      // batches (the YOLO study: study.Batches)
	Images  []string // input-bucket keys, e.g. "images/dog.jpg"
}

// Name implements Scenario.
func (b Batches) Name() string { return "batches" }

// Planned implements Scenario.
func (b Batches) Planned(Target) int { return b.Size * b.Batches }

// Validate reports settings that cannot run.
func (b Batches) Validate() error {
	switch {
	case b.Size < 1:
		return fmt.Errorf("batch size %d: must be at least 1", b.Size)
	case b.Batches < 1:
		return fmt.Errorf("batches %d: must be at least 1", b.Batches)
	case len(b.Images) == 0:
		return fmt.Errorf("batches: no images to send")
	}
	return nil
}

// Run implements Scenario.
func (b Batches) Run(ctx context.Context, r *Runner, t Target) (Summary, error) {
	sum := Summary{Scenario: b.Name(), Target: t.Name}
	if err := b.Validate(); err != nil {
		return sum, err
	}
	if err := t.serves(predictRoute); err != nil {
		return sum, err
	}
	for batch := 1; batch <= b.Batches; batch++ {
		start := time.Now()
		rs, err := r.attack(ctx, func(i int) (loadgen.Target, error) {
			img := b.Images[((batch-1)*b.Size+i)%len(b.Images)]
			return predictTarget(t, img, results.Record{
				Scenario: b.Name(), Target: t.Name, Function: study.FunctionPredict,
				Group: strconv.Itoa(batch), Batch: batch, Image: img,
			}), nil
		}, loadgen.Burst(b.Size))
		c := count(rs)
		var total time.Duration
		for _, x := range rs {
			total += x.Latency()
		}
		avg := time.Duration(0)
		if len(rs) > 0 {
			avg = total / time.Duration(len(rs))
		}
		line := fmt.Sprintf("batch %d: mean %.2f s, whole batch %.2f s; %s", batch, avg.Seconds(), time.Since(start).Seconds(), c)
		sum.Lines = append(sum.Lines, line)
		r.Log.Info("batches: "+t.Name, "batch", batch, "mean_s", fmt.Sprintf("%.2f", avg.Seconds()), "results", c.String())
		if err != nil {
			return sum, fmt.Errorf("batches on %s, batch %d: %w", t.Name, batch, err)
		}
	}
	return sum, nil
}

// predictRoute is the YOLO study's route.
const predictRoute = "/predict"

// predictTarget is POST /predict for one image, as the original client sent it.
func predictTarget(t Target, image string, rec results.Record) loadgen.Target {
	return loadgen.Target{
		Method: http.MethodPost,
		URL:    t.URLFor(predictRoute),
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   fmt.Appendf(nil, `{"filename":%q}`, image),
		Record: rec,
	}
}
