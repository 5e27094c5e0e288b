package detect

import (
	"context"
	"testing"
	"time"
)

// BenchmarkDetect times Detect on dog.jpg (decoded once) per backend, split into the
// letterbox, the network and the decoding:
//
//	go test -run '^$' -bench Detect -benchtime 3x ./detect/
func BenchmarkDetect(b *testing.B) {
	img := loadImage(b, "dog.jpg")
	for _, backend := range Backends() {
		b.Run(backend, func(b *testing.B) {
			if backend == BackendGoMLX {
				skipGoMLXRunUnderRace(b)
			}
			d := testDetector(b, backend)
			var total stages
			b.ResetTimer()
			for b.Loop() {
				_, st, err := d.detect(context.Background(), img, Options{})
				if err != nil {
					b.Fatal(err)
				}
				total.preprocess += st.preprocess
				total.network += st.network
				total.postprocess += st.postprocess
			}
			perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 / float64(b.N) }
			b.ReportMetric(perOp(total.preprocess), "preprocess-ms/op")
			b.ReportMetric(perOp(total.network), "network-ms/op")
			b.ReportMetric(perOp(total.postprocess), "postprocess-ms/op")
		})
	}
}

// BenchmarkNew times loading the model (part of every cold start) per backend.
func BenchmarkNew(b *testing.B) {
	model := testModel(b)
	for _, backend := range Backends() {
		b.Run(backend, func(b *testing.B) {
			for b.Loop() {
				d, err := New(context.Background(), backend, model, LoadOptions{})
				if err != nil {
					b.Fatalf("New(%s): %v%s", backend, err, libraryHint(backend))
				}
				d.Close()
			}
		})
	}
}
