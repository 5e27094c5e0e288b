package study_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/servebench/servebench/study"
)

// literal finds the string or string-map literal a top-level var or const of a
// source file is set to.
func literal(t *testing.T, file, name string) ast.Expr {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found ast.Expr
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == name && len(vs.Values) == 1 {
			found = vs.Values[0]
		}
		return found == nil
	})
	if found == nil {
		t.Fatalf("%s: no %s", file, name)
	}
	return found
}

func unquote(t *testing.T, e ast.Expr) string {
	t.Helper()
	lit, ok := e.(*ast.BasicLit)
	if !ok {
		t.Fatalf("%T is not a string literal", e)
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The service is its own module and cannot read this package: its copies of the
// study's functions and model key are kept in step here.
func TestServiceAgrees(t *testing.T) {
	routes := map[string]string{} // entry point → route
	for _, e := range literal(t, "../service/functions.go", "Functions").(*ast.CompositeLit).Elts {
		kv := e.(*ast.KeyValueExpr)
		routes[unquote(t, kv.Key)] = unquote(t, kv.Value)
	}
	want := map[string]string{}
	for _, fn := range study.Functions() {
		want[strings.ReplaceAll(fn, "/", "_")] = "/" + fn
	}
	if !maps.Equal(routes, want) {
		t.Errorf("the service's Cloud Functions %v, want the study's %v", routes, want)
	}
	if key := unquote(t, literal(t, "../service/config/config.go", "ModelKey")); key != study.ModelPath {
		t.Errorf("the service reads the model at %s, want %s", key, study.ModelPath)
	}
}

// Functions hands each caller its own slice.
func TestFunctionsIsACopy(t *testing.T) {
	a := study.Functions()
	a[0] = "changed"
	if b := study.Functions(); b[0] != study.FunctionPredict || slices.Contains(b, "changed") {
		t.Errorf("Functions() = %v after a caller changed its copy", b)
	}
}
