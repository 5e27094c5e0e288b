package faces

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"

	"github.com/servebench/servebench/service/reply"
	"github.com/servebench/servebench/service/storage"
)

// Fetch reads the data set at source within lim:
//   - a directory or a .tar.gz/.tar/.zip file, as a file:// URL or an absolute path;
//   - an http:// or https:// URL of an archive;
//   - a blob object URL of an archive: the bucket URL with the key as path, e.g.
//     s3://bucket/faces/orl.zip?region=us-east-1 or gs://bucket/faces/orl.zip.
//
// Errors are in the reply contract: 400 for a malformed source, 404 when it does not
// exist, 413 over a limit, 422 for an archive that cannot be read.
func Fetch(ctx context.Context, client *http.Client, source string, lim Limits) (Files, error) {
	u, err := url.Parse(source)
	if err != nil {
		return nil, reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest, "source %q is not a URL: %v", source, err)
	}
	switch u.Scheme {
	case "":
		if len(source) == 0 || source[0] != '/' {
			return nil, reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest,
				"source %q: want an absolute path or a file://, https://, s3:// or gs:// URL", source)
		}
		return fetchPath(source, lim)
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest, "source %q: a file:// URL names no host", source)
		}
		return fetchPath(u.Path, lim)
	case "http", "https":
		return fetchHTTP(ctx, client, u, lim)
	default:
		bucketURL, key, err := storage.SplitObjectURL(source)
		if err != nil {
			return nil, err
		}
		b, err := storage.Open(ctx, bucketURL, storage.Options{})
		if err != nil {
			return nil, reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest, "source %s: %v", storage.Name(source), err)
		}
		defer b.Close()
		data, err := b.Read(ctx, key, lim.MaxTotalBytes)
		if err != nil {
			return nil, err
		}
		return readArchiveReply(source, func() (Files, error) { return ReadArchive(bytes.NewReader(data), lim) })
	}
}

func fetchPath(p string, lim Limits) (Files, error) {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, reply.Errorf(http.StatusNotFound, reply.CodeNotFound, "source %s does not exist", p)
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", p, err)
	}
	if fi.IsDir() {
		return readArchiveReply(p, func() (Files, error) { return ReadDir(os.DirFS(p), lim) })
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", p, err)
	}
	defer f.Close()
	return readArchiveReply(p, func() (Files, error) { return ReadArchive(f, lim) })
}

func fetchHTTP(ctx context.Context, client *http.Client, u *url.URL, lim Limits) (Files, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, reply.Errorf(http.StatusBadRequest, reply.CodeBadRequest, "source %s: %v", u.Redacted(), err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, reply.Wrap(http.StatusServiceUnavailable, reply.CodeUnavailable, fmt.Sprintf("source %s could not be fetched", u.Redacted()), err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, reply.Errorf(http.StatusNotFound, reply.CodeNotFound, "source %s answered 404", u.Redacted())
	case resp.StatusCode != http.StatusOK:
		return nil, reply.Errorf(http.StatusServiceUnavailable, reply.CodeUnavailable, "source %s answered %s", u.Redacted(), resp.Status)
	case resp.ContentLength > lim.MaxTotalBytes:
		return nil, reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge,
			"source %s is %d bytes, over the limit of %d", u.Redacted(), resp.ContentLength, lim.MaxTotalBytes)
	}
	return readArchiveReply(u.Redacted(), func() (Files, error) { return ReadArchive(resp.Body, lim) })
}

// readArchiveReply runs read and puts its error in the reply contract: 413 for a
// limit, 422 for anything else wrong with the data.
func readArchiveReply(source string, read func() (Files, error)) (Files, error) {
	files, err := read()
	if err != nil {
		return nil, dataError(source, err)
	}
	return files, nil
}

// dataError classifies a problem with a data set's content.
func dataError(source string, err error) error {
	var re *reply.Error
	switch {
	case errors.As(err, &re):
		return err
	case errors.Is(err, errLimitExceeded):
		return reply.Errorf(http.StatusRequestEntityTooLarge, reply.CodeTooLarge, "data set %s: %v", source, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	default:
		return reply.Errorf(http.StatusUnprocessableEntity, reply.CodeUnprocessable, "data set %s: %v", source, err)
	}
}
