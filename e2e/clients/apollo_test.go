package clients_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/testenv"
)

// TestApolloCacheKeepsEachProductsAnswer: Apollo Client's InMemoryCache (default settings)
// normalizes every object with an id. A plan's availability depends on the product asked
// about, so it must not live on the plan: after asking about Windows Server, the cached
// Azure answer still shows the plan as available, without Windows Server's reasons.
func TestApolloCacheKeepsEachProductsAnswer(t *testing.T) {
	e := testenv.New(t)
	lee := linkedLee(t, e)
	node(t, "apollo-cache.mjs", "API="+e.Server.URL+"/query", "TOKEN="+lee, "PLAN="+graph.GlobalID("SupportPlan", spdCloud))
}

// TestApolloCacheIdentifiesNodesByGlobalID: with default settings, Apollo's InMemoryCache
// keys objects by __typename and id. An object read through node(id:), nodes(ids:) and its
// typed field is one entry, and no two types share an ID (a benefit and its plan).
func TestApolloCacheIdentifiesNodesByGlobalID(t *testing.T) {
	e := testenv.New(t)
	lee := linkedLee(t, e)
	node(t, "apollo-node.mjs", "API="+e.Server.URL+"/query", "TOKEN="+lee, "PLAN="+spdCloud)
}

// spdCloud is Contoso's Partner Cloud Support benefit.
const spdCloud = "contoso.solutions_partner_designation.20260901.cloud_support"

// linkedLee activates spdCloud as megan and links it for lee; it returns lee's token.
func linkedLee(t *testing.T, e *testenv.Env) string {
	t.Helper()
	var activated struct {
		ActivateBenefit struct {
			Benefit struct {
				Contract struct{ AccessID, ContractID string }
			}
		}
	}
	e.Do(e.Token("megan@contoso.com"), `mutation($id: ID!) { activateBenefit(benefitId: $id) { benefit { contract { accessId contractId } } } }`,
		map[string]any{"id": spdCloud}).MustData(t, &activated)
	lee := e.Token("lee@contoso.com")
	c := activated.ActivateBenefit.Benefit.Contract
	var linked struct{ LinkSupportPlan struct{ UserErrors []any } }
	e.Do(lee, `mutation($a: String!, $c: String!) { linkSupportPlan(input: {accessId: $a, contractId: $c, portal: AZURE}) { userErrors { code } } }`,
		map[string]any{"a": c.AccessID, "c": c.ContractID}).MustData(t, &linked)
	require.Empty(t, linked.LinkSupportPlan.UserErrors)
	return lee
}
