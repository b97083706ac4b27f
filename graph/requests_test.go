package graph_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
)

const (
	diego        = "diego@contoso.com"                                    // contoso USER, Premier linked (R12)
	nestor       = "nestor@fabrikam.com"                                  // fabrikam ADMIN_AGENT (indirect provider)
	grady        = "grady@northwind.com"                                  // northwind ADMIN_AGENT (indirect reseller)
	isaiah       = "isaiah@tailspintoys.com"                              // tailspin GLOBAL_ADMIN
	joni         = "joni@tailspintoys.com"                                // tailspin USER
	tailspinCore = "tailspin.partner_success_core.20260115.cloud_support" // 2 incidents
	ws2019       = "Windows Server 2019"
	ws2025       = "Windows Server 2025"
)

type plan struct {
	ID        string
	Kind      string
	Name      string
	Linked    bool
	Incidents incidents
	Reasons   []reason // of an unavailable plan, from UnavailablePlan.reasons
}

type reason struct {
	Code    string
	Rule    *string
	Message string
}

func (p plan) codes() []string {
	var out []string
	for _, r := range p.Reasons {
		out = append(out, r.Code)
	}
	return out
}

type plans struct {
	Available   []plan
	Unavailable []plan
	PortalHint  *struct{ Portal, Message string }
}

func (ps plans) find(t *testing.T, id string) (plan, bool) {
	t.Helper()
	for _, p := range ps.Available {
		if p.ID == id || key(p.ID) == id {
			return p, true
		}
	}
	for _, p := range ps.Unavailable {
		if p.ID == id || key(p.ID) == id {
			return p, false
		}
	}
	t.Fatalf("plan %s not listed; available %v unavailable %v", id, ps.Available, ps.Unavailable)
	return plan{}, false
}

func supportPlans(t *testing.T, e *testenv.Env, who, product, version, portal string) plans {
	t.Helper()
	var out struct {
		SupportPlans struct {
			Available   []plan
			Unavailable []struct {
				Plan    plan
				Reasons []reason
			}
			PortalHint *struct{ Portal, Message string }
		}
	}
	e.Do(e.Token(who), `query($p: ID!, $v: String, $portal: Portal!) { supportPlans(productId: $p, version: $v, portal: $portal) {
		available { id kind name linked incidents { total used remaining unlimited } }
		unavailable { plan { id kind name linked incidents { total used remaining unlimited } } reasons { code rule message } }
		portalHint { portal message } } }`, map[string]any{"p": product, "v": version, "portal": portal}).MustData(t, &out)
	ps := plans{Available: out.SupportPlans.Available, PortalHint: out.SupportPlans.PortalHint}
	for _, u := range out.SupportPlans.Unavailable {
		require.NotEmpty(t, u.Reasons, "an unavailable plan says why: %s", u.Plan.ID)
		u.Plan.Reasons = u.Reasons
		ps.Unavailable = append(ps.Unavailable, u.Plan)
	}
	return ps
}

type request struct {
	ID               string
	PlanID           *string
	Status           string
	CloseReason      *string
	ConsumedIncident bool
	Refunded         bool
	Portal           string
}

type requestPayload struct {
	Request    *request
	UserErrors []userError
}

const requestFields = `id planId status closeReason consumedIncident refunded portal`

// requestMutation runs a mutation whose payload, under its one root field, is a request
// and userErrors; the mutation selects "request { ... } userErrors { ... }" with the
// arguments in vars.
func requestMutation(t testing.TB, e *testenv.Env, token, field, params, args string, vars map[string]any) requestPayload {
	t.Helper()
	var out map[string]requestPayload
	r := e.Do(token, `mutation(`+params+`) { `+field+`(`+args+`) { request { `+requestFields+` } userErrors { code rule field message } } }`, vars)
	require.Empty(t, r.Errors)
	r.MustData(t, &out)
	return out[field]
}

func create(t testing.TB, e *testenv.Env, token string, in map[string]any) requestPayload {
	t.Helper()
	return requestMutation(t, e, token, "createSupportRequest", "$in: CreateSupportRequestInput!", "input: $in", map[string]any{"in": in})
}

func closeReq(t testing.TB, e *testenv.Env, token, id, reason string) requestPayload {
	t.Helper()
	return requestMutation(t, e, token, "closeSupportRequest", "$id: ID!, $r: CloseReason!", "id: $id, reason: $r", map[string]any{"id": id, "r": reason})
}

func azureRequest(key, planID string) map[string]any {
	return map[string]any{"idempotencyKey": key, "planId": planID, "productId": "azure", "portal": "AZURE", "type": "TECHNICAL", "title": "VM does not boot"}
}

// linkedEnv activates a plan and links it for the accounts.
func linkedEnv(t *testing.T, benefitID string, who ...string) (*testenv.Env, contract) {
	e := testenv.New(t)
	admin := megan
	if len(benefitID) > 8 && benefitID[:8] == "tailspin" {
		admin = isaiah
	}
	p := activate(t, e, e.Token(admin), benefitID)
	require.Empty(t, p.UserErrors)
	c := *p.Benefit.Contract
	for _, w := range who {
		require.Empty(t, link(t, e, e.Token(w), c, "AZURE", false).UserErrors)
	}
	return e, c
}

func remaining(t *testing.T, e *testenv.Env, token, tenant, benefitID string) int {
	t.Helper()
	b := findBenefit(t, tenantBenefits(t, e, token, tenant), benefitID)
	require.NotNil(t, b.Incidents.Remaining)
	return *b.Incidents.Remaining
}

func TestR8_ProductCatalogTellsCoverageToday(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	var out struct {
		Products []struct {
			ID       string
			Versions []struct {
				Name                  string
				PartnerSupportCovered bool
				CoverageNote          *string
			}
		}
	}
	e.Do("", `{ products { id versions { name partnerSupportCovered coverageNote } } }`, nil).MustData(t, &out)
	covered := map[string]bool{}
	for _, p := range out.Products {
		for _, v := range p.Versions {
			covered[v.Name] = v.PartnerSupportCovered
			if !v.PartnerSupportCovered {
				require.NotNil(t, v.CoverageNote, v.Name)
			}
		}
	}
	assert.False(t, covered[ws2019], "out of mainstream support, and N-2")
	assert.False(t, covered["Windows Server 2022"], "mainstream support ended 2026-10-13")
	assert.True(t, covered[ws2025])
	assert.True(t, covered["SQL Server 2022"])
	assert.False(t, covered["SQL Server 2019"], "mainstream support ended 2025-02-28")
}

func TestR8_WindowsServer2019IsRefusedOutOfMainstream(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoSPDOnPrem, lee)
	old := supportPlans(t, e, lee, "windows-server", ws2019, "SERVICES_HUB")
	p, ok := old.find(t, contosoSPDOnPrem)
	assert.False(t, ok)
	assert.Contains(t, p.codes(), "VERSION_NOT_COVERED")
	cur := supportPlans(t, e, lee, "windows-server", ws2025, "SERVICES_HUB")
	_, ok = cur.find(t, contosoSPDOnPrem)
	assert.True(t, ok, "the current version is served")
	// Creating a request on it anyway is refused and takes nothing.
	r := create(t, e, e.Token(lee), map[string]any{"idempotencyKey": "ws2019-0001", "planId": contosoSPDOnPrem, "productId": "windows-server",
		"version": ws2019, "portal": "SERVICES_HUB", "type": "TECHNICAL", "title": "2019 crash"})
	require.Len(t, r.UserErrors, 1)
	assert.Equal(t, "PLAN_UNAVAILABLE", r.UserErrors[0].Code)
	assert.Equal(t, "R8", ruleOf(r.UserErrors[0]))
	assert.Equal(t, 20, remaining(t, e, e.Token(lee), "contoso", contosoSPDOnPrem))
}

func TestR8_CloudPlanRefusedForOnPremisesProductAndTheReverse(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	cloud := activated(t, e, contosoSPDCloud)
	onprem := activated(t, e, contosoSPDOnPrem)
	require.Empty(t, link(t, e, e.Token(lee), cloud, "AZURE", false).UserErrors)
	require.Empty(t, link(t, e, e.Token(lee), onprem, "SERVICES_HUB", false).UserErrors)
	az := supportPlans(t, e, lee, "azure", "", "AZURE")
	p, ok := az.find(t, contosoSPDOnPrem)
	assert.False(t, ok)
	assert.Contains(t, p.codes(), "ON_PREMISES_ONLY")
	_, ok = az.find(t, contosoSPDCloud)
	assert.True(t, ok)
	sql := supportPlans(t, e, lee, "sql-server", "SQL Server 2022", "SERVICES_HUB")
	p, ok = sql.find(t, contosoSPDCloud)
	assert.False(t, ok)
	assert.Contains(t, p.codes(), "CLOUD_PRODUCTS_ONLY")
	_, ok = sql.find(t, contosoSPDOnPrem)
	assert.True(t, ok)
}

func TestR8_CloudProductInTheOnPremisesPortalSaysWhereToGo(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoSPDCloud, lee)
	ps := supportPlans(t, e, lee, "azure", "", "SERVICES_HUB")
	require.NotNil(t, ps.PortalHint)
	assert.Equal(t, "AZURE", ps.PortalHint.Portal)
	assert.Contains(t, ps.PortalHint.Message, "Azure")
	assert.Empty(t, ps.Available)
}

func TestR23_ExpiredPlanIsUnavailable(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	e.Clock.Set(time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC))
	old := activated(t, e, contosoOldSPD)
	require.Empty(t, link(t, e, e.Token(sam), old, "AZURE", false).UserErrors)
	_, ok := supportPlans(t, e, sam, "azure", "", "AZURE").find(t, contosoOldSPD)
	assert.True(t, ok, "available while its year runs")
	e.Clock.Set(testenv.DemoNow) // the year ended 2026-09-01
	p, ok := supportPlans(t, e, sam, "azure", "", "AZURE").find(t, contosoOldSPD)
	assert.False(t, ok)
	assert.Contains(t, p.codes(), "EXPIRED")
	assert.Equal(t, "R23", *p.Reasons[0].Rule)
}

func TestR23_R15_LastIncidentTakenByAnotherUser(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, tailspinCore, joni, sam)
	require.NotNil(t, create(t, e, e.Token(joni), azureRequest("joni-000001", tailspinCore)).Request)
	_, ok := supportPlans(t, e, sam, "azure", "", "AZURE").find(t, tailspinCore)
	assert.True(t, ok, "one incident left")
	require.NotNil(t, create(t, e, e.Token(joni), azureRequest("joni-000002", tailspinCore)).Request, "joni takes the last one")
	p, ok := supportPlans(t, e, sam, "azure", "", "AZURE").find(t, tailspinCore)
	assert.False(t, ok, "evaluated now: gone")
	assert.Contains(t, p.codes(), "NO_INCIDENTS_LEFT")
	r := create(t, e, e.Token(sam), azureRequest("sam-0000001", tailspinCore))
	require.Len(t, r.UserErrors, 1)
	assert.Equal(t, "NO_INCIDENTS_LEFT", r.UserErrors[0].Code)
}

func TestR10_Microsoft365NeedsNoLinkForMembers(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	activated(t, e, contosoSPDCloud)
	m365 := supportPlans(t, e, lee, "microsoft-365", "", "MICROSOFT_365")
	p, ok := m365.find(t, contosoSPDCloud)
	assert.True(t, ok, "the tenant's cloud plan serves Microsoft 365 with no link: %v", p.Reasons)
	assert.False(t, p.Linked)
	az := supportPlans(t, e, lee, "azure", "", "AZURE")
	p, ok = az.find(t, contosoSPDCloud)
	assert.False(t, ok)
	assert.Equal(t, []string{"NOT_LINKED"}, p.codes(), "Azure needs the link (R6)")
	r := create(t, e, e.Token(lee), map[string]any{"idempotencyKey": "m365-000001", "planId": contosoSPDCloud, "productId": "microsoft-365",
		"portal": "MICROSOFT_365", "type": "TECHNICAL", "title": "Teams issue"})
	require.Empty(t, r.UserErrors)
	assert.True(t, r.Request.ConsumedIncident)
}

func TestR12_PremierLinkedAccountCannotChoosePartnerCloudInAzure(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoSPDCloud, diego)
	p, ok := supportPlans(t, e, diego, "azure", "", "AZURE").find(t, contosoSPDCloud)
	assert.False(t, ok)
	assert.Contains(t, p.codes(), "PREMIER_LINKED")
	_, ok = supportPlans(t, e, diego, "dynamics-365-sales", "", "DYNAMICS").find(t, contosoSPDCloud)
	assert.True(t, ok, "only the Azure portal refuses it")
}

func TestR13_ActionPackShowsNoBenefitInAzure(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	e.Clock.Set(time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	const ap = "contoso.legacy_action_pack.20230901.on_premises_support"
	c := activated(t, e, ap)
	require.Empty(t, link(t, e, e.Token(sam), c, "SERVICES_HUB", false).UserErrors)
	p, ok := supportPlans(t, e, sam, "azure", "", "AZURE").find(t, ap)
	assert.False(t, ok)
	assert.Contains(t, p.codes(), "ACTION_PACK_IN_AZURE")
}

func TestR15_CreateConsumesOneIncidentAndRetriesAreIdempotent(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoExpanded, lee)
	tok := e.Token(lee)
	first := create(t, e, tok, azureRequest("retry-key-1", contosoExpanded))
	require.Empty(t, first.UserErrors)
	assert.True(t, first.Request.ConsumedIncident)
	assert.Equal(t, "OPEN", first.Request.Status)
	assert.Equal(t, 4, remaining(t, e, tok, "contoso", contosoExpanded))
	again := create(t, e, tok, azureRequest("retry-key-1", contosoExpanded))
	require.Empty(t, again.UserErrors)
	assert.Equal(t, first.Request.ID, again.Request.ID)
	assert.Equal(t, 4, remaining(t, e, tok, "contoso", contosoExpanded), "a retry takes nothing more")
	other := azureRequest("retry-key-1", contosoExpanded)
	other["title"] = "something else"
	r := create(t, e, tok, other)
	require.Len(t, r.UserErrors, 1)
	assert.Equal(t, "IDEMPOTENCY_KEY_REUSED", r.UserErrors[0].Code)
	for _, bad := range []map[string]any{
		{"idempotencyKey": "short", "planId": contosoExpanded, "productId": "azure", "portal": "AZURE", "type": "TECHNICAL", "title": "x"},
		{"idempotencyKey": "valid-key-9", "planId": contosoExpanded, "productId": "azure", "portal": "AZURE", "type": "TECHNICAL", "title": " "},
		{"idempotencyKey": "valid-key-9", "productId": "azure", "portal": "AZURE", "type": "TECHNICAL", "title": "no plan"},
		{"idempotencyKey": "valid-key-9", "planId": contosoExpanded, "productId": "no-such", "portal": "AZURE", "type": "TECHNICAL", "title": "x"},
	} {
		r := create(t, e, tok, bad)
		require.Len(t, r.UserErrors, 1, "%v", bad)
		assert.Equal(t, "INVALID", r.UserErrors[0].Code)
		assert.NotEmpty(t, r.UserErrors[0].Field)
	}
	assert.Equal(t, 4, remaining(t, e, tok, "contoso", contosoExpanded), "bad input changes nothing")
}

func TestR16_DuplicateAndBugAreRefundedOnce(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoExpanded, lee)
	tok, prov := e.Token(lee), e.ProviderToken(acme) // duplicates and bugs are the provider's findings (R25)
	for i, reason := range []string{"DUPLICATE", "BUG"} {
		r := create(t, e, tok, azureRequest(fmt.Sprintf("refund-key-%d", i), contosoExpanded))
		require.Empty(t, r.UserErrors)
		assert.Equal(t, 4, remaining(t, e, tok, "contoso", contosoExpanded))
		c := closeReq(t, e, prov, r.Request.ID, reason)
		require.Empty(t, c.UserErrors)
		assert.Equal(t, "CLOSED", c.Request.Status)
		assert.True(t, c.Request.Refunded)
		assert.Equal(t, 5, remaining(t, e, tok, "contoso", contosoExpanded), reason+" is refunded")
		again := closeReq(t, e, prov, r.Request.ID, reason)
		require.Empty(t, again.UserErrors)
		assert.Equal(t, 5, remaining(t, e, tok, "contoso", contosoExpanded), "a second close refunds nothing")
		other := closeReq(t, e, prov, r.Request.ID, "RESOLVED")
		require.Len(t, other.UserErrors, 1)
		assert.Equal(t, "ALREADY_CLOSED", other.UserErrors[0].Code)
	}
	r := create(t, e, tok, azureRequest("resolved-key", contosoExpanded))
	c := closeReq(t, e, tok, r.Request.ID, "RESOLVED")
	require.Empty(t, c.UserErrors)
	assert.False(t, c.Request.Refunded)
	assert.Equal(t, 4, remaining(t, e, tok, "contoso", contosoExpanded), "a resolved request keeps its incident")
}

func TestR16_BillingQuotaSubscriptionOnCloudPlanAreRefunded(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoExpanded, lee)
	tok := e.Token(lee)
	for _, typ := range []string{"BILLING", "QUOTA", "SUBSCRIPTION"} {
		in := azureRequest("typed-"+typ, contosoExpanded)
		in["type"] = typ
		r := create(t, e, tok, in)
		require.Empty(t, r.UserErrors)
		assert.True(t, r.Request.ConsumedIncident)
		c := closeReq(t, e, tok, r.Request.ID, "RESOLVED")
		assert.True(t, c.Request.Refunded, typ)
	}
	assert.Equal(t, 5, remaining(t, e, tok, "contoso", contosoExpanded))
}

func TestR25_OnlyTheCreatorOrATenantAdminMayCloseWithTheDeprecatedClose(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoExpanded, lee, sam)
	r := create(t, e, e.Token(lee), azureRequest("close-auth-1", contosoExpanded))
	for _, who := range []string{sam, adele, patti} {
		c := closeReq(t, e, e.Token(who), r.Request.ID, "RESOLVED")
		require.Len(t, c.UserErrors, 1, who)
		assert.Equal(t, "FORBIDDEN", c.UserErrors[0].Code)
	}
	assert.Equal(t, 4, remaining(t, e, e.Token(lee), "contoso", contosoExpanded))
	c := closeReq(t, e, e.Token(megan), r.Request.ID, "RESOLVED")
	require.Empty(t, c.UserErrors, "a tenant admin may withdraw the tenant's requests")
	assert.Equal(t, "WITHDRAWN", *c.Request.CloseReason)
	assert.Equal(t, 4, remaining(t, e, e.Token(lee), "contoso", contosoExpanded), "a withdrawn technical request keeps its incident (R25)")
}

func TestR17_ProgramAndFrontLineRequestsAreFree(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, tailspinCore, joni)
	for i, typ := range []string{"PARTNER_PROGRAM", "FRONT_LINE", "PARTNER_PROGRAM"} {
		r := create(t, e, e.Token(joni), partnerCenter(fmt.Sprintf("free-%06d", i), typ))
		require.Empty(t, r.UserErrors)
		assert.False(t, r.Request.ConsumedIncident)
	}
	assert.Equal(t, 2, remaining(t, e, e.Token(joni), "tailspin", tailspinCore))
}

func TestR18_EachPortalListsTheAccountsOwnRequests(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	cloud := activated(t, e, contosoSPDCloud)
	onprem := activated(t, e, contosoSPDOnPrem)
	for _, w := range []string{lee, sam} {
		require.Empty(t, link(t, e, e.Token(w), cloud, "AZURE", false).UserErrors)
		require.Empty(t, link(t, e, e.Token(w), onprem, "SERVICES_HUB", false).UserErrors)
	}
	tok := e.Token(lee)
	for i := range 3 {
		require.Empty(t, create(t, e, tok, azureRequest(fmt.Sprintf("list-az-%03d", i), contosoSPDCloud)).UserErrors)
	}
	require.Empty(t, create(t, e, tok, map[string]any{"idempotencyKey": "list-dyn-001", "planId": contosoSPDCloud, "productId": "dynamics-365-sales",
		"portal": "DYNAMICS", "type": "TECHNICAL", "title": "d365"}).UserErrors)
	require.Empty(t, create(t, e, tok, map[string]any{"idempotencyKey": "list-hub-001", "planId": contosoSPDOnPrem, "productId": "sql-server",
		"version": "SQL Server 2022", "portal": "SERVICES_HUB", "type": "TECHNICAL", "title": "sql"}).UserErrors)
	require.Empty(t, create(t, e, e.Token(sam), azureRequest("list-sam-001", contosoSPDCloud)).UserErrors)
	list := func(who, portal string, first int, after *string) ([]request, *string, bool) {
		var out struct {
			SupportRequests struct {
				Edges []struct {
					Cursor string
					Node   request
				}
				PageInfo struct {
					HasNextPage, HasPreviousPage bool
					StartCursor, EndCursor       *string
				}
			}
		}
		e.Do(e.Token(who), `query($p: Portal!, $f: Int, $a: String) { supportRequests(portal: $p, first: $f, after: $a) {
			edges { cursor node { `+requestFields+` } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`, map[string]any{"p": portal, "f": first, "a": after}).MustData(t, &out)
		pi, edges := out.SupportRequests.PageInfo, out.SupportRequests.Edges
		assert.Equal(t, after != nil, pi.HasPreviousPage, "a page after a cursor has a previous page")
		if len(edges) > 0 {
			require.NotNil(t, pi.StartCursor)
			assert.Equal(t, edges[0].Cursor, *pi.StartCursor)
			assert.Equal(t, edges[len(edges)-1].Cursor, *pi.EndCursor)
		} else {
			assert.Nil(t, pi.StartCursor)
		}
		var rs []request
		for _, e := range out.SupportRequests.Edges {
			rs = append(rs, e.Node)
		}
		return rs, out.SupportRequests.PageInfo.EndCursor, out.SupportRequests.PageInfo.HasNextPage
	}
	az, _, _ := list(lee, "AZURE", 20, nil)
	assert.Len(t, az, 3)
	for _, r := range az {
		assert.Equal(t, "AZURE", r.Portal)
	}
	dyn, _, _ := list(lee, "DYNAMICS", 20, nil)
	assert.Len(t, dyn, 1)
	all, _, _ := list(lee, "SERVICES_HUB", 20, nil)
	assert.Len(t, all, 5, "the on-premises portal lists all of the account's requests")
	p1, cur, more := list(lee, "SERVICES_HUB", 2, nil)
	require.True(t, more)
	p2, cur2, _ := list(lee, "SERVICES_HUB", 2, cur)
	p3, _, more3 := list(lee, "SERVICES_HUB", 2, cur2)
	assert.False(t, more3)
	seen := map[string]bool{}
	for _, r := range append(append(p1, p2...), p3...) {
		assert.False(t, seen[r.ID], "no request twice across pages")
		seen[r.ID] = true
	}
	assert.Len(t, seen, 5)
	samList, _, _ := list(sam, "AZURE", 20, nil)
	assert.Len(t, samList, 1, "another account's requests are not listed")
	for _, bad := range []any{0, 101, 100000} {
		r := e.Do(e.Token(lee), `query($f: Int) { supportRequests(portal: AZURE, first: $f) { edges { cursor } } }`, map[string]any{"f": bad})
		require.NotEmpty(t, r.Errors)
		assert.Equal(t, "INVALID", r.Errors[0].Code())
	}
	r := e.Do(e.Token(lee), `{ supportRequests(portal: AZURE, after: "garbage!") { edges { cursor } } }`, nil)
	require.NotEmpty(t, r.Errors)
	assert.Equal(t, "INVALID", r.Errors[0].Code())
}

func TestR14_CSPRequestsForCustomersUnderGDAP(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	csp := func(who, plan, customer string) requestPayload {
		return create(t, e, e.Token(who), map[string]any{"idempotencyKey": "csp-" + strings.NewReplacer("@", "-").Replace(who) + "-" + customer, "planId": plan, "productId": "azure",
			"portal": "AZURE", "type": "TECHNICAL", "title": "customer VM", "customerId": customer})
	}
	ok := csp(adele, "csp:contoso", "woodgrove")
	require.Empty(t, ok.UserErrors, "direct bill admin agent with active GDAP")
	assert.False(t, ok.Request.ConsumedIncident, "no contract link, no partner incident")
	ok = csp(nestor, "csp:fabrikam", "proseware")
	require.Empty(t, ok.UserErrors, "the indirect provider opens requests for its reseller's customer")
	expired := csp(nestor, "csp:fabrikam", "litware")
	require.Len(t, expired.UserErrors, 1)
	assert.Equal(t, "CSP_NOT_ALLOWED", expired.UserErrors[0].Code)
	assert.Equal(t, "R14", ruleOf(expired.UserErrors[0]))
	reseller := csp(grady, "csp:northwind", "proseware")
	require.Len(t, reseller.UserErrors, 1)
	assert.Equal(t, "PLAN_UNAVAILABLE", reseller.UserErrors[0].Code)
	assert.Contains(t, reseller.UserErrors[0].Message, "Fabrikam")
	p, avail := supportPlans(t, e, lee, "azure", "", "AZURE").find(t, "csp:contoso")
	assert.False(t, avail)
	assert.Contains(t, p.codes(), "CSP_ADMIN_AGENT_REQUIRED")
}

func TestR21_PayPerIncidentOnlyForMSAAndFixedLifecycle(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	buy := func(who, product, version string) (string, []userError) {
		var out struct {
			PurchasePayPerIncident struct {
				PlanID     *string
				UserErrors []userError
			}
		}
		e.Do(e.Token(who), `mutation($p: ID!, $v: String!) { purchasePayPerIncident(productId: $p, version: $v) { planId userErrors { code rule message } } }`,
			map[string]any{"p": product, "v": version}).MustData(t, &out)
		id := ""
		if out.PurchasePayPerIncident.PlanID != nil {
			id = *out.PurchasePayPerIncident.PlanID
		}
		return id, out.PurchasePayPerIncident.UserErrors
	}
	_, ue := buy(lee, "sql-server", "SQL Server 2022")
	require.Len(t, ue, 1)
	assert.Equal(t, "PPI_NOT_ALLOWED", ue[0].Code)
	assert.Equal(t, "R21", ruleOf(ue[0]))
	assert.Contains(t, ue[0].Message, "MSA")
	_, ue = buy(sam, "windows-11", "Windows 11, version 24H2")
	require.Len(t, ue, 1)
	assert.Equal(t, "PPI_NOT_ALLOWED", ue[0].Code, "modern lifecycle")
	id, ue := buy(sam, "sql-server", "SQL Server 2019")
	require.Empty(t, ue)
	p, ok := supportPlans(t, e, sam, "sql-server", "SQL Server 2019", "SERVICES_HUB").find(t, id)
	assert.True(t, ok, "a PPI plan serves a product out of partner coverage: %v", p.Reasons)
	r := create(t, e, e.Token(sam), map[string]any{"idempotencyKey": "ppi-000001", "planId": id, "productId": "sql-server", "version": "SQL Server 2019",
		"portal": "SERVICES_HUB", "type": "TECHNICAL", "title": "old SQL"})
	require.Empty(t, r.UserErrors)
	assert.True(t, r.Request.ConsumedIncident)
	p, ok = supportPlans(t, e, sam, "sql-server", "SQL Server 2019", "SERVICES_HUB").find(t, id)
	assert.False(t, ok)
	assert.Contains(t, p.codes(), "NO_INCIDENTS_LEFT")
}

func TestR22_ConsultationRequestsAreListed(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	activate(t, e, e.Token(patti), "fabrikam.isv_success.20260301.isv_consultation")
	var out struct {
		Tenant struct{ Consultations []struct{ Topic string } }
	}
	e.Do(e.Token(fabDev), `{ tenant(id: "fabrikam") { consultations { topic requestedAt } } }`, nil).MustData(t, &out)
	require.Len(t, out.Tenant.Consultations, 1)
	assert.NotEmpty(t, out.Tenant.Consultations[0].Topic)
}

type ledgerEntry struct {
	Seq       int
	Kind      string
	BenefitID *string
	RequestID *string
	ActorID   *string
	Reason    *string
	Delta     int
	Incidents incidents
}

func ledger(t *testing.T, e *testenv.Env, who, tenant string, first int) ([]ledgerEntry, []testenv.Error) {
	t.Helper()
	var out struct {
		IncidentLedger struct{ Edges []struct{ Node ledgerEntry } }
	}
	r := e.Do(e.Token(who), `query($t: ID!, $f: Int) { incidentLedger(tenantId: $t, first: $f) { edges { node { seq kind benefitId requestId actorId reason delta incidents { total used remaining unlimited } } } } }`,
		map[string]any{"t": tenant, "f": first})
	if len(r.Errors) > 0 {
		return nil, r.Errors
	}
	r.MustData(t, &out)
	var es []ledgerEntry
	for _, e := range out.IncidentLedger.Edges {
		es = append(es, e.Node)
	}
	return es, nil
}

func TestLedger_AdminsSeeEveryGrantConsumptionAndRefund(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoExpanded, lee)
	r := create(t, e, e.Token(lee), azureRequest("ledger-0001", contosoExpanded))
	closeReq(t, e, e.ProviderToken(acme), r.Request.ID, "BUG")
	es, errs := ledger(t, e, megan, "contoso", 100)
	require.Empty(t, errs)
	var kinds []string
	var mine []ledgerEntry
	for i, x := range es {
		if i > 0 {
			assert.Less(t, x.Seq, es[i-1].Seq, "newest first")
		}
		if x.BenefitID != nil && key(*x.BenefitID) == contosoExpanded {
			kinds = append(kinds, x.Kind)
			mine = append(mine, x)
		}
	}
	assert.Equal(t, []string{"REFUND", "CONSUME", "ACTIVATE", "GRANT"}, kinds)
	assert.Equal(t, 5, *mine[0].Incidents.Remaining)
	assert.Equal(t, 4, *mine[1].Incidents.Remaining)
	assert.Equal(t, -1, mine[1].Delta)
	require.NotNil(t, mine[1].RequestID)
	assert.Equal(t, r.Request.ID, *mine[1].RequestID)
	require.NotNil(t, mine[0].Reason)
	assert.Equal(t, "BUG", *mine[0].Reason)
	_, errs = ledger(t, e, lee, "contoso", 10)
	require.NotEmpty(t, errs)
	assert.Equal(t, "ROLE_REQUIRED", errs[0].Code())
	_, errs = ledger(t, e, patti, "contoso", 10)
	require.NotEmpty(t, errs)
	assert.Equal(t, "FORBIDDEN", errs[0].Code())
	_, errs = ledger(t, e, megan, "contoso", 1000)
	require.NotEmpty(t, errs)
	assert.Equal(t, "INVALID", errs[0].Code())
}

func TestLedger_SweepRecordsExpiryAndCap(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	e.Upkeep(t)
	es, errs := ledger(t, e, patti, "fabrikam", 100)
	require.Empty(t, errs)
	found := map[string]bool{}
	for _, x := range es {
		found[x.Kind+" "+key(*x.BenefitID)] = true
	}
	assert.True(t, found["EXPIRE fabrikam.solutions_partner_designation.20250301.cloud_support"])
	assert.True(t, found["CAP fabrikam.solutions_partner_designation.20260301.cloud_support"], "R24: capped at the renewal anniversary")
	n := len(es)
	e.Upkeep(t)
	es, _ = ledger(t, e, patti, "fabrikam", 100)
	assert.Len(t, es, n, "sweeping again records nothing twice")
}

// TestR15_RaceManyCreatesOnOnePlanNeverOverdraw: 40 creates at once on a plan of 5
// incidents give exactly 5 requests, and the balance, the requester's list and the ledger
// all say 5 incidents used, each once. Eight creates race for each incident, so a claim
// that is not decided by the unique index shows as a sixth request or a negative balance.
func TestR15_RaceManyCreatesOnOnePlanNeverOverdraw(t *testing.T) {
	t.Parallel()
	const n, quota = 40, 5
	e, _ := linkedEnv(t, contosoExpanded, lee)
	tok := e.Token(lee)
	var ok, exhausted, other atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := create(t, e, tok, azureRequest(fmt.Sprintf("race-%06d", i), contosoExpanded))
			switch {
			case r.Request != nil:
				ok.Add(1)
			case len(r.UserErrors) > 0 && (r.UserErrors[0].Code == "NO_INCIDENTS_LEFT"):
				exhausted.Add(1)
			default:
				other.Add(1)
				t.Logf("unexpected: %+v", r.UserErrors)
			}
		}()
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, quota, ok.Load())
	assert.EqualValues(t, n-quota, exhausted.Load())
	assert.Zero(t, other.Load())
	b := findBenefit(t, tenantBenefits(t, e, tok, "contoso"), contosoExpanded)
	assert.Equal(t, 0, *b.Incidents.Remaining)
	assert.Equal(t, quota, b.Incidents.Used)
	var out struct {
		SupportRequests struct{ Edges []struct{ Node request } }
	}
	e.Do(tok, `{ supportRequests(portal: AZURE, first: 100) { edges { node { `+requestFields+` } } } }`, nil).MustData(t, &out)
	assert.Equal(t, quota, len(out.SupportRequests.Edges), "every request made took one incident")
	for _, ed := range out.SupportRequests.Edges {
		assert.True(t, ed.Node.ConsumedIncident, ed.Node.ID)
	}
	var consumed []int
	testenv.WaitFor(t, 10*time.Second, "the ledger to record the consumptions", func() bool {
		es, errs := ledger(t, e, megan, "contoso", 100)
		require.Empty(t, errs)
		consumed = nil
		for _, x := range es {
			if x.Kind == "CONSUME" && key(*x.BenefitID) == contosoExpanded {
				consumed = append(consumed, *x.Incidents.Remaining)
			}
		}
		return len(consumed) >= quota
	})
	assert.Equal(t, []int{0, 1, 2, 3, 4}, consumed, "one consumption per incident, newest first")
}

// TestR16_RaceManyClosesOfOneDuplicateRefundOnce: 32 concurrent closes by two of the
// provider's principals, one refund.
func TestR16_RaceManyClosesOfOneDuplicateRefundOnce(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoExpanded, lee)
	tok := e.Token(lee)
	provs := []string{e.ProviderToken("engineer-1"), e.ProviderToken("ticketing")} // two of the provider's principals (R25)
	r := create(t, e, tok, azureRequest("close-race-1", contosoExpanded))
	require.NotNil(t, r.Request)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := closeReq(t, e, provs[i%2], r.Request.ID, "DUPLICATE")
			assert.Empty(t, c.UserErrors)
		}()
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 5, remaining(t, e, tok, "contoso", contosoExpanded))
	es, _ := ledger(t, e, megan, "contoso", 100)
	refunds := 0
	for _, x := range es {
		if x.Kind == "REFUND" {
			refunds++
		}
	}
	assert.Equal(t, 1, refunds, "one refund in the ledger")
}

// TestR15_RaceRetriesOfOneKeyMakeOneRequest: concurrent retries of one idempotency key.
func TestR15_RaceRetriesOfOneKeyMakeOneRequest(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoExpanded, lee)
	tok := e.Token(lee)
	ids := make([]string, 50)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := create(t, e, tok, azureRequest("same-key-for-all", contosoExpanded))
			if assert.Empty(t, r.UserErrors) {
				ids[i] = r.Request.ID
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		assert.Equal(t, ids[0], id)
	}
	assert.Equal(t, 4, remaining(t, e, tok, "contoso", contosoExpanded), "one incident for all the retries")
}
