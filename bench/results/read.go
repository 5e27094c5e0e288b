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
//	h, recs, samples, err := results.ReadFile(path)
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

// Read parses a results file: the Header on the first line, then Record
// ("request") and Sample ("sample") lines in any order. A malformed line anywhere
// but at the unterminated end, an unknown kind, or a missing header is an error
// naming the line; a truncated last line is skipped with a *TruncatedError.
func Read(r io.Reader) (Header, []Record, []Sample, error) {
	var (
		h       Header
		recs    []Record
		samples []Sample
		br      = bufio.NewReaderSize(r, 64<<10)
		line    int
		gotHead bool
	)
	for {
		raw, rerr := br.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return h, nil, nil, fmt.Errorf("results: read line %d: %w", line+1, rerr)
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
		err := decodeLine(data, &h, &gotHead, &recs, &samples)
		if err != nil {
			if !terminated && gotHead {
				return h, recs, samples, &TruncatedError{Line: line, Bytes: len(raw), Err: err}
			}
			return h, nil, nil, fmt.Errorf("results: line %d: %w", line, err)
		}
		if !terminated {
			break
		}
	}
	if !gotHead {
		return h, nil, nil, errors.New("results: no header line (empty file?)")
	}
	return h, recs, samples, nil
}

func decodeLine(data []byte, h *Header, gotHead *bool, recs *[]Record, samples *[]Sample) error {
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
		return json.Unmarshal(data, h)
	}
	switch k.Kind {
	case "request":
		var rec Record
		if err := json.Unmarshal(data, &rec); err != nil {
			return err
		}
		*recs = append(*recs, rec)
	case "sample":
		var s Sample
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*samples = append(*samples, s)
	case "header":
		return errors.New("second header line")
	default:
		return fmt.Errorf("unknown kind %q (want request or sample)", k.Kind)
	}
	return nil
}

// ReadFile is Read on the file at path.
func ReadFile(path string) (Header, []Record, []Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, nil, nil, fmt.Errorf("results: %w", err)
	}
	defer f.Close()
	h, recs, samples, err := Read(f)
	if err != nil {
		// Wrapped with %w so errors.As still finds a *TruncatedError.
		return h, recs, samples, fmt.Errorf("%s: %w", path, err)
	}
	return h, recs, samples, nil
}
