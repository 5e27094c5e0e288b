package faces

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/servebench/servebench/service/reply"
)

func status(err error) int {
	var re *reply.Error
	if errors.As(err, &re) {
		return re.Status
	}
	return 0
}

// Fetch reads every kind of source: directory and archive paths, file:// URLs,
// https:// and blob object URLs; and says what was wrong with the bad ones.
func TestFetchSources(t *testing.T) {
	ctx := context.Background()
	orlFiles, err := ReadDir(os.DirFS(orlDir(t)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	two := Files{"orl/s1/1.pgm": orlFiles["s1/1.pgm"], "orl/s2/1.pgm": orlFiles["s2/1.pgm"]}
	var archive bytes.Buffer
	if err := WriteArchive(&archive, two); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	archivePath := filepath.Join(dir, "orl.tar.gz")
	os.WriteFile(archivePath, archive.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "orl.zip"), zipOf(t, two), 0o644)

	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/orl.tar.gz":
			w.Write(archive.Bytes())
		case "/broken":
			http.Error(w, "down", http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	for _, src := range []string{archivePath, "file://" + archivePath, "file://" + filepath.Join(dir, "orl.zip"),
		srv.URL + "/orl.tar.gz"} {
		files, err := Fetch(ctx, srv.Client(), src, DefaultLimits)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if len(files) != 2 || !bytes.Equal(files["orl/s2/1.pgm"], orlFiles["s2/1.pgm"]) {
			t.Errorf("%s: %d files", src, len(files))
		}
	}
	files, err := Fetch(ctx, nil, "file://"+orlDir(t), DefaultLimits)
	if err != nil || len(files) != len(orlFiles) {
		t.Errorf("directory: %d files, %v", len(files), err)
	}

	bad := map[string]int{
		"relative/path":               400,
		"file://host/x":               400,
		"ftp://example.com/orl.zip":   400,
		"file:///nonexistent/orl.zip": 404,
		srv.URL + "/missing.zip":      404,
		srv.URL + "/broken":           503,
	}
	for src, want := range bad {
		if _, err := Fetch(ctx, srv.Client(), src, DefaultLimits); status(err) != want {
			t.Errorf("%s: %v (status %d), want %d", src, err, status(err), want)
		}
	}
	small := Limits{MaxEntries: 10, MaxEntryBytes: 1 << 20, MaxTotalBytes: 1 << 10}
	if _, err := Fetch(ctx, srv.Client(), srv.URL+"/orl.tar.gz", small); status(err) != 413 {
		t.Errorf("over the limit: %v", err)
	}
}
