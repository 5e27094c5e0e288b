package scenario

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servebench/servebench/bench/loadgen"
	"github.com/servebench/servebench/bench/results"
)

// fake answers like the service, as one instance: its first request is cold until
// ForceCold makes it a new instance. It remembers what each request asked for.
type fake struct {
	*httptest.Server
	mu       sync.Mutex
	served   bool
	instance int
	seen     []string // "path?query body"
}

func newFake(t *testing.T, delay time.Duration) *fake {
	f := &fake{instance: 1}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var what string
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			mr, err := r.MultipartReader()
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			p, err := mr.NextPart()
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			b, _ := io.ReadAll(p)
			what = fmt.Sprintf("%s:%s:%d bytes", p.FormName(), p.FileName(), len(b))
		} else {
			b, _ := io.ReadAll(r.Body)
			what = string(b)
		}
		time.Sleep(delay)
		f.mu.Lock()
		cold := !f.served
		f.served = true
		id := f.instance
		f.seen = append(f.seen, r.URL.RequestURI()+" "+what)
		f.mu.Unlock()
		fmt.Fprintf(w, `{"server":{"cold":%t,"instance":"i-%d","platform":"fake"},"timings_ms":{"total":%d}}`, cold, id, delay.Milliseconds())
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) ForceCold(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.served = false
	f.instance++
	return nil
}

type memRecorder struct {
	mu   sync.Mutex
	recs []results.Record
	caps []results.Capacity
}

func (m *memRecorder) Record(r results.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, r)
	return nil
}

func (m *memRecorder) Capacity(c results.Capacity) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.caps = append(m.caps, c)
	return nil
}

func newRunner(out Recorder) (*Runner, *int) {
	progress := 0
	return &Runner{
		Attacker: loadgen.NewAttacker(),
		Out:      out,
		Log:      slog.New(slog.DiscardHandler),
		Progress: func(n int) { progress += n },
	}, &progress
}

func TestBatchesRecordsEveryRequestInOrder(t *testing.T) {
	f := newFake(t, 20*time.Millisecond)
	out := &memRecorder{}
	r, progress := newRunner(out)
	b := Batches{Size: 3, Batches: 2, Images: []string{"images/a.jpg", "images/b.jpg"}}
	sum, err := b.Run(context.Background(), r, Target{Name: "serverful", URL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.recs) != 6 || *progress != 6 || b.Planned(Target{}) != 6 {
		t.Fatalf("%d records, progress %d, planned %d; want 6", len(out.recs), *progress, b.Planned(Target{}))
	}
	perBatch := map[int][]string{}
	seqs := map[int]bool{}
	for _, rec := range out.recs {
		if rec.Scenario != "batches" || rec.Target != "serverful" || rec.Function != "predict" || rec.Group != fmt.Sprint(rec.Batch) {
			t.Errorf("record labels: %+v", rec)
		}
		if !rec.OK() || rec.ServerMS != 20 || rec.ClientMS < 20 {
			t.Errorf("record measures: %+v", rec)
		}
		perBatch[rec.Batch] = append(perBatch[rec.Batch], rec.Image)
		seqs[rec.Seq] = true
	}
	if len(seqs) != 6 {
		t.Errorf("seq numbers not unique: %v", seqs)
	}
	// Images cycle across batches: a b a | b a b.
	for batch, want := range map[int]map[string]int{1: {"images/a.jpg": 2, "images/b.jpg": 1}, 2: {"images/a.jpg": 1, "images/b.jpg": 2}} {
		got := map[string]int{}
		for _, img := range perBatch[batch] {
			got[img]++
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("batch %d images %v, want %v", batch, got, want)
		}
	}
	// The server saw the requests' bodies naming those images.
	if !strings.Contains(strings.Join(f.seen, "\n"), `/predict {"filename":"images/b.jpg"}`) {
		t.Errorf("server saw %q", f.seen)
	}
	if len(sum.Lines) != 2 || !strings.Contains(sum.Lines[0], "3/3 ok, 1 cold, 2 warm") || !strings.Contains(sum.Lines[1], "0 cold, 3 warm") {
		t.Errorf("summary: %q", sum.Lines)
	}
}

func TestColdWarmForcesColdPerFunction(t *testing.T) {
	f := newFake(t, 5*time.Millisecond)
	out := &memRecorder{}
	r, _ := newRunner(out)
	c := ColdWarm{Burst: 4, FacesBurst: 2, Functions: []string{"faces/upload", "predict"},
		Images: []string{"images/dog.jpg"}, Face: []byte("P5 fake pgm"), FaceName: "1.pgm"}
	if _, err := c.Run(context.Background(), r, Target{Name: "serverless", URL: f.URL, Cold: f}); err != nil {
		t.Fatal(err)
	}
	if len(out.recs) != 12 || c.Planned(Target{}) != 12 {
		t.Fatalf("%d records, planned %d, want 12", len(out.recs), c.Planned(Target{}))
	}
	type key struct{ fn, group string }
	n, cold := map[key]int{}, map[key]int{}
	for _, rec := range out.recs {
		k := key{rec.Function, rec.Group}
		n[k]++
		if rec.Cold != nil && *rec.Cold {
			cold[k]++
		}
	}
	// Run in the order state needs (predict first in Functions), each forced cold:
	// exactly one cold answer per function, in its cold burst.
	want := map[key]int{{"predict", "cold"}: 4, {"predict", "warm"}: 4, {"faces/upload", "cold"}: 2, {"faces/upload", "warm"}: 2}
	if fmt.Sprint(n) != fmt.Sprint(want) {
		t.Errorf("records per burst %v, want %v", n, want)
	}
	if fmt.Sprint(cold) != fmt.Sprint(map[key]int{{"predict", "cold"}: 1, {"faces/upload", "cold"}: 1}) {
		t.Errorf("cold answers per burst %v", cold)
	}
	seen := strings.Join(f.seen, "\n")
	for _, w := range []string{"/faces/upload?id=1 file:1.pgm:11 bytes", "/faces/upload?id=2 file:1.pgm:11 bytes"} {
		if !strings.Contains(seen, w) {
			t.Errorf("server did not see %q in\n%s", w, seen)
		}
	}
}

func TestColdWarmRejectsUnknownFunction(t *testing.T) {
	c := ColdWarm{Burst: 1, FacesBurst: 1, Functions: []string{"faces/tran"}}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `"faces/tran"`) || !strings.Contains(err.Error(), "faces/train") {
		t.Errorf("err = %v", err)
	}
}

// Cloud Functions serve each route from its own function: a target with Routes
// sends every route to its own URL (each function here answers whatever the path,
// as the service's Cloud Functions do), whichever scenario builds the request.
func TestTargetRoutesSendEachRouteToItsURL(t *testing.T) {
	fns := map[string]*fake{}
	routes := map[string]string{}
	for _, fn := range Functions {
		f := newFake(t, 0)
		fns["/"+fn] = f
		routes["/"+fn] = f.URL
	}
	tg := Target{Name: "serverless-gcf-1024", Routes: routes}
	r, _ := newRunner(&memRecorder{})
	c := ColdWarm{Burst: 2, FacesBurst: 1, Functions: Functions, Images: []string{"images/dog.jpg"}, Face: []byte("P5"), FaceName: "1.pgm"}
	if _, err := c.Run(context.Background(), r, tg); err != nil {
		t.Fatal(err)
	}
	b := Batches{Size: 1, Batches: 1, Images: []string{"images/bus.jpg"}}
	if _, err := b.Run(context.Background(), r, tg); err != nil {
		t.Fatal(err)
	}
	s := Rate{Rates: []float64{10}, MaxRate: 10, Precision: 0.1, MaxSteps: 1, Step: 100 * time.Millisecond, Percentile: 99, Objective: time.Minute, Images: []string{"images/zidane.jpg"}}
	if _, err := s.Run(context.Background(), r, tg); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"/predict": {`/ {"filename":"images/dog.jpg"}`, `/ {"filename":"images/dog.jpg"}`, `/ {"filename":"images/dog.jpg"}`, `/ {"filename":"images/dog.jpg"}`,
			`/ {"filename":"images/bus.jpg"}`, `/ {"filename":"images/zidane.jpg"}`},
		"/faces/download_data": {"/?id=1 ", "/?id=1 "},
		"/faces/train":         {"/?id=1 ", "/?id=1 "},
		"/faces/upload":        {"/?id=1 file:1.pgm:2 bytes", "/?id=1 file:1.pgm:2 bytes"},
		"/faces/predict":       {"/?id=1 ", "/?id=1 "},
	}
	for route, f := range fns {
		f.mu.Lock()
		got := fmt.Sprint(f.seen)
		f.mu.Unlock()
		if got != fmt.Sprint(want[route]) {
			t.Errorf("%s's function saw %s, want %s", route, got, want[route])
		}
	}
}

func TestTargetURLFor(t *testing.T) {
	base := Target{Name: "serverful", URL: "http://alb"}
	routed := Target{Name: "gcf", Routes: map[string]string{"/predict": "https://p.a.run.app", "/faces/train": "https://t.a.run.app"}}
	mixed := Target{Name: "m", URL: "http://base", Routes: map[string]string{"/faces/train": "https://t.a.run.app"}}
	for _, c := range []struct {
		t           Target
		route, want string
	}{
		{base, "/predict", "http://alb/predict"},
		{base, "/faces/train", "http://alb/faces/train"},
		{routed, "/predict", "https://p.a.run.app"},
		{routed, "/faces/upload", ""},
		{mixed, "/faces/train", "https://t.a.run.app"},
		{mixed, "/predict", "http://base/predict"},
	} {
		if got := c.t.URLFor(c.route); got != c.want {
			t.Errorf("%s URLFor(%s) = %q, want %q", c.t.Name, c.route, got, c.want)
		}
	}
	if got := routed.Endpoint(); got != "/faces/train=https://t.a.run.app /predict=https://p.a.run.app" {
		t.Errorf("Endpoint() = %q", got)
	}
	if got := mixed.Endpoint(); got != "http://base" {
		t.Errorf("Endpoint() = %q", got)
	}
}

// A target lacking a function a scenario calls is refused before anything is
// sent, naming the route.
func TestTargetMissingRouteRefused(t *testing.T) {
	f := newFake(t, 0)
	tg := Target{Name: "gcf", Routes: map[string]string{"/predict": f.URL}}
	r, _ := newRunner(&memRecorder{})
	c := ColdWarm{Burst: 1, FacesBurst: 1, Functions: []string{"predict", "faces/train"}, Images: []string{"images/dog.jpg"}}
	_, err := c.Run(context.Background(), r, tg)
	if err == nil || !strings.Contains(err.Error(), "target gcf serves no /faces/train") {
		t.Errorf("err = %v", err)
	}
	noPredict := Target{Name: "gcf", Routes: map[string]string{"/faces/train": f.URL}}
	for _, sc := range []Scenario{
		Batches{Size: 1, Batches: 1, Images: []string{"images/dog.jpg"}},
		Rate{Rates: []float64{10}, MaxRate: 10, Precision: 0.1, MaxSteps: 1, Step: time.Second, Percentile: 99, Objective: time.Second, Images: []string{"images/dog.jpg"}},
	} {
		if _, err := sc.Run(context.Background(), r, noPredict); err == nil || !strings.Contains(err.Error(), "target gcf serves no /predict") {
			t.Errorf("%s: err = %v", sc.Name(), err)
		}
	}
	if len(f.seen) != 0 {
		t.Errorf("sent %q before refusing", f.seen)
	}
}
