package api

import (
	"io"
	"net/http"
	"strconv"

	"github.com/servebench/servebench/service/reply"
)

// health is the /healthz answer; Backend and Threads are the configured backend
// and the threads it will get until the model is loaded, then the detector's.
type health struct {
	Status      string `json:"status"`
	ModelLoaded bool   `json:"model_loaded"`
	Instance    string `json:"instance"`
	Backend     string `json:"backend"`
	Threads     int    `json:"threads"`
}

// healthz answers whether the process is up. It does not load the model (a probe
// must stay cheap) and does not count as the instance's cold request.
func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	h := health{Status: "ok", Instance: a.Instance.ID()}
	h.Backend, h.Threads, h.ModelLoaded = a.runsWith()
	reply.JSON(w, http.StatusOK, h)
}

// files serves an object of a file:// output bucket to whoever holds a URL the
// bucket signed, until it expires: the local stand-in for an S3 or GCS signed URL.
func (a *API) files(w http.ResponseWriter, r *http.Request) {
	signer := a.Output.LocalSigner()
	key, err := signer.KeyFromURL(r.Context(), r.URL)
	if err != nil || r.URL.Query().Get("method") != http.MethodGet {
		reply.WriteError(w, r, a.Log, reply.Errorf(http.StatusForbidden, "forbidden", "the URL's signature is invalid or has expired"))
		return
	}
	rd, err := a.Output.NewReader(r.Context(), key, nil)
	if err != nil {
		reply.WriteError(w, r, a.Log, reply.Wrap(http.StatusNotFound, reply.CodeNotFound, "no such object", err))
		return
	}
	defer rd.Close()
	w.Header().Set("Content-Type", rd.ContentType())
	w.Header().Set("Content-Length", strconv.FormatInt(rd.Size(), 10))
	if _, err := io.Copy(w, rd); err != nil {
		a.Log.InfoContext(r.Context(), "serving a signed file failed", "key", key, "err", err)
	}
}
