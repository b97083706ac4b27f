package httpapi

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// opFacts are what the limits need of a parsed, validated operation that depend on the
// operation alone, not on the request: gqlgen caches the parsed and validated document per
// query text, so one operation (the same *ast.OperationDefinition) is checked again and
// again, and walking it each time is work thrown away.
type opFacts struct {
	// depth is operationDepth.
	depth int
	// introspects: a field of the operation is __schema or __type.
	introspects bool
	// pages: a field of the operation has a first or last argument.
	pages bool
	// costVars are the variables that cost arguments (Limits.CostArguments) use: the
	// operation's complexity depends on their values and on nothing else of the request.
	// Without any, the complexity is computed once, by the first request that needs it.
	costVars []string
	costOnce sync.Once
	cost     int
}

// opFactsSize bounds the operations remembered, as the query cache (server.go) bounds the
// documents.
const opFactsSize = 1000

// opFactsCache computes opFacts once per operation.
type opFactsCache struct {
	es graphql.ExecutableSchema
	// costArgs are Limits.CostArguments; nil: every argument is one.
	costArgs map[string]bool
	c        *lru.Cache[*ast.OperationDefinition, *opFacts]
}

func newOpFactsCache(costArgs []string) *opFactsCache {
	c, err := lru.New[*ast.OperationDefinition, *opFacts](opFactsSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	fc := &opFactsCache{c: c}
	if costArgs != nil {
		fc.costArgs = map[string]bool{}
		for _, a := range costArgs {
			fc.costArgs[a] = true
		}
	}
	return fc
}

// of returns the facts of oc's operation; the first request that brings the operation
// pays for the walks.
func (fc *opFactsCache) of(oc *graphql.OperationContext) *opFacts {
	op := oc.Operation
	if f, ok := fc.c.Get(op); ok {
		return f
	}
	f := &opFacts{depth: operationDepth(oc.Doc, op)}
	seen := map[string]bool{}
	_ = walkFields(oc.Doc, op.SelectionSet, func(field *ast.Field) *gqlerror.Error {
		if field.Name == "__schema" || field.Name == "__type" {
			f.introspects = true
		}
		for _, a := range field.Arguments {
			if a.Name == "first" || a.Name == "last" {
				f.pages = true
			}
			if fc.costArgs == nil || fc.costArgs[a.Name] {
				for _, v := range variablesIn(a.Value) {
					if !seen[v] {
						seen[v] = true
						f.costVars = append(f.costVars, v)
					}
				}
			}
		}
		return nil
	})
	fc.c.Add(op, f)
	return f
}

// complexity is the operation's cost (the schema's cost model, gqlgen's walk): computed
// once when no cost argument uses a variable, else for this request's variables. The
// values of other variables do not change the cost: the cost model reads only the cost
// arguments, and every value has been validated against its type before this runs.
func (fc *opFactsCache) complexity(ctx context.Context, oc *graphql.OperationContext, f *opFacts) int {
	if len(f.costVars) > 0 {
		return complexity.Calculate(ctx, fc.es, oc.Operation, oc.Variables)
	}
	f.costOnce.Do(func() { f.cost = complexity.Calculate(ctx, fc.es, oc.Operation, oc.Variables) })
	return f.cost
}

// variablesIn lists the variables a value uses, in lists and input objects too.
func variablesIn(v *ast.Value) []string {
	if v == nil {
		return nil
	}
	if v.Kind == ast.Variable {
		return []string{v.Raw}
	}
	var out []string
	for _, c := range v.Children {
		out = append(out, variablesIn(c.Value)...)
	}
	return out
}

// labelCache remembers the metrics label of each operation (label).
type labelCache struct {
	c *lru.Cache[*ast.OperationDefinition, string]
}

func newLabelCache() labelCache {
	c, err := lru.New[*ast.OperationDefinition, string](opFactsSize)
	if err != nil {
		panic(err)
	}
	return labelCache{c: c}
}

func (lc labelCache) of(op *ast.OperationDefinition) string {
	if op == nil {
		return label(nil)
	}
	if l, ok := lc.c.Get(op); ok {
		return l
	}
	l := label(op)
	lc.c.Add(op, l)
	return l
}
