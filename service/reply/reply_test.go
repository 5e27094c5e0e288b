package reply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestErrorsMapToTheContract(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{Errorf(http.StatusNotFound, CodeNotFound, "no object %q", "a.jpg"), 404, CodeNotFound, `no object "a.jpg"`},
		{fmt.Errorf("read: %w", Wrap(http.StatusRequestEntityTooLarge, CodeTooLarge, "image too large", errors.New("12 MB"))), 413, CodeTooLarge, "image too large"},
		{fmt.Errorf("detect: %w", context.DeadlineExceeded), 504, CodeDeadline, "the request's deadline passed"},
		{context.Canceled, 503, CodeUnavailable, "the request was cancelled"},
		{errors.New("disk on fire"), 500, CodeInternal, "internal error"},
	} {
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest("POST", "/predict", nil), quiet, c.err)
		var body struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%v: body %q: %v", c.err, rec.Body, err)
		}
		if rec.Code != c.status || body.Error.Code != c.code || body.Error.Message != c.msg {
			t.Errorf("%v: got %d %+v, want %d %s %q", c.err, rec.Code, body.Error, c.status, c.code, c.msg)
		}
		if rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%v: content type %q", c.err, rec.Header().Get("Content-Type"))
		}
	}
}

func TestCauseIsLoggedNotShown(t *testing.T) {
	e := Wrap(500, CodeInternal, "storage failed", errors.New("secret bucket path"))
	if e.Error() != "storage failed: secret bucket path" || !errors.Is(e, e.Err) {
		t.Errorf("Error() = %q", e.Error())
	}
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("GET", "/", nil), slog.New(slog.NewTextHandler(io.Discard, nil)), e)
	if got := rec.Body.String(); got != `{"error":{"code":"internal","message":"storage failed"}}`+"\n" {
		t.Errorf("body %q leaks or misses something", got)
	}
}
