package awsfake

import (
	"encoding/xml"
	"net/http"
	"strings"
	"sync"
	"time"
)

// IAM models GetRole over a set of roles.
type IAM struct {
	mu    sync.Mutex
	roles map[string]string // name → path
}

// NewIAM has no roles.
func NewIAM() *IAM { return &IAM{roles: map[string]string{}} }

// AddRole adds a role; path is as IAM gives it ("/", or
// "/aws-service-role/ecs.amazonaws.com/" for a service-linked role).
func (f *IAM) AddRole(name, path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roles[name] = path
}

// AddECSServiceLinkedRole adds the role `aws iam create-service-linked-role
// --aws-service-name ecs.amazonaws.com` creates.
func (f *IAM) AddECSServiceLinkedRole() {
	f.AddRole("AWSServiceRoleForECS", "/aws-service-role/ecs.amazonaws.com/")
}

// Install registers the fake on srv.
func (f *IAM) Install(srv *Server) { srv.Handle("iam", f) }

func (f *IAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallFrom(r)
	if c.Operation != "GetRole" {
		QueryError(w, http.StatusBadRequest, "InvalidAction", "awsfake: IAM fakes only GetRole, not "+c.Operation)
		return
	}
	name := c.Form.Get("RoleName")
	f.mu.Lock()
	path, ok := f.roles[name]
	f.mu.Unlock()
	if !ok {
		QueryError(w, http.StatusNotFound, "NoSuchEntity", "The role with name "+name+" cannot be found.")
		return
	}
	type role struct {
		Path       string `xml:"Path"`
		RoleName   string `xml:"RoleName"`
		RoleID     string `xml:"RoleId"`
		Arn        string `xml:"Arn"`
		CreateDate string `xml:"CreateDate"`
	}
	type result struct {
		XMLName xml.Name `xml:"GetRoleResult"`
		Role    role     `xml:"Role"`
	}
	WriteQuery(w, c.Operation, result{Role: role{
		Path:       path,
		RoleName:   name,
		RoleID:     "AROAFAKE" + strings.ToUpper(name),
		Arn:        "arn:aws:iam::" + FakeAccount + ":role" + path + name,
		CreateDate: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339),
	}})
}
