package main

import (
	"testing"

	"github.com/99designs/gqlgen/codegen"
	"github.com/vektah/gqlparser/v2/ast"
)

// object is an object type named name with one resolver field, marked @sequential if
// marked.
func object(name string, marked, root bool) *codegen.Object {
	def := &ast.Definition{Kind: ast.Object, Name: name}
	if marked {
		def.Directives = ast.DirectiveList{{Name: directive}}
	}
	o := &codegen.Object{Definition: def, Root: root}
	o.Fields = []*codegen.Field{{FieldDefinition: &ast.FieldDefinition{Name: "id"}, IsResolver: true, Object: o}}
	return o
}

func TestSequentialTurnsConcurrencyOffOnMarkedTypesOnly(t *testing.T) {
	marked, unmarked := object("Incidents", true, false), object("Tenant", false, false)
	if err := (sequential{}).GenerateCode(&codegen.Data{Objects: codegen.Objects{marked, unmarked}}); err != nil {
		t.Fatal(err)
	}
	if marked.IsConcurrent() || marked.Fields[0].IsConcurrent() {
		t.Error("a field of a @sequential type still runs on a goroutine")
	}
	if !unmarked.IsConcurrent() {
		t.Error("a type without @sequential lost its concurrency")
	}
}

func TestSequentialRefusesARootTypeAndAStaleMark(t *testing.T) {
	root := object("Query", true, true)
	if err := (sequential{}).GenerateCode(&codegen.Data{Objects: codegen.Objects{root}}); err == nil || root.DisableConcurrency {
		t.Errorf("@sequential on Query: err %v, DisableConcurrency %v; want an error and no change", err, root.DisableConcurrency)
	}
	stale := object("PortalHint", true, false)
	stale.Fields[0].IsResolver = false
	if err := (sequential{}).GenerateCode(&codegen.Data{Objects: codegen.Objects{stale}}); err == nil {
		t.Error("@sequential on a type with no concurrent field: no error")
	}
}
