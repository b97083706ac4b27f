package baseline_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/e2e/bench/benchenv"
	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.MainInProcess(m)) }

// TestBaselineAnswersAsGraphQL keeps the benchmark honest: for several accounts, products,
// versions and portals (available and unavailable plans, the portal hint, CSP reasons,
// refusals, a bad token), the baseline answers the same status and the same JSON value as
// the GraphQL API, over the same store and service.
func TestBaselineAnswersAsGraphQL(t *testing.T) {
	e := benchenv.New(t)
	c := benchenv.Client(1)
	cases := []struct {
		who string
		q   benchenv.Query
	}{
		{benchenv.Lee, benchenv.Azure},                                                                                    // three linked plans, the CSP plan without the role
		{benchenv.Lee, benchenv.Query{Product: "azure", Portal: "SERVICES_HUB"}},                                          // portal hint
		{benchenv.Lee, benchenv.Query{Product: "microsoft-365", Portal: "MICROSOFT_365"}},                                 // R10
		{benchenv.Lee, benchenv.Query{Product: "windows-server", Version: "Windows Server 2019", Portal: "SERVICES_HUB"}}, // R8
		{benchenv.Lee, benchenv.Query{Product: "sql-server", Version: "SQL Server 2022", Portal: "SERVICES_HUB"}},
		{benchenv.Lee, benchenv.Query{Product: "no-such-product", Portal: "AZURE"}},                          // refused (R8)
		{benchenv.Lee, benchenv.Query{Product: "windows-server", Version: "NT 4.0", Portal: "SERVICES_HUB"}}, // refused (R8)
		{benchenv.Megan, benchenv.Azure},                                                                     // a member who linked nothing
		{"adele@contoso.com", benchenv.Azure},                                                                // ADMIN_AGENT: the CSP plan (R14)
		{"grady@northwind.com", benchenv.Azure},                                                              // indirect reseller (R14)
		{"diego@contoso.com", benchenv.Azure},                                                                // Premier linked (R12)
		{"sam.freelancer@outlook.com", benchenv.Azure},                                                       // no plan at all
		{"patti@fabrikam.com", benchenv.Query{Product: "dynamics-365-sales", Portal: "DYNAMICS"}},
	}
	nonEmpty := 0
	for _, tc := range cases {
		t.Run(tc.who+"/"+tc.q.Product+"/"+tc.q.Portal, func(t *testing.T) {
			tok := e.Token(tc.who)
			gs, gb, err := e.GraphQL(tok, tc.q).Send(c)
			require.NoError(t, err)
			bs, bb, err := e.Baseline(tok, tc.q).Send(c)
			require.NoError(t, err)
			assert.Equal(t, gs, bs, "status")
			var g, b any
			require.NoError(t, json.Unmarshal(gb, &g), "GraphQL: %s", gb)
			require.NoError(t, json.Unmarshal(bb, &b), "baseline: %s", bb)
			require.Equal(t, g, b, "GraphQL %s\nbaseline %s", gb, bb)
			var plans struct {
				Data *struct {
					SupportPlans struct{ Available, Unavailable []any }
				}
			}
			require.NoError(t, json.Unmarshal(gb, &plans))
			if plans.Data != nil && len(plans.Data.SupportPlans.Available)+len(plans.Data.SupportPlans.Unavailable) > 0 {
				nonEmpty++
			}
		})
	}
	assert.GreaterOrEqual(t, nonEmpty, 8, "most cases must list plans, or the comparison says little")

	// The benchmarks' question: lee sees his three linked plans.
	_, body, err := e.GraphQL(e.Token(benchenv.Lee), benchenv.Azure).Send(c)
	require.NoError(t, err)
	var out struct {
		Data struct {
			SupportPlans struct {
				Available   []benchPlan
				Unavailable []struct{ Plan benchPlan }
			}
		}
	}
	require.NoError(t, json.Unmarshal(body, &out))
	linked := map[string]bool{}
	all := out.Data.SupportPlans.Available
	for _, u := range out.Data.SupportPlans.Unavailable {
		all = append(all, u.Plan)
	}
	for _, p := range all {
		if p.Linked {
			linked[p.ID] = true
		}
	}
	for _, id := range benchenv.LinkedPlans {
		assert.True(t, linked[graph.GlobalID("SupportPlan", id)], "%s is linked for lee: %s", id, body)
	}

	// A bad token is refused by both with 401 and UNAUTHENTICATED.
	for _, r := range []*benchenv.Request{e.GraphQL("not-a-token", benchenv.Azure), e.Baseline("not-a-token", benchenv.Azure)} {
		status, body, err := r.Send(c)
		require.NoError(t, err)
		assert.Equal(t, 401, status)
		assert.Contains(t, string(body), `"UNAUTHENTICATED"`)
	}
}

type benchPlan struct {
	ID     string
	Linked bool
}
