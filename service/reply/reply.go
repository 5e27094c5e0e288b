// Package reply writes the service's answers: JSON bodies, the error contract
// {"error": {"code", "message"}} and the Server-Timing header, the same on every
// route and entry point.
package reply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/servebench/servebench/service/timing"
)

// Error is an error with the HTTP status and code the client sees. Message is safe
// to show a client; the wrapped Err (if any) is only logged.
type Error struct {
	Status  int
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error with a formatted client message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an Error that keeps err as its cause (logged, not shown).
func Wrap(status int, code, message string, err error) *Error {
	return &Error{Status: status, Code: code, Message: message, Err: err}
}

// Codes used across the service.
const (
	CodeBadRequest    = "bad_request"
	CodeForbidden     = "forbidden"
	CodeNotFound      = "not_found"
	CodeConflict      = "conflict"
	CodeTooLarge      = "too_large"
	CodeNotImage      = "not_an_image"
	CodeUnprocessable = "unprocessable"
	CodeInternal      = "internal"
	CodeUnavailable   = "unavailable"
	CodeDeadline      = "deadline_exceeded"
)

// As turns any error into an *Error: an *Error in the chain as it is, a passed
// deadline as 504, a cancelled request as 503 (the client went away or the server is
// shutting down), anything else as 500.
func As(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.DeadlineExceeded):
		return Wrap(http.StatusGatewayTimeout, CodeDeadline, "the request's deadline passed", err)
	case errors.Is(err, context.Canceled):
		return Wrap(http.StatusServiceUnavailable, CodeUnavailable, "the request was cancelled", err)
	default:
		return Wrap(http.StatusInternalServerError, CodeInternal, "internal error", err)
	}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteError answers with err in the error contract and logs it, with its cause,
// at a level that fits: client errors at Info, server errors at Error.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e := As(err)
	level := slog.LevelInfo
	if e.Status >= 500 {
		level = slog.LevelError
	}
	log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path,
		"status", e.Status, "code", e.Code, "err", e.Error())
	var body errorBody
	body.Error.Code = e.Code
	body.Error.Message = e.Message
	JSON(w, e.Status, body)
}

// JSON writes v as the JSON body with status.
func JSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"could not encode the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// WithTimings sets the Server-Timing header from the stages and writes v as a 200
// JSON body.
func WithTimings(w http.ResponseWriter, stages timing.Map, v any) {
	w.Header().Set("Server-Timing", stages.ServerTiming())
	JSON(w, http.StatusOK, v)
}
