package graph_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
)

// introspected is the part of the schema the walk needs.
type introspected struct {
	Schema struct {
		QueryType        struct{ Name string }
		MutationType     struct{ Name string }
		SubscriptionType struct{ Name string }
		Types            []struct {
			Name   string
			Kind   string
			Fields []struct {
				Name string
				Args []struct{ Name string }
				Type typeRef
			}
		}
	} `json:"__schema"`
}

type typeRef struct {
	Kind   string
	Name   *string
	OfType *typeRef
}

func (t typeRef) named() string {
	for r := &t; r != nil; r = r.OfType {
		if r.Name != nil {
			return *r.Name
		}
	}
	return ""
}

// selections returns a selection set reaching the Contract type from typ, or "" when none
// does (depth-bounded, no type visited twice on one path).
func selections(s introspected, typ string, seen map[string]bool) string {
	if typ == "Contract" {
		return "{ accessId contractId }"
	}
	if seen[typ] {
		return ""
	}
	seen[typ] = true
	defer delete(seen, typ)
	for _, t := range s.Schema.Types {
		if t.Name != typ || t.Kind != "OBJECT" {
			continue
		}
		var parts []string
		for _, f := range t.Fields {
			if len(f.Args) > 0 {
				continue // fields with arguments below the root are not on a path to Contract today
			}
			if sub := selections(s, f.Type.named(), seen); sub != "" {
				parts = append(parts, f.Name+" "+sub)
			}
		}
		if len(parts) == 0 {
			return ""
		}
		sort.Strings(parts)
		return "{ __typename " + strings.Join(parts, " ") + " }"
	}
	return ""
}

// TestR4_NoPathOfTheSchemaShowsTheIDsToOutsiders walks every root field whose result can
// reach the Contract type (accessId, contractId) and asks for every such path, as a member
// of another tenant and as an outside user who linked the plan. Neither sees the IDs, in
// data or in errors. A new root field that reaches Contract fails the test until it is
// given arguments here.
func TestR4_NoPathOfTheSchemaShowsTheIDsToOutsiders(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	c := activated(t, e, contosoSPDCloud)
	require.Empty(t, link(t, e, e.Token(sam), c, "AZURE", false).UserErrors)
	var s introspected
	e.Do("", `{ __schema { queryType { name } mutationType { name } subscriptionType { name }
		types { name kind fields { name args { name } type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`, nil).MustData(t, &s)

	// Arguments for each root field that reaches Contract, aimed at Contoso's plan.
	args := map[string]string{
		"Query.viewer":             "",
		"Query.tenant":             `(id: "contoso")`,
		"Mutation.activateBenefit": `(benefitId: "` + contosoSPDCloud + `")`,
		"Mutation.purchaseOffer":   `(tenantId: "contoso", offer: "PARTNER_SUCCESS_CORE")`,
		"Mutation.renewOffer":      `(heldOfferId: "contoso.solutions_partner_designation.20260901")`,
	}
	roots := map[string]string{"Query": s.Schema.QueryType.Name, "Mutation": s.Schema.MutationType.Name, "Subscription": s.Schema.SubscriptionType.Name}
	tried := 0
	reached := map[string]bool{}
	for kind, rootName := range roots {
		for _, typ := range s.Schema.Types {
			if typ.Name != rootName {
				continue
			}
			for _, f := range typ.Fields {
				sel := selections(s, f.Type.named(), map[string]bool{})
				if sel == "" {
					continue
				}
				key := kind + "." + f.Name
				reached[key] = true
				a, ok := args[key]
				require.True(t, ok, "%s can reach Contract: give it arguments in this test", key)
				op := "query"
				if kind == "Mutation" {
					op = "mutation"
				}
				require.NotEqual(t, "Subscription", kind, "a subscription reaching Contract needs a websocket walk here")
				q := op + " { " + f.Name + a + " " + sel + " }"
				for _, who := range []string{patti, sam} {
					r := e.Do(e.Token(who), q, nil)
					body, _ := json.Marshal(r)
					assert.NotContains(t, string(body), c.AccessID, "%s as %s shows the Access ID", key, who)
					assert.NotContains(t, string(body), c.ContractID, "%s as %s shows the Contract ID", key, who)
					tried++
				}
			}
		}
	}
	assert.Equal(t, 2*len(args), tried, "every listed root field was tried")
	assert.Len(t, reached, len(args))
	// linkSupportPlan and viewer.linkedPlans answer outside users: their types must never
	// reach the IDs (R4), whatever is added to them.
	assert.Empty(t, selections(s, "LinkSupportPlanPayload", map[string]bool{}))
	assert.Empty(t, selections(s, "LinkedPlan", map[string]bool{}))
	// And the IDs are there for a member, so the walk does look where they are.
	r := e.Do(e.Token(lee), `{ tenant(id: "contoso") { benefits { contract { accessId contractId } } } }`, nil)
	body, _ := json.Marshal(r)
	assert.Contains(t, string(body), c.AccessID)
}
