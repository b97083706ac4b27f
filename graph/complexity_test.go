package graph_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/partnersupport/api/graph"
)

// TestCostModelReadsOnlyCostArguments holds the cost model to graph.CostArguments, which
// the HTTP layer relies on to compute an operation's cost once: for every field of the
// schema that takes arguments, the cost is the same whatever the values of the other
// arguments, and it does change with a cost argument where the model reads one.
func TestCostModelReadsOnlyCostArguments(t *testing.T) {
	t.Parallel()
	es := graph.NewExecutableSchema(graph.Config{Complexity: graph.Complexity()})
	schema := es.Schema()
	ctx := context.Background()
	checked, readsCost := 0, 0
	for _, typ := range schema.Types {
		if typ.Kind != ast.Object {
			continue
		}
		for _, f := range typ.Fields {
			if len(f.Arguments) == 0 {
				continue
			}
			args := func(variant int, costVariant int) map[string]any {
				m := map[string]any{}
				for _, a := range f.Arguments {
					v := variant
					if slices.Contains(graph.CostArguments, a.Name) {
						v = costVariant
					}
					m[a.Name] = sampleValue(t, schema, a.Type, v)
				}
				return m
			}
			base, baseOK := es.Complexity(ctx, typ.Name, f.Name, 7, args(0, 0))
			other, otherOK := es.Complexity(ctx, typ.Name, f.Name, 7, args(1, 0))
			assert.Equal(t, baseOK, otherOK, "%s.%s", typ.Name, f.Name)
			assert.Equal(t, base, other, "%s.%s: the cost changes with an argument outside graph.CostArguments", typ.Name, f.Name)
			if baseOK {
				checked++
				if page, _ := es.Complexity(ctx, typ.Name, f.Name, 7, args(0, 1)); page != base {
					readsCost++
				}
			}
		}
	}
	assert.Greater(t, checked, 10, "fields with arguments and a cost function")
	assert.Greater(t, readsCost, 0, "some field's cost reads a cost argument")
}

// sampleValue is a valid value of a type, as a variable would carry it; variant 0 and 1
// differ wherever the type allows.
func sampleValue(t *testing.T, schema *ast.Schema, typ *ast.Type, variant int) any {
	if typ.Elem != nil {
		return []any{sampleValue(t, schema, typ.Elem, variant)}
	}
	def := schema.Types[typ.NamedType]
	require.NotNil(t, def, typ.NamedType)
	switch def.Kind {
	case ast.Enum:
		return def.EnumValues[variant*(len(def.EnumValues)-1)].Name
	case ast.InputObject:
		m := map[string]any{}
		for _, f := range def.Fields {
			m[f.Name] = sampleValue(t, schema, f.Type, variant)
		}
		return m
	}
	switch def.Name {
	case "Int":
		return int64(3 + 17*variant)
	case "Boolean":
		return variant == 1
	case "ID", "String":
		return []string{"contoso-x", "fabrikam-y"}[variant]
	case "Time":
		return []string{"2026-01-02T03:04:05Z", "2027-06-07T08:09:10Z"}[variant]
	}
	t.Fatalf("no sample value of %s", def.Name)
	return nil
}
