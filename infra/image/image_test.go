package image

import (
	"encoding/json"
	"testing"
)

func TestLifecyclePolicy(t *testing.T) {
	s, err := LifecyclePolicy(3)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Rules []struct {
			RulePriority int
			Selection    struct {
				TagStatus, CountType string
				CountNumber          int
			}
			Action struct{ Type string }
		}
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil || len(p.Rules) != 1 {
		t.Fatalf("policy %s: %v", s, err)
	}
	r := p.Rules[0]
	if r.RulePriority != 1 || r.Selection.TagStatus != "any" || r.Selection.CountType != "imageCountMoreThan" || r.Selection.CountNumber != 3 || r.Action.Type != "expire" {
		t.Errorf("rule %+v", r)
	}
}
