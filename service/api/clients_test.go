package api_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/servebench/servebench/service/api/apitest"
	"github.com/servebench/servebench/service/config"
)

// TestStudyClientsOverHTTP: the two studies' own clients, unchanged, against the
// HTTP server (ECS, local): the Eigenfaces study's curl sequence (GET, no id, the
// upload as curl's multipart) names a held-out ORL face; the YOLO study's Locust
// and JMeter requests answer the dog's detections. The Lambda and Cloud Functions
// entry points run the same clients in their own packages.
func TestStudyClientsOverHTTP(t *testing.T) {
	subjects := []int{5, 13, 22, 31}
	dir := apitest.ORLSubset(t, subjects...)
	s := newService(t, "file", func(c *config.Config) { c.FacesSource = dir })
	addr := s.srv.Listener.Addr().String()
	send := apitest.OverTCP(addr)
	face, name := apitest.HeldOut(t, dir, subjects, 1)
	answers := apitest.EigenfacesCurl(t, apitest.ExampleImage(t, face), func(fn string) apitest.Endpoint {
		return apitest.Endpoint{Send: send, Host: addr, Target: "/faces/" + fn}
	})
	apitest.CheckPredicted(t, answers, name)
	apitest.YOLOClients(t, send, addr)
}

// TestFacesFromPublicArchive: a deployment pointed at the ORL set's public home
// (SERVEBENCH_FACES_SOURCE = an https URL of att_faces.zip, ?source= off) fetches
// the archive itself, README and all, and the study's curl sequence names a
// held-out face. The archive is served locally in the public one's layout.
func TestFacesFromPublicArchive(t *testing.T) {
	subjects := []int{2, 11, 20, 29, 38}
	dir := apitest.ORLSubset(t, subjects...)
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("The ORL face database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := zipDir(t, dir)
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/research/dtg/attarchive/pub/data/att_faces.zip" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		w.Write(archive)
	}))
	t.Cleanup(public.Close)
	s := newService(t, "file", func(c *config.Config) {
		c.FacesSource = public.URL + "/research/dtg/attarchive/pub/data/att_faces.zip"
		c.FacesAllowSrc = false
	})
	addr := s.srv.Listener.Addr().String()
	face, name := apitest.HeldOut(t, dir, subjects, 0)
	answers := apitest.EigenfacesCurl(t, apitest.ExampleImage(t, face), func(fn string) apitest.Endpoint {
		return apitest.Endpoint{Send: apitest.OverTCP(addr), Host: addr, Target: "/faces/" + fn}
	})
	if dl := answers["download_data"]; dl["people"] != float64(len(subjects)) || dl["layout"] != "orl" {
		t.Errorf("download_data from the public archive: %v", dl)
	}
	apitest.CheckPredicted(t, answers, name)
}
