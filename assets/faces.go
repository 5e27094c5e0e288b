package assets

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// FaceSet is a face set's public archive (a zip in the ORL layout) and the digest
// its images must have.
type FaceSet struct {
	URL          string
	ImagesSHA256 string // see ImagesSHA256
}

// Bounds on a face-set archive: ORL is 401 files of about 10 KB, so anything far
// past that is not the set (or is an archive bomb).
const (
	maxFaceEntries    = 2000
	maxFaceEntryBytes = 1 << 20
	maxFaceTotalBytes = 64 << 20
)

// orlImage matches an image of the ORL layout, sN/M.pgm, under at most one
// top-level directory (mirrors differ on that); group 1 is that directory.
var orlImage = regexp.MustCompile(`^([^/]+/)?s[1-9][0-9]*/[1-9][0-9]*\.pgm$`)

// ImagesSHA256 is the digest of the ORL images under fsys: SHA-256 over the
// lines "<sha256 of the file>  <sN/M.pgm>\n" (sha256sum's format) in byte order of
// the path. It is the same however the images were packed. n is how many there are.
func ImagesSHA256(fsys fs.FS) (digest string, n int, err error) {
	var paths []string
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if m := orlImage.FindStringSubmatch(p); d.Type().IsRegular() && m != nil && m[1] == "" {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	sort.Strings(paths)
	all := sha256.New()
	for _, p := range paths {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return "", 0, err
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(all, "%s  %s\n", hex.EncodeToString(sum[:]), p)
	}
	return hex.EncodeToString(all.Sum(nil)), len(paths), nil
}

// fetchFaces puts set's images at dir/faces/orl unless they are there already
// (then it checks them). The archive is downloaded and unpacked in a temporary
// directory inside dir and moved into place only once its images match the
// digest, so a failed, interrupted or refused download leaves nothing behind.
func fetchFaces(ctx context.Context, log *slog.Logger, set FaceSet, dir string) error {
	dest := filepath.Join(dir, FacesORL)
	if _, err := os.Stat(dest); err == nil {
		if err := checkImages(set, dest); err != nil {
			return fmt.Errorf("%s: %w (remove it to download the faces again)", dest, err)
		}
		return nil
	}
	tmp, err := os.MkdirTemp(dir, ".faces-download-*")
	if err != nil {
		return fmt.Errorf("faces: %w", err)
	}
	defer os.RemoveAll(tmp)
	archive := filepath.Join(tmp, "archive.zip")
	if err := fetch(ctx, log, set.URL, archive); err != nil {
		return fmt.Errorf("faces: %w", err)
	}
	sum, err := fileSHA256(archive)
	if err != nil {
		return fmt.Errorf("faces: %w", err)
	}
	unpacked := filepath.Join(tmp, "orl")
	if err := unpackORL(archive, unpacked); err != nil {
		return fmt.Errorf("faces from %s: %w", set.URL, err)
	}
	if err := checkImages(set, unpacked); err != nil {
		return fmt.Errorf("faces from %s (archive sha256 %s): %w", set.URL, sum, err)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("faces: %w", err)
	}
	if err := os.Rename(unpacked, dest); err != nil {
		return fmt.Errorf("faces: %w", err)
	}
	log.Info("assets: ORL faces downloaded and checked", "url", set.URL, "archive_sha256", sum, "images_sha256", set.ImagesSHA256, "dir", dest)
	return nil
}

// checkImages compares the images under dir with set's digest.
func checkImages(set FaceSet, dir string) error {
	got, n, err := ImagesSHA256(os.DirFS(dir))
	if err != nil {
		return err
	}
	if got != set.ImagesSHA256 {
		return fmt.Errorf("the %d images have sha256 %s, want %s", n, got, set.ImagesSHA256)
	}
	return nil
}

// unpackORL writes the ORL images (and the README beside them) of the zip at
// archive into dest. An entry that is absolute or climbs out (.., a backslash, a
// drive) refuses the whole archive, as do images under two different top-level
// directories and sizes past the bounds.
func unpackORL(archive, dest string) error {
	zr, err := zip.OpenReader(archive)
	if err != nil {
		return fmt.Errorf("not a readable zip: %w", err)
	}
	defer zr.Close()
	if len(zr.File) > maxFaceEntries {
		return fmt.Errorf("%d entries, over the limit of %d", len(zr.File), maxFaceEntries)
	}
	prefix, found := "", false
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, "/")
		if strings.ContainsAny(f.Name, `\:`) || !fs.ValidPath(name) {
			return fmt.Errorf("unsafe entry %q: absolute or outside the archive", f.Name)
		}
		if m := orlImage.FindStringSubmatch(name); m != nil {
			if found && m[1] != prefix {
				return fmt.Errorf("images under both %q and %q", prefix, m[1])
			}
			prefix, found = m[1], true
		}
	}
	if !found {
		return errors.New("no images in the ORL layout (sN/M.pgm)")
	}
	var total int64
	for _, f := range zr.File {
		rel, ok := strings.CutPrefix(f.Name, prefix)
		if !ok || !f.Mode().IsRegular() || (rel != "README" && !orlImage.MatchString(rel)) {
			continue
		}
		n, err := unpackFile(f, filepath.Join(dest, filepath.FromSlash(rel)), maxFaceTotalBytes-total)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		total += n
	}
	return nil
}

// unpackFile writes one zip entry to path within min(maxFaceEntryBytes, budget)
// bytes, whatever size the entry declares.
func unpackFile(f *zip.File, p string, budget int64) (int64, error) {
	limit := min(int64(maxFaceEntryBytes), budget)
	rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.LimitReader(rc, limit+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if n > limit {
		return n, fmt.Errorf("over the limit of %d bytes a file, %d in all", maxFaceEntryBytes, maxFaceTotalBytes)
	}
	return n, nil
}

// fileSHA256 is the hex SHA-256 of the file at p.
func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
