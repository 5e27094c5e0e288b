package stack

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// entryRoutes copies the service module's Functions map (a module this one does not
// import); this keeps the copy in step with it, with gcpUrls' "-" for "_".
func TestEntryRoutesMatchTheService(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../../service/functions.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	service := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "Functions" {
			return true
		}
		for _, e := range vs.Values[0].(*ast.CompositeLit).Elts {
			kv := e.(*ast.KeyValueExpr)
			k, _ := strconv.Unquote(kv.Key.(*ast.BasicLit).Value)
			v, _ := strconv.Unquote(kv.Value.(*ast.BasicLit).Value)
			service[strings.ReplaceAll(k, "_", "-")] = v
		}
		return false
	})
	if len(service) == 0 {
		t.Fatal("no Functions map found in service/functions.go")
	}
	for k, v := range service {
		if entryRoutes[k] != v {
			t.Errorf("service serves %s at %s; entryRoutes has %q", k, v, entryRoutes[k])
		}
	}
	for k := range entryRoutes {
		if _, ok := service[k]; !ok {
			t.Errorf("entryRoutes has %s, which the service does not register", k)
		}
	}
}
