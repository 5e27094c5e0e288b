package apitest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"testing"

	"github.com/servebench/servebench/service/reply"
)

// ErrorCodes is the error contract's code for each status the service answers
// with an error (DESIGN.md, service/reply).
var ErrorCodes = map[int]string{
	http.StatusBadRequest:            reply.CodeBadRequest,
	http.StatusForbidden:             reply.CodeForbidden,
	http.StatusNotFound:              reply.CodeNotFound,
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusConflict:              reply.CodeConflict,
	http.StatusRequestEntityTooLarge: reply.CodeTooLarge,
	http.StatusUnsupportedMediaType:  reply.CodeNotImage,
	http.StatusUnprocessableEntity:   reply.CodeUnprocessable,
	http.StatusInternalServerError:   reply.CodeInternal,
	http.StatusServiceUnavailable:    reply.CodeUnavailable,
	http.StatusGatewayTimeout:        reply.CodeDeadline,
}

// CheckError says why a is not an error answer of the contract with one of the
// allowed statuses: a JSON {"error": {"code", "message"}} body whose code is the
// status's, a non-empty message, Content-Type application/json, and an Allow
// header on a 405. It returns nil for such an answer.
func CheckError(a Answer, allowed ...int) error {
	if !slices.Contains(allowed, a.Status) {
		return fmt.Errorf("status %d, want one of %v: %q", a.Status, allowed, a.Body)
	}
	if ct := a.Header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("status %d with Content-Type %q, want application/json", a.Status, ct)
	}
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.Body, &body); err != nil || body.Error == nil {
		return fmt.Errorf("status %d with a body outside the error contract: %q", a.Status, a.Body)
	}
	if want := ErrorCodes[a.Status]; body.Error.Code != want || body.Error.Message == "" {
		return fmt.Errorf("status %d with code %q and message %q, want code %q and a message", a.Status, body.Error.Code, body.Error.Message, want)
	}
	if a.Status == http.StatusMethodNotAllowed && a.Header.Get("Allow") == "" {
		return fmt.Errorf("405 without an Allow header")
	}
	return nil
}

// Files lists the regular files under dir (a file:// bucket's directory),
// relative to it: what a request left on disk, sidecars and stray temporary files
// included, which a bucket listing would not show.
func Files(tb testing.TB, dir string) []string {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}
