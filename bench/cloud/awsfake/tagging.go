package awsfake

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Tagging models the Resource Groups Tagging API's GetResources (awsJson1.1):
// tagged resources filtered by TagFilters (every filter must match; a filter
// matches when the resource has the key and, if Values are given, one of them),
// answered in pages of at most PageSize resources with a PaginationToken that is
// empty on the last page, as the API does.
type Tagging struct {
	// PageSize caps each page (0: the request's ResourcesPerPage, else 50).
	PageSize int

	mu        sync.Mutex
	resources []TaggedResource
}

// TaggedResource is a resource's ARN and its tags.
type TaggedResource struct {
	ARN  string
	Tags map[string]string
}

// NewTagging returns a model with no resources.
func NewTagging() *Tagging { return &Tagging{} }

// Install registers the model with s (the API signs as "tagging").
func (t *Tagging) Install(s *Server) { s.Handle("tagging", t) }

// Add lists resources as tagged.
func (t *Tagging) Add(rs ...TaggedResource) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.resources = append(t.resources, rs...)
}

// Remove stops listing a resource.
func (t *Tagging) Remove(arn string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, r := range t.resources {
		if r.ARN == arn {
			t.resources = append(t.resources[:i], t.resources[i+1:]...)
			return
		}
	}
}

type tagFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

func (f tagFilter) matches(tags map[string]string) bool {
	v, ok := tags[f.Key]
	if !ok {
		return false
	}
	if len(f.Values) == 0 {
		return true
	}
	for _, want := range f.Values {
		if v == want {
			return true
		}
	}
	return false
}

// ServeHTTP answers GetResources.
func (t *Tagging) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallFrom(r)
	if c.Operation != "GetResources" {
		JSONError(w, http.StatusBadRequest, "InvalidParameterException", "awsfake: Tagging does not model "+c.Operation)
		return
	}
	var in struct {
		PaginationToken  string      `json:"PaginationToken"`
		ResourcesPerPage int         `json:"ResourcesPerPage"`
		TagFilters       []tagFilter `json:"TagFilters"`
	}
	if !decodeJSONCall(w, c, &in) {
		return
	}
	start := 0
	if in.PaginationToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(in.PaginationToken, "page-"))
		if err != nil || !strings.HasPrefix(in.PaginationToken, "page-") {
			JSONError(w, http.StatusBadRequest, "PaginationTokenExpiredException", "awsfake: unknown pagination token "+in.PaginationToken)
			return
		}
		start = n
	}
	size := 50
	if in.ResourcesPerPage > 0 {
		size = in.ResourcesPerPage
	}
	if t.PageSize > 0 && t.PageSize < size {
		size = t.PageSize
	}
	t.mu.Lock()
	var matched []TaggedResource
	for _, res := range t.resources {
		ok := true
		for _, f := range in.TagFilters {
			ok = ok && f.matches(res.Tags)
		}
		if ok {
			matched = append(matched, res)
		}
	}
	t.mu.Unlock()
	list := []any{}
	end := min(start+size, len(matched))
	for _, res := range matched[min(start, end):end] {
		tags := []any{}
		for k, v := range res.Tags {
			tags = append(tags, map[string]string{"Key": k, "Value": v})
		}
		list = append(list, map[string]any{"ResourceARN": res.ARN, "Tags": tags})
	}
	token := ""
	if end < len(matched) {
		token = "page-" + strconv.Itoa(end)
	}
	WriteJSON(w, http.StatusOK, map[string]any{"PaginationToken": token, "ResourceTagMappingList": list})
}
