package graph

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2"
	gqlast "github.com/vektah/gqlparser/v2/ast"
)

// TestSequentialTypesOnlyMapTheirObject: gqlgen resolves the fields of a type marked
// @sequential in schema.graphqls in place, one after the other (internal/gqlgen), so none
// of that type's resolvers may read: none uses a service of the Resolver (or the feed), nor
// withCaller, the way to one. A resolver that does needs its goroutine; remove the mark.
func TestSequentialTypesOnlyMapTheirObject(t *testing.T) {
	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	schema, gerr := gqlparser.LoadSchema(&gqlast.Source{Name: "schema.graphqls", Input: string(src)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	sequential := map[string]string{} // resolver type, as gqlgen names it -> GraphQL type
	for _, def := range schema.Types {
		if def.Directives.ForName("sequential") != nil {
			sequential[strings.ToLower(def.Name[:1])+def.Name[1:]+"Resolver"] = def.Name
		}
	}
	if len(sequential) == 0 {
		t.Fatal("no type is marked @sequential")
	}
	reads := map[string]bool{}
	for f := range reflect.TypeFor[Resolver]().Fields() {
		reads[f.Name] = true
	}

	file, err := parser.ParseFile(token.NewFileSet(), "schema.resolvers.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Recv == nil {
			continue
		}
		star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
		if !ok {
			continue
		}
		typ, ok := sequential[star.X.(*ast.Ident).Name]
		if !ok {
			continue
		}
		checked++
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && (reads[id.Name] || strings.HasPrefix(id.Name, "withCaller")) { // a bare name or a selector's
				t.Errorf("%s.%s (a @sequential type) uses %s: it reads, so it must run concurrently; remove @sequential from %s", typ, fn.Name.Name, id.Name, typ)
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("found no resolver of a @sequential type in schema.resolvers.go")
	}
}

// TestSequentialIsNotInIntrospection: @sequential is for code generation only, so
// introspection does not list it.
func TestSequentialIsNotInIntrospection(t *testing.T) {
	h := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	h.AddTransport(transport.POST{})
	h.Use(extension.Introspection{})
	var out struct {
		Schema struct{ Directives []struct{ Name string } }
	}
	client.New(h).MustPost(`{ schema: __schema { directives { name } } }`, &out)
	var names []string
	for _, d := range out.Schema.Directives {
		names = append(names, d.Name)
	}
	if !slices.Contains(names, "skip") || slices.Contains(names, "sequential") {
		t.Errorf("introspection lists the directives %v; want skip and not sequential", names)
	}
}
