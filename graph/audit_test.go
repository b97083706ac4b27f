package graph_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/testenv"
)

// Security finding 2 (OWASP A09): sign-in failures, authorization refusals, rate-limit
// hits and every admin and provider action leave a structured audit event (a log line,
// a counter) and, when they concern a tenant, an entry of its audit trail that its admins
// read.

type auditEntry struct {
	Event         string
	Outcome       string
	Code          *string
	Rule          *string
	PrincipalID   *string
	PrincipalKind *string
	Target        *string
	Operation     *string
}

func auditTrail(t *testing.T, e *testenv.Env, token, tenant string) []auditEntry {
	t.Helper()
	var out struct {
		AuditTrail struct{ Edges []struct{ Node auditEntry } }
	}
	e.Do(token, `query($t: ID!) { auditTrail(tenantId: $t, first: 100) { edges { node { event outcome code rule principalId principalKind target operation at } } } }`,
		map[string]any{"t": tenant}).MustData(t, &out)
	var es []auditEntry
	for _, ed := range out.AuditTrail.Edges {
		es = append(es, ed.Node)
	}
	return es
}

// findAudit finds the newest entry with the event and, when given, the code.
func findAudit(es []auditEntry, event, code string) (auditEntry, bool) {
	for _, en := range es {
		if en.Event == event && (code == "" || en.Code != nil && *en.Code == code) {
			return en, true
		}
	}
	return auditEntry{}, false
}

func viewerID(t *testing.T, e *testenv.Env, token string) string {
	t.Helper()
	var out struct{ Viewer struct{ ID string } }
	e.Do(token, `{ viewer { id } }`, nil).MustData(t, &out)
	return key(out.Viewer.ID) // the account's key, as principalId names it
}

func TestFinding2_AuditTrailAfterEachKindOfRefusalAndAction(t *testing.T) {
	t.Parallel()
	e := testenv.New(t, func(c *config.Config) { c.LinkRateAccount, c.LinkRateAddress = 3, 0 })
	meganTok, leeTok, samTok, provTok := e.Token(megan), e.Token(lee), e.Token(sam), e.ProviderToken(acme)
	ids := map[string]string{}
	for who, tok := range map[string]string{megan: meganTok, lee: leeTok, sam: samTok, provider: provTok} {
		ids[who] = viewerID(t, e, tok)
	}
	trail := func() []auditEntry { return auditTrail(t, e, meganTok, "contoso") }
	expect := func(what, event, code, principal, outcome string) auditEntry {
		t.Helper()
		en, ok := findAudit(trail(), event, code)
		require.True(t, ok, "%s: no %s %s in the trail", what, event, code)
		assert.Equal(t, outcome, en.Outcome, what)
		require.NotNil(t, en.PrincipalID, what)
		assert.Equal(t, ids[principal], *en.PrincipalID, "%s: who", what)
		require.NotNil(t, en.Operation, what)
		return en
	}

	// Refusals.
	r := e.Do(samTok, `{ tenant(id: "contoso") { id } }`, nil)
	require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
	en := expect("an outsider reads the tenant", "authz.refused", "FORBIDDEN", sam, "refused")
	assert.Equal(t, "tenant", *en.Operation)
	p := activate(t, e, leeTok, contosoSPDCloud)
	require.Equal(t, "ROLE_REQUIRED", p.UserErrors[0].Code)
	en = expect("a user activates", "authz.refused", "ROLE_REQUIRED", lee, "refused")
	assert.Equal(t, "R3", *en.Rule)
	assert.Equal(t, "activateBenefit", *en.Operation)

	// Admin actions.
	c := activated(t, e, contosoSPDCloud)
	en = expect("activate", "benefit.activate", "", megan, "ok")
	assert.Equal(t, contosoSPDCloud, *en.Target)
	r = e.Do(meganTok, `mutation { purchaseOffer(tenantId: "contoso", offer: "PARTNER_LAUNCH") { heldOffer { id } userErrors { code } } }`, nil)
	require.Empty(t, r.Errors)
	expect("purchase", "offer.purchase", "", megan, "ok")
	r = e.Do(meganTok, `mutation { renewOffer(heldOfferId: "contoso.partner_success_expanded.20260901") { heldOffer { id } userErrors { code } } }`, nil)
	require.Empty(t, r.Errors)
	expect("renew", "offer.renew", "", megan, "ok")

	// A link, a withdrawal, and the provider's resolution.
	require.Empty(t, link(t, e, leeTok, c, "AZURE", false).UserErrors)
	expect("link", "plan.link", "", lee, "ok")
	r1 := create(t, e, leeTok, azureRequest("audit-wd-0001", contosoSPDCloud))
	r2 := create(t, e, leeTok, azureRequest("audit-rs-0001", contosoSPDCloud))
	require.Empty(t, withdraw(t, e, leeTok, r1.Request.ID).UserErrors)
	en = expect("withdraw", "request.withdraw", "", lee, "ok")
	assert.Equal(t, key(r1.Request.ID), *en.Target)
	require.Empty(t, resolve(t, e, provTok, r2.Request.ID, "DUPLICATE").UserErrors)
	en = expect("resolve", "request.resolve", "", provider, "ok")
	assert.Equal(t, "SUPPORT_PROVIDER", *en.PrincipalKind)
	assert.Equal(t, key(r2.Request.ID), *en.Target)
	// A partner trying to resolve, and an admin closing as a bug: R25 refusals.
	require.Equal(t, "SUPPORT_PROVIDER_ONLY", closeReq(t, e, meganTok, r2.Request.ID, "BUG").UserErrors[0].Code)
	en = expect("an admin closes as a bug", "authz.refused", "SUPPORT_PROVIDER_ONLY", megan, "refused")
	assert.Equal(t, "R25", *en.Rule)

	// Who reads the trail: the tenant's admins only.
	for who, want := range map[string]string{lee: "ROLE_REQUIRED", sam: "FORBIDDEN", provider: "PARTNER_ONLY"} {
		tok := map[string]string{lee: leeTok, sam: samTok, provider: provTok}[who]
		r := e.Do(tok, `{ auditTrail(tenantId: "contoso") { edges { node { event } } } }`, nil)
		require.NotEmpty(t, r.Errors, who)
		assert.Equal(t, want, r.Errors[0].Code(), who)
	}
	// Paged, newest first.
	var page struct {
		AuditTrail struct {
			Edges    []struct{ Node auditEntry }
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	e.Do(meganTok, `{ auditTrail(tenantId: "contoso", first: 2) { edges { node { event } } pageInfo { hasNextPage endCursor } } }`, nil).MustData(t, &page)
	require.Len(t, page.AuditTrail.Edges, 2)
	require.True(t, page.AuditTrail.PageInfo.HasNextPage)
	all := trail()
	assert.Equal(t, all[0].Event, page.AuditTrail.Edges[0].Node.Event)
	e.Do(meganTok, `query($a: String) { auditTrail(tenantId: "contoso", first: 2, after: $a) { edges { node { event } } pageInfo { hasNextPage endCursor } } }`,
		map[string]any{"a": page.AuditTrail.PageInfo.EndCursor}).MustData(t, &page)
	require.Len(t, page.AuditTrail.Edges, 2)
	assert.Equal(t, all[2].Event, page.AuditTrail.Edges[0].Node.Event)
	r = e.Do(meganTok, `{ auditTrail(tenantId: "contoso", after: "bogus") { edges { node { event } } } }`, nil)
	require.NotEmpty(t, r.Errors)
	assert.Equal(t, "INVALID", r.Errors[0].Code())

	// Sign-in failures and rate-limit hits concern no one tenant: the log and the
	// counters have them.
	status, _ := rawPost(t, e, leeTok+"x", "application/json", `{"query": "{ viewer { id } }"}`)
	require.Equal(t, http.StatusUnauthorized, status)
	wrong := contract{AccessID: "AAAAAAAAAAAAAAAAAAAAAAAAAA", ContractID: "BBBBBBBBBBBBBBBBBBBBBBBBBB"}
	limited := false
	for range 5 {
		if r := e.Do(samTok, `mutation($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) { userErrors { code } } }`,
			map[string]any{"in": map[string]any{"accessId": wrong.AccessID, "contractId": wrong.ContractID, "portal": "AZURE"}}); len(r.Errors) > 0 {
			limited = limited || r.Errors[0].Code() == "RATE_LIMITED"
		}
	}
	require.True(t, limited)
	logs := e.LogText()
	for _, want := range []string{
		`msg=audit event=auth.signin_failed outcome=refused principal="" principalKind="" tenant=""`,
		`msg=audit event=ratelimit.hit outcome=refused principal=` + ids[sam],
		`msg=audit event=plan.link outcome=refused principal=` + ids[sam], // each wrong pair, the pair itself never
		`msg=audit event=authz.refused outcome=refused principal=` + ids[lee] + ` principalKind=ENTRA_ID tenant=contoso`,
		`msg=audit event=request.resolve outcome=ok principal=` + ids[provider] + ` principalKind=SUPPORT_PROVIDER tenant=contoso`,
	} {
		assert.Contains(t, logs, want)
	}
	assert.Contains(t, logs, `detail="the token is not valid: malformed"`, "why the token was refused, in a fixed phrase")
	metrics := rawGet(t, e, "/metrics")
	for _, want := range []string{
		`audit_events_total{event="auth.signin_failed",outcome="refused"} 1`,
		`audit_events_total{event="ratelimit.hit",outcome="refused"}`,
		`audit_events_total{event="benefit.activate",outcome="ok"} 1`,
		`audit_events_total{event="request.resolve",outcome="ok"} 1`,
		`audit_events_total{event="authz.refused",outcome="refused"}`,
	} {
		assert.Contains(t, metrics, want)
	}
	// No token and no secret, in the log or the trail.
	raw := e.Do(meganTok, `{ auditTrail(tenantId: "contoso", first: 100) { edges { node { event outcome code rule principalId principalKind target operation } } } }`, nil)
	for _, secret := range []string{meganTok, leeTok, samTok, provTok, c.AccessID, c.ContractID, wrong.AccessID, wrong.ContractID} {
		for _, part := range append([]string{secret}, strings.Split(secret, ".")...) {
			if len(part) < 20 {
				continue
			}
			assert.NotContains(t, logs, part)
			assert.NotContains(t, string(raw.Data), part)
		}
	}
	assert.Regexp(t, regexp.MustCompile(`msg=audit event=\S+ outcome=(ok|refused|failed) `), logs, "a stable shape")
}
