package stubprovider

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// EnvLog names the environment variable holding the JSON Lines file every call is
// appended to. The engine starts plugins with its own environment, so a test sets
// it on the pulumi command and every provider process writes to the same file.
const EnvLog = "SERVEBENCH_STUB_LOG"

// Record is one call the engine made, written when the call returns. Start and End
// are wall-clock times, comparable across the provider processes (one per package),
// so a test can tell that one call ended before another began.
type Record struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	PID     int       `json:"pid"`
	Package string    `json:"package"`
	Method  string    `json:"method"`         // the gRPC method: Create, Diff, Delete, Invoke, ...
	Type    string    `json:"type,omitempty"` // resource type token, or the function token of an Invoke
	URN     string    `json:"urn,omitempty"`
	ID      string    `json:"id,omitempty"`
	Preview bool      `json:"preview,omitempty"`
	// Changes is Diff's verdict ("none" or "some") and Diffs the keys that differ.
	Changes string   `json:"changes,omitempty"`
	Diffs   []string `json:"diffs,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// logger appends records to the log file; it does nothing without a path.
type logger struct {
	mu   sync.Mutex
	path string
}

// write appends r as one line in one write(2) on an O_APPEND file, so the lines of
// concurrent provider processes never interleave.
func (l *logger) write(r Record) error {
	if l.path == "" {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("stub log: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("stub log: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("stub log %s: %w", l.path, err)
	}
	return f.Close()
}

// ReadLog reads a log written by the stub providers, in file order. A missing file
// is an empty log (no provider was called).
func ReadLog(path string) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stub log: %w", err)
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("stub log %s line %d: %w", path, n, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("stub log %s: %w", path, err)
	}
	return out, nil
}
