package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/servebench/servebench/bench/results"
)

// TestRecordCarriesLambdaRequestID: server.request_id (the Lambda request id a
// Lambda answer names) reaches the record and its results line; an answer
// without one leaves the line without the key. What ran it (backend, threads,
// codec) reaches the record too.
func TestRecordCarriesLambdaRequestID(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		server := `"cold":true,"instance":"i-1","platform":"lambda","memory_mb":2048,"backend":"onnxruntime","threads":1,"codec":"turbojpeg"`
		if id := r.URL.Query().Get("id"); id != "" {
			server += fmt.Sprintf(`,"request_id":%q`, id)
		}
		fmt.Fprintf(w, `{"server":{%s},"timings_ms":{"total":12}}`, server)
	}))
	defer srv.Close()
	a := NewAttacker()
	defer a.Close()
	for _, c := range []struct{ query, want string }{
		{"?id=3e1b8f5a-2c4d-4e6f-8a9b-0c1d2e3f4a5b", "3e1b8f5a-2c4d-4e6f-8a9b-0c1d2e3f4a5b"},
		{"", ""},
	} {
		res := a.Do(context.Background(), Target{URL: srv.URL + "/predict" + c.query, Record: results.Record{Scenario: "coldwarm", Group: "cold"}})
		if !res.OK() || res.RequestID != c.want {
			t.Errorf("%q: status %d err %q request id %q, want %q", c.query, res.Status, res.Err, res.RequestID, c.want)
		}
		rec := res.Record()
		if rec.RequestID != c.want || rec.MemoryMB != 2048 || rec.Group != "cold" ||
			rec.Backend != "onnxruntime" || rec.Threads != 1 || rec.Codec != "turbojpeg" {
			t.Errorf("%q: record %+v, want request id %q", c.query, rec, c.want)
		}
		line, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(string(line), `"request_id":`); has != (c.want != "") {
			t.Errorf("%q: results line %s; want request_id only when the answer named one", c.query, line)
		}
	}
}
