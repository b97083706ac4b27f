package graph_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/testenv"
)

// selectAll writes a selection of every field of the named type, down to depth levels of
// objects, skipping fields that take a required argument. It follows the schema, so a
// field added later is checked without editing this test.
func selectAll(s *ast.Schema, typeName string, depth int) string {
	def := s.Types[typeName]
	var parts []string
	for _, f := range def.Fields {
		if strings.HasPrefix(f.Name, "__") || slices.ContainsFunc(f.Arguments, func(a *ast.ArgumentDefinition) bool {
			return a.Type.NonNull && a.DefaultValue == nil
		}) {
			continue
		}
		inner := s.Types[f.Type.Name()]
		if inner.Kind == ast.Object {
			if depth == 0 {
				continue
			}
			parts = append(parts, f.Name+" { "+selectAll(s, inner.Name, depth-1)+" }")
			continue
		}
		parts = append(parts, f.Name)
	}
	return strings.Join(parts, " ")
}

// timeFormat is RFC 3339 in UTC with at most milliseconds: what the store keeps.
var timeFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$`)

// checkValues walks a response value against the schema type of each field and reports
// every value a strict client would reject or misread: null in a non-null field, "" where
// the schema says a value may be absent (absent is null), an enum value the enum does not
// declare, a timestamp that is not RFC 3339 UTC in milliseconds.
func checkValues(s *ast.Schema, typeName string, v map[string]any, path string, problems *[]string) {
	def := s.Types[typeName]
	for name, val := range v {
		f := def.Fields.ForName(name)
		if f == nil {
			*problems = append(*problems, fmt.Sprintf("%s.%s: not a field of %s", path, name, typeName))
			continue
		}
		checkValue(s, f.Type, val, path+"."+name, problems)
	}
}

func checkValue(s *ast.Schema, t *ast.Type, val any, path string, problems *[]string) {
	bad := func(format string, args ...any) {
		*problems = append(*problems, path+": "+fmt.Sprintf(format, args...))
	}
	if val == nil {
		if t.NonNull {
			bad("null in a non-null field")
		}
		return
	}
	if t.Elem != nil {
		list, ok := val.([]any)
		if !ok {
			bad("not a list: %v", val)
			return
		}
		for i, e := range list {
			checkValue(s, t.Elem, e, fmt.Sprintf("%s[%d]", path, i), problems)
		}
		return
	}
	def := s.Types[t.Name()]
	switch def.Kind {
	case ast.Object:
		obj, ok := val.(map[string]any)
		if !ok {
			bad("not an object: %v", val)
			return
		}
		checkValues(s, def.Name, obj, path, problems)
	case ast.Enum:
		if def.EnumValues.ForName(fmt.Sprint(val)) == nil {
			bad("%q is not a value of enum %s", val, def.Name)
		}
	case ast.Scalar:
		switch def.Name {
		case "String", "ID":
			str, ok := val.(string)
			if !ok {
				bad("not a string: %v", val)
			} else if str == "" && !t.NonNull {
				bad(`"" where the schema allows null: an absent value must be null`)
			}
		case "Time":
			str, _ := val.(string)
			if !timeFormat.MatchString(str) {
				bad("%q is not RFC 3339 UTC with at most milliseconds", val)
			} else if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				bad("%q: %v", str, err)
			}
		case "Int":
			if n, ok := val.(float64); !ok || n != float64(int64(n)) {
				bad("not an integer: %v", val)
			}
		case "Boolean":
			if _, ok := val.(bool); !ok {
				bad("not a boolean: %v", val)
			}
		}
	}
}

// TestResponsesMatchTheSchemaTypes runs every query and mutation with a selection of every
// field (generated from the schema), on demo data with requests free and paid, open and
// closed, and checks every value of every answer against its schema type (checkValue).
func TestResponsesMatchTheSchemaTypes(t *testing.T) {
	t.Parallel()
	s := graph.NewExecutableSchema(graph.Config{}).Schema()
	e := testenv.New(t)
	meganTok, leeTok, samTok := e.Token(megan), e.Token(lee), e.Token(sam)

	var problems []string
	run := func(token, rootType, field, args string, vars map[string]any) json.RawMessage {
		t.Helper()
		op := "query"
		if rootType == "Mutation" {
			op = "mutation"
		}
		f := s.Types[rootType].Fields.ForName(field)
		require.NotNil(t, f, field)
		sel := ""
		if s.Types[f.Type.Name()].Kind == ast.Object {
			sel = "{ " + selectAll(s, f.Type.Name(), 3) + " }"
		}
		var defs []string
		for name := range vars {
			defs = append(defs, "$"+name+": "+map[string]string{"in": "CreateSupportRequestInput!", "id": "ID!"}[name])
		}
		if len(defs) > 0 {
			op += "(" + strings.Join(defs, ", ") + ")"
		}
		q := fmt.Sprintf("%s { %s%s %s }", op, field, args, sel)
		r := e.Do(token, q, vars)
		require.Empty(t, r.Errors, "%s", q)
		var data map[string]any
		require.NoError(t, json.Unmarshal(r.Data, &data))
		checkValues(s, rootType, data, op, &problems)
		return r.Data
	}

	// Data with absent values: a request with no plan and no version, one with a plan,
	// a refund, a pay-per-incident purchase, a refusal with a rule and one without.
	activated := activate(t, e, meganTok, contosoExpanded)
	require.Empty(t, activated.UserErrors)
	require.Empty(t, link(t, e, leeTok, *activated.Benefit.Contract, "AZURE", false).UserErrors)
	run(leeTok, "Mutation", "createSupportRequest", `(input: $in)`, map[string]any{"in": map[string]any{
		"idempotencyKey": "schema-values-free", "productId": "azure", "portal": "AZURE", "type": "PARTNER_PROGRAM", "title": "Program question"}})
	paid := run(leeTok, "Mutation", "createSupportRequest", `(input: $in)`, map[string]any{"in": azureRequest("schema-values-paid", contosoExpanded)})
	var created struct {
		CreateSupportRequest struct{ Request struct{ ID string } }
	}
	require.NoError(t, json.Unmarshal(paid, &created))
	run(leeTok, "Mutation", "closeSupportRequest", `(id: $id, reason: DUPLICATE)`, map[string]any{"id": created.CreateSupportRequest.Request.ID})
	run(leeTok, "Mutation", "createSupportRequest", `(input: $in)`, map[string]any{"in": azureRequest("schema-values-none", "no-such-plan")})
	run(samTok, "Mutation", "purchasePayPerIncident", `(productId: "sql-server", version: "SQL Server 2022")`, nil)
	run(leeTok, "Mutation", "activateBenefit", `(benefitId: $id)`, map[string]any{"id": contosoSPDCloud}) // refused: ROLE_REQUIRED

	for _, tok := range []string{meganTok, leeTok, samTok} {
		run(tok, "Query", "viewer", "", nil)
		run(tok, "Query", "offers", "", nil)
		run(tok, "Query", "products", "", nil)
		for _, p := range []string{`(productId: "azure", portal: AZURE)`, `(productId: "azure", portal: SERVICES_HUB)`,
			`(productId: "windows-server", version: "Windows Server 2019", portal: SERVICES_HUB)`, `(productId: "sql-server", version: "SQL Server 2022", portal: SERVICES_HUB)`} {
			run(tok, "Query", "supportPlans", p, nil)
		}
		run(tok, "Query", "supportRequests", `(portal: AZURE)`, nil)
	}
	run(meganTok, "Query", "tenant", `(id: "contoso")`, nil)
	run(meganTok, "Query", "incidentLedger", `(tenantId: "contoso")`, nil)
	run(leeTok, "Query", "tenant", `(id: "contoso")`, nil)

	sort.Strings(problems)
	require.Empty(t, problems, "values a strict client rejects or misreads")
}

// TestTimestampsHaveOnePrecision: the time a mutation answers is the time a later read
// answers, to the character.
func TestTimestampsHaveOnePrecision(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoExpanded, lee)
	tok := e.Token(lee)
	var created struct {
		CreateSupportRequest struct {
			Request struct{ ID, CreatedAt string }
		}
	}
	e.Do(tok, `mutation($in: CreateSupportRequestInput!) { createSupportRequest(input: $in) { request { id createdAt } } }`,
		map[string]any{"in": azureRequest("one-precision-0001", contosoExpanded)}).MustData(t, &created)
	var listed struct {
		SupportRequests struct {
			Edges []struct {
				Node struct{ ID, CreatedAt string }
			}
		}
	}
	e.Do(tok, `{ supportRequests(portal: AZURE) { edges { node { id createdAt } } } }`, nil).MustData(t, &listed)
	require.Len(t, listed.SupportRequests.Edges, 1)
	require.Equal(t, created.CreateSupportRequest.Request, listed.SupportRequests.Edges[0].Node)
}

// TestRulesExplainARefusal: a client resolves the rule a refusal cites to its title and
// text with the rules query, as docs/rules.md states it.
func TestRulesExplainARefusal(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	refused := activate(t, e, e.Token(lee), contosoSPDCloud)
	require.Len(t, refused.UserErrors, 1)
	rule := refused.UserErrors[0].Rule
	require.NotNil(t, rule)
	var out struct {
		Rules []struct{ Key, Title, Text string }
	}
	e.Do("", `query($ids: [ID!]) { rules(ids: $ids) { key title text } }`, map[string]any{"ids": []string{*rule}}).MustData(t, &out)
	require.Len(t, out.Rules, 1)
	require.Equal(t, "R3", out.Rules[0].Key)
	require.Equal(t, "Who activates", out.Rules[0].Title)
	require.Contains(t, out.Rules[0].Text, "only by a `PARTNER_ADMIN` or `GLOBAL_ADMIN`")

	e.Do("", `{ rules { key } }`, nil).MustData(t, &out)
	require.GreaterOrEqual(t, len(out.Rules), 25, "every rule")
	require.Equal(t, "R1", out.Rules[0].Key)
}
