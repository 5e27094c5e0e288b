package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// TruncatedError reports a last line that is not valid JSON and has no trailing
// newline: the writer stopped mid-line (a crash or kill). Read skips that line and
// returns everything before it together with this error, so callers can warn and
// carry on:
//
//	f, err := results.ReadFile(path)
//	var trunc *results.TruncatedError
//	if errors.As(err, &trunc) { log.Warn(trunc.Error()) } else if err != nil { return err }
type TruncatedError struct {
	Line  int // 1-based number of the skipped line
	Bytes int // its length
	Err   error
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("results: last line %d (%d bytes) is truncated and was skipped: %v", e.Line, e.Bytes, e.Err)
}

func (e *TruncatedError) Unwrap() error { return e.Err }

// File is everything a results file holds, by kind.
type File struct {
	Header     Header
	Records    []Record
	Samples    []Sample
	Capacities []Capacity
}

// Read parses a results file into its kinds. A malformed line anywhere but at
// the unterminated end, an unknown kind, or a missing header is an error naming
// the line (with nothing but the header returned); a truncated last line is
// skipped with a *TruncatedError and everything before it returned.
func Read(r io.Reader) (File, error) {
	var (
		f       File
		br      = bufio.NewReaderSize(r, 64<<10)
		line    int
		gotHead bool
	)
	for {
		raw, rerr := br.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return File{Header: f.Header}, fmt.Errorf("results: read line %d: %w", line+1, rerr)
		}
		terminated := rerr == nil
		if len(raw) == 0 && !terminated {
			break
		}
		line++
		data := bytes.TrimSpace(raw)
		if len(data) == 0 {
			if !terminated {
				break
			}
			continue
		}
		err := decodeLine(data, &f, &gotHead)
		if err != nil {
			// Only a line the writer was cut off in is forgiven. A cut JSON
			// object is never valid JSON, so a complete line that is merely
			// wrong (an unknown kind, a field of the wrong type) is an error
			// even at the end.
			if !terminated && gotHead && !json.Valid(data) {
				return f, &TruncatedError{Line: line, Bytes: len(raw), Err: err}
			}
			return File{Header: f.Header}, fmt.Errorf("results: line %d: %w", line, err)
		}
		if !terminated {
			break
		}
	}
	if !gotHead {
		return File{Header: f.Header}, errors.New("results: no header line (empty file?)")
	}
	return f, nil
}

func decodeLine(data []byte, f *File, gotHead *bool) error {
	var k struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(data, &k); err != nil {
		return err
	}
	if !*gotHead {
		if k.Kind != "header" {
			return fmt.Errorf("first line has kind %q, want \"header\"", k.Kind)
		}
		*gotHead = true
		return json.Unmarshal(data, &f.Header)
	}
	switch k.Kind {
	case "request":
		return appendLine(data, &f.Records)
	case "sample":
		return appendLine(data, &f.Samples)
	case "capacity":
		return appendLine(data, &f.Capacities)
	case "header":
		return errors.New("second header line")
	default:
		return fmt.Errorf("unknown kind %q (want request, sample or capacity)", k.Kind)
	}
}

// appendLine decodes data as one T and appends it.
func appendLine[T any](data []byte, to *[]T) error {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*to = append(*to, v)
	return nil
}

// ReadFile is Read on the file at path.
func ReadFile(path string) (File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("results: %w", err)
	}
	defer fh.Close()
	f, err := Read(fh)
	if err != nil {
		// Wrapped with %w so errors.As still finds a *TruncatedError.
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}
