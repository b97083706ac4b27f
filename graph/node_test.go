package graph_test

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/testenv"
)

// gid is the global ID of the object of type typ with this key (graph/globalid.go).
func gid(typ, key string) string { return graph.GlobalID(typ, key) }

// key is the key inside a global ID.
func key(id string) string { _, k, _ := graph.ParseGlobalID(id); return k }

// rawAnswer posts a query and returns the status and the response body as it is, to
// compare answers byte for byte.
func rawAnswer(t *testing.T, e *testenv.Env, token, query string, vars map[string]any) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	status, out := rawPost(t, e, token, "application/json", string(body))
	return strconv.Itoa(status) + " " + out
}

const nodeQuery = `query($id: ID!) { node(id: $id) { __typename id } }`

// nodeOf asks node(id:) and returns its __typename and id ("" and "" for null).
func nodeOf(t *testing.T, e *testenv.Env, token, id string) (typename, gotID string) {
	t.Helper()
	var out struct {
		Node *struct {
			Typename string `json:"__typename"`
			ID       string `json:"id"`
		}
	}
	e.Do(token, nodeQuery, map[string]any{"id": id}).MustData(t, &out)
	if out.Node == nil {
		return "", ""
	}
	return out.Node.Typename, out.Node.ID
}

// nodeWorld is an environment with one object of every Node type reachable by the demo
// accounts, and their IDs as the API lists them, by type.
type nodeWorld struct {
	e   *testenv.Env
	ids map[string][]string // type -> IDs, each read by the token in who
	who map[string]string   // ID -> the token that lists it
	// fabrikam's objects, which no contoso account may see.
	foreign map[string]string // type -> ID
	// request is lee's request: its SupportRequest and ProviderRequest IDs.
	request, providerRequest string
}

func newNodeWorld(t *testing.T) *nodeWorld {
	e := testenv.New(t)
	w := &nodeWorld{e: e, ids: map[string][]string{}, who: map[string]string{}, foreign: map[string]string{}}
	megTok, leeTok, pattiTok, provTok := e.Token(megan), e.Token(lee), e.Token(patti), e.ProviderToken("acme-support")
	add := func(typ, token, id string) {
		require.NotEmpty(t, id, typ)
		w.ids[typ] = append(w.ids[typ], id)
		w.who[id] = token
	}
	// lee's request on Contoso's cloud plan (megan activates it, lee links it).
	created := create(t, e, leeTok, azureRequestOn(t, e, lee, contosoSPDCloud, megan, "node-world-0001"))
	require.NotNil(t, created.Request, "%v", created.UserErrors)
	w.request = created.Request.ID

	var m struct {
		Viewer struct{ ID string }
		Tenant struct {
			ID, Key string
			Admins  []struct{ ID string }
			Offers  []struct {
				ID    string
				Offer struct{ ID string }
			}
			Benefits []struct{ ID, HeldOfferID, OfferID string }
		}
		AuditTrail struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.Do(megTok, `{ viewer { id } tenant(id: "contoso") { id key admins { id } offers { id offer { id } }
		benefits { id heldOfferId offerId } } auditTrail(tenantId: "contoso", first: 1) { edges { node { id } } } }`, nil).MustData(t, &m)
	add("Viewer", megTok, m.Viewer.ID)
	add("Tenant", megTok, m.Tenant.ID)
	add("TenantUser", megTok, m.Tenant.Admins[0].ID)
	add("HeldOffer", megTok, m.Tenant.Offers[0].ID)
	add("Benefit", megTok, m.Tenant.Benefits[0].ID)
	add("AuditEvent", megTok, m.AuditTrail.Edges[0].Node.ID)
	require.Equal(t, "contoso", m.Tenant.Key)

	var catalog struct {
		Products []struct{ ID, Key string }
		Offers   []struct{ ID string }
		Rules    []struct{ ID, Key string }
	}
	e.Do("", `{ products { id key } offers { id } rules(ids: ["R9"]) { id key } }`, nil).MustData(t, &catalog)
	add("Product", "", catalog.Products[0].ID)
	add("Offer", "", catalog.Offers[0].ID)
	add("Rule", "", catalog.Rules[0].ID)

	var l struct {
		SupportPlans struct {
			Available []struct{ ID string }
		}
		SupportRequests struct {
			Edges []struct{ Node struct{ ID, PlanID string } }
		}
	}
	e.Do(leeTok, `{ supportPlans(productId: "azure", portal: AZURE) { available { id } }
		supportRequests(portal: AZURE) { edges { node { id planId } } } }`, nil).MustData(t, &l)
	add("SupportPlan", leeTok, l.SupportPlans.Available[0].ID)
	require.Len(t, l.SupportRequests.Edges, 1)
	add("SupportRequest", leeTok, l.SupportRequests.Edges[0].Node.ID)
	require.Equal(t, w.request, l.SupportRequests.Edges[0].Node.ID)
	require.Contains(t, w.ids["SupportPlan"], l.SupportRequests.Edges[0].Node.PlanID, "planId is the plan's id")

	var p struct {
		ProviderQueue struct {
			Edges []struct{ Node struct{ ID, TenantID string } }
		}
	}
	e.Do(provTok, `{ providerQueue { edges { node { id tenantId } } } }`, nil).MustData(t, &p)
	require.Len(t, p.ProviderQueue.Edges, 1)
	add("ProviderRequest", provTok, p.ProviderQueue.Edges[0].Node.ID)
	w.providerRequest = p.ProviderQueue.Edges[0].Node.ID
	require.Equal(t, m.Tenant.ID, p.ProviderQueue.Edges[0].Node.TenantID, "tenantId is the tenant's id")

	// Fabrikam's objects, read by patti; an audited action first, for its trail.
	require.Empty(t, activate(t, e, pattiTok, fabrikamSPDCloud).UserErrors)
	var f struct {
		Viewer struct{ ID string }
		Tenant struct {
			ID       string
			Admins   []struct{ ID string }
			Offers   []struct{ ID string }
			Benefits []struct{ ID string }
		}
		AuditTrail struct {
			Edges []struct{ Node struct{ ID string } }
		}
		SupportPlans struct {
			Available   []struct{ ID string }
			Unavailable []struct{ Plan struct{ ID string } }
		}
	}
	e.Do(pattiTok, `{ viewer { id } tenant(id: "fabrikam") { id admins { id } offers { id } benefits { id } }
		auditTrail(tenantId: "fabrikam", first: 1) { edges { node { id } } }
		supportPlans(productId: "azure", portal: AZURE) { available { id } unavailable { plan { id } } } }`, nil).MustData(t, &f)
	w.foreign["Viewer"] = f.Viewer.ID
	w.foreign["Tenant"] = f.Tenant.ID
	w.foreign["TenantUser"] = f.Tenant.Admins[0].ID
	w.foreign["HeldOffer"] = f.Tenant.Offers[0].ID
	w.foreign["Benefit"] = f.Tenant.Benefits[0].ID
	w.foreign["AuditEvent"] = f.AuditTrail.Edges[0].Node.ID
	plans := append([]struct{ ID string }{}, f.SupportPlans.Available...)
	for _, u := range f.SupportPlans.Unavailable {
		plans = append(plans, u.Plan)
	}
	require.NotEmpty(t, plans)
	w.foreign["SupportPlan"] = plans[0].ID
	return w
}

func TestNode_RoundTripsEveryNodeType(t *testing.T) {
	t.Parallel()
	w := newNodeWorld(t)
	types := []string{"AuditEvent", "Benefit", "HeldOffer", "Offer", "Product", "ProviderRequest", "Rule",
		"SupportPlan", "SupportRequest", "Tenant", "TenantUser", "Viewer"}
	for _, typ := range types {
		require.NotEmpty(t, w.ids[typ], "an object of every Node type: %s", typ)
		for _, id := range w.ids[typ] {
			gotType, gotID := nodeOf(t, w.e, w.who[id], id)
			assert.Equal(t, typ, gotType, "node(%s) is a %s", id, typ)
			assert.Equal(t, id, gotID, "node(id).id is the id asked")
			gotTyp, k, _ := graph.ParseGlobalID(id)
			assert.Equal(t, typ, gotTyp, "%s is a global ID of its type", id)
			assert.NotEmpty(t, k)
		}
	}
	// Every reference field answers the id of what it names: node of it is that object.
	var b struct {
		Tenant struct {
			Benefits []struct{ HeldOfferID, OfferID string }
		}
	}
	w.e.Do(w.e.Token(megan), `{ tenant(id: "contoso") { benefits { heldOfferId offerId } } }`, nil).MustData(t, &b)
	typ, _ := nodeOf(t, w.e, w.e.Token(megan), b.Tenant.Benefits[0].HeldOfferID)
	assert.Equal(t, "HeldOffer", typ)
	typ, _ = nodeOf(t, w.e, "", b.Tenant.Benefits[0].OfferID)
	assert.Equal(t, "Offer", typ)
	// A node's own fields, through the inline fragment of its type.
	var tn struct {
		Node struct{ Key, Name string }
	}
	w.e.Do(w.e.Token(lee), `query($id: ID!) { node(id: $id) { ... on Tenant { key name } } }`, map[string]any{"id": w.ids["Tenant"][0]}).MustData(t, &tn)
	assert.Equal(t, "contoso", tn.Node.Key)
	assert.Equal(t, "Contoso Ltd.", tn.Node.Name)
}

func TestNode_IDsAreUniqueAcrossTypes(t *testing.T) {
	t.Parallel()
	w := newNodeWorld(t)
	seen := map[string]string{}
	for typ, ids := range w.ids {
		for _, id := range ids {
			if prev, dup := seen[id]; dup && prev != typ {
				t.Errorf("%s and %s share the ID %s", prev, typ, id)
			}
			seen[id] = typ
		}
	}
	assert.NotEqual(t, w.request, w.providerRequest, "a request's SupportRequest and ProviderRequest IDs differ")
	assert.Equal(t, key(w.request), key(w.providerRequest), "for one request")
	// A tenant admin is not the viewer, though one account: its roles are the tenant's.
	meg := w.ids["Viewer"][0]
	var m struct {
		Tenant struct{ Admins []struct{ ID, Email string } }
	}
	w.e.Do(w.e.Token(megan), `{ tenant(id: "contoso") { admins { id email } } }`, nil).MustData(t, &m)
	for _, a := range m.Tenant.Admins {
		assert.NotEqual(t, meg, a.ID)
	}
	// A benefit and the support plan it is differ too.
	assert.NotEqual(t, gid("Benefit", contosoSPDCloud), gid("SupportPlan", contosoSPDCloud))
}

// TestNode_R4_R18_R25_WhatTheTypedFieldHidesIsIndistinguishableFromNothing: node answers
// exactly as the typed field decides, and an object the caller may not see answers the
// same bytes as one that does not exist and as a malformed ID.
func TestNode_R4_R18_R25_WhatTheTypedFieldHidesIsIndistinguishableFromNothing(t *testing.T) {
	t.Parallel()
	w := newNodeWorld(t)
	e := w.e
	nothing := map[string]string{
		"Viewer":     gid("Viewer", "acc_nosuchaccount"),
		"Tenant":     gid("Tenant", "nosuchtenant"),
		"TenantUser": gid("TenantUser", "contoso/acc_nosuchaccount"),
		"HeldOffer":  gid("HeldOffer", "contoso.nosuchoffer.20260901"),
		"Benefit":    gid("Benefit", "contoso.nosuchoffer.20260901.cloud_support"),
		"AuditEvent": gid("AuditEvent", "1700000000000000000-0123456789"),
		"SupportPlan": gid("SupportPlan",
			"contoso.nosuchoffer.20260901.cloud_support"),
		"SupportRequest":  gid("SupportRequest", "req_nosuchrequest0000000000"),
		"ProviderRequest": gid("ProviderRequest", "req_nosuchrequest0000000000"),
	}
	null := rawAnswer(t, e, e.Token(megan), nodeQuery, map[string]any{"id": nothing["Tenant"]})
	require.Equal(t, `200 {"data":{"node":null}}`, null)
	megTok := e.Token(megan)
	// R4: fabrikam's objects, to a contoso admin.
	for typ, id := range w.foreign {
		assert.Equal(t, null, rawAnswer(t, e, megTok, nodeQuery, map[string]any{"id": id}), "R4: fabrikam's %s", typ)
		assert.Equal(t, null, rawAnswer(t, e, megTok, nodeQuery, map[string]any{"id": nothing[typ]}), "a %s that does not exist", typ)
	}
	// R18: lee's request, to megan (an admin of its tenant, but supportRequests lists
	// one's own); R25: its provider view, to lee and megan; lee's viewer, to megan.
	assert.Equal(t, null, rawAnswer(t, e, megTok, nodeQuery, map[string]any{"id": w.request}), "R18: another account's request")
	assert.Equal(t, null, rawAnswer(t, e, e.Token(lee), nodeQuery, map[string]any{"id": w.providerRequest}), "R25: the provider's view, to the partner")
	assert.Equal(t, null, rawAnswer(t, e, e.Token(lee), nodeQuery, map[string]any{"id": w.ids["Viewer"][0]}), "another account's viewer")
	// R25: the provider reads no partner object, not even of the tenant its request is on.
	prov := e.ProviderToken("acme-support")
	assert.Equal(t, null, rawAnswer(t, e, prov, nodeQuery, map[string]any{"id": w.ids["Tenant"][0]}), "R25: a tenant, to the provider")
	assert.Equal(t, null, rawAnswer(t, e, prov, nodeQuery, map[string]any{"id": w.request}), "R25: the partner's view, to the provider")
	// R3: the audit trail is the admins': lee, a member, gets nothing.
	assert.Equal(t, null, rawAnswer(t, e, e.Token(lee), nodeQuery, map[string]any{"id": w.ids["AuditEvent"][0]}), "R3: an audit event, to a USER")
	// And each allowed: the one who may see it does.
	typ, _ := nodeOf(t, e, e.Token(lee), w.request)
	assert.Equal(t, "SupportRequest", typ, "lee's own request")
	typ, _ = nodeOf(t, e, prov, w.providerRequest)
	assert.Equal(t, "ProviderRequest", typ)
	typ, _ = nodeOf(t, e, e.Token(lee), w.ids["Tenant"][0])
	assert.Equal(t, "Tenant", typ, "a member reads its tenant")
}

func TestNode_MalformedIDsAnswerNullAndNothingElse(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	tok := e.Token(megan)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	null := rawAnswer(t, e, tok, nodeQuery, map[string]any{"id": gid("Tenant", "nosuchtenant")})
	for _, id := range []string{
		"", "contoso", "!!!!", "djE6VGVuYW50OmNvbnRvc28=", // padded: not the one spelling
		enc("v2:Tenant:contoso"), enc("v1:Nope:contoso"), enc("v1:Tenant:"), enc("v1:Tenant"), enc("Tenant:contoso"),
		enc("v1:Tenant:con\x00toso"), enc("v1:Tenant:\xff\xfe"), enc("v1:__Type:contoso"),
		strings.Repeat("A", 100_000),
		gid("Product", "nosuchproduct"), gid("Offer", "NO_SUCH_OFFER"), gid("Rule", "R999"), // the catalog's nothing
	} {
		assert.Equal(t, null, rawAnswer(t, e, tok, nodeQuery, map[string]any{"id": id}), "%.40q", id)
	}
	// Sign-in: the catalog is public, everything else needs an account, as its field does.
	typ, _ := nodeOf(t, e, "", gid("Product", "azure"))
	assert.Equal(t, "Product", typ)
	r := e.Do("", nodeQuery, map[string]any{"id": gid("Tenant", "contoso")})
	require.NotEmpty(t, r.Errors)
	assert.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code())
	// Malformed input to a typed field is its usual answer for a key that names nothing.
	ans := func(id string) string {
		return refusalOf(rawAnswer(t, e, tok, `query($id: ID!) { tenant(id: $id) { name } }`, map[string]any{"id": id}))
	}
	assert.Equal(t, ans("nosuchtenant"), ans(gid("Product", "contoso")), "another type's ID names no tenant")
	assert.Equal(t, ans("nosuchtenant"), ans(gid("Tenant", "nosuchtenant")))
	assert.Contains(t, ans("nosuchtenant"), "FORBIDDEN")
}

// refusalOf is a response without what names the input: its errors' codes and messages.
func refusalOf(body string) string {
	var r struct {
		Data   json.RawMessage
		Errors []testenv.Error
	}
	_, body, _ = strings.Cut(body, " ") // the status
	_ = json.Unmarshal([]byte(body), &r)
	var b strings.Builder
	b.WriteString(string(r.Data))
	for _, e := range r.Errors {
		b.WriteString(" " + e.Code() + ": " + e.Message)
	}
	return b.String()
}

func TestLegacyKeysAreStillAcceptedWhereIDsAre(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	meg, lee := e.Token(megan), e.Token(lee)
	q := `query($t: ID!) { tenant(id: $t) { id key } incidentLedger(tenantId: $t, first: 1) { edges { cursor } } auditTrail(tenantId: $t, first: 1) { pageInfo { hasNextPage } } }`
	var byKey, byID map[string]any
	e.Do(meg, q, map[string]any{"t": "contoso"}).MustData(t, &byKey)
	e.Do(meg, q, map[string]any{"t": gid("Tenant", "contoso")}).MustData(t, &byID)
	assert.Equal(t, byKey, byID, "a tenant's key and its global ID name the same tenant")
	// Products, by key and by ID; rules too.
	sp := `query($p: ID!) { supportPlans(productId: $p, portal: AZURE) { product { id key } } }`
	var a, b map[string]any
	e.Do(lee, sp, map[string]any{"p": "azure"}).MustData(t, &a)
	e.Do(lee, sp, map[string]any{"p": gid("Product", "azure")}).MustData(t, &b)
	assert.Equal(t, a, b)
	var rules struct{ Rules []struct{ Key string } }
	e.Do("", `query($ids: [ID!]) { rules(ids: $ids) { key } }`, map[string]any{"ids": []string{"R9", gid("Rule", "R25"), gid("Tenant", "R3")}}).MustData(t, &rules)
	assert.Equal(t, []struct{ Key string }{{"R9"}, {"R25"}}, rules.Rules, "another type's ID names no rule")
	// Mutations: activate by the benefit's ID, create on the plan's ID and withdraw by the
	// request's ID, and each by its key.
	p := activate(t, e, meg, gid("Benefit", contosoSPDCloud))
	require.Empty(t, p.UserErrors)
	assert.Equal(t, gid("Benefit", contosoSPDCloud), p.Benefit.ID)
	require.Empty(t, link(t, e, lee, *p.Benefit.Contract, "AZURE", false).UserErrors)
	byPlanID := create(t, e, lee, azureRequest("legacy-keys-0001", gid("SupportPlan", contosoSPDCloud)))
	require.NotNil(t, byPlanID.Request, "%v", byPlanID.UserErrors)
	byBenefitID := create(t, e, lee, azureRequest("legacy-keys-0002", gid("Benefit", contosoSPDCloud)))
	require.NotNil(t, byBenefitID.Request, "%v", byBenefitID.UserErrors)
	byKey2 := create(t, e, lee, azureRequest("legacy-keys-0003", contosoSPDCloud))
	require.NotNil(t, byKey2.Request, "%v", byKey2.UserErrors)
	foreign := create(t, e, lee, azureRequest("legacy-keys-0004", gid("Tenant", contosoSPDCloud)))
	require.Nil(t, foreign.Request, "another type's ID names no plan")
	assert.Equal(t, byPlanID.Request.ID, withdraw(t, e, lee, byPlanID.Request.ID).Request.ID)
	assert.Equal(t, byKey2.Request.ID, withdraw(t, e, lee, key(byKey2.Request.ID)).Request.ID)
}

func TestNodes_KeepsOrderAndNullsAndIsBounded(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	tok := e.Token(lee)
	ids := []string{gid("Tenant", "contoso"), "garbage", gid("Product", "azure"), gid("Tenant", "fabrikam"), gid("Tenant", "contoso")}
	var out struct {
		Nodes []*struct {
			Typename string `json:"__typename"`
			ID       string
		}
	}
	e.Do(tok, `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, map[string]any{"ids": ids}).MustData(t, &out)
	require.Len(t, out.Nodes, 5)
	assert.Equal(t, "Tenant", out.Nodes[0].Typename)
	assert.Nil(t, out.Nodes[1], "malformed")
	assert.Equal(t, "Product", out.Nodes[2].Typename)
	assert.Nil(t, out.Nodes[3], "R4: another tenant")
	assert.Equal(t, ids[4], out.Nodes[4].ID)

	many := make([]string, graph.MaxNodes+1)
	for i := range many {
		many[i] = gid("Product", "azure")
	}
	r := e.Do(tok, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": many})
	require.NotEmpty(t, r.Errors)
	assert.Equal(t, "INVALID", r.Errors[0].Code())
	var ok struct{ Nodes []struct{ ID string } }
	e.Do(tok, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": many[:graph.MaxNodes]}).MustData(t, &ok)
	assert.Len(t, ok.Nodes, graph.MaxNodes)
}
