package awsfake

import (
	"fmt"
	"net/http"
	"sync"
)

// ECR models Amazon ECR repositories for DescribeRepositories (awsJson1.1): named
// repositories that exist are described; any named one that does not is a
// RepositoryNotFoundException for the whole call, as in AWS.
type ECR struct {
	mu    sync.Mutex
	repos map[string]bool
}

// NewECR returns a model with no repositories.
func NewECR() *ECR { return &ECR{repos: map[string]bool{}} }

// Install registers the model with s (ECR signs as "ecr").
func (e *ECR) Install(s *Server) { s.Handle("ecr", e) }

// SetRepository makes a repository exist or not.
func (e *ECR) SetRepository(name string, exists bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.repos[name] = exists
}

// ServeHTTP answers DescribeRepositories.
func (e *ECR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallFrom(r)
	if c.Operation != "DescribeRepositories" {
		JSONError(w, http.StatusBadRequest, "InvalidParameterException", "awsfake: ECR does not model "+c.Operation)
		return
	}
	var in struct {
		RepositoryNames []string `json:"repositoryNames"`
	}
	if !decodeJSONCall(w, c, &in) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	repos := []any{}
	for _, name := range in.RepositoryNames {
		if !e.repos[name] {
			JSONError(w, http.StatusBadRequest, "RepositoryNotFoundException",
				fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", name, FakeAccount))
			return
		}
		repos = append(repos, map[string]any{"repositoryName": name, "registryId": FakeAccount,
			"repositoryArn": fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", Region, FakeAccount, name),
			"repositoryUri": fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", FakeAccount, Region, name)})
	}
	WriteJSON(w, http.StatusOK, map[string]any{"repositories": repos})
}
