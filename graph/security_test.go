package graph_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/testenv"
)

// rawPost posts a body as is and returns the status and the body.
func rawPost(t *testing.T, e *testenv.Env, token, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.Server.URL+"/query", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func rawGet(t *testing.T, e *testenv.Env, path string) string {
	t.Helper()
	resp, err := http.Get(e.Server.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// TestSecurity_SecretsNeverInLogsErrorsOrMetrics runs a full scenario at debug log level —
// activation, the IDs read by members, links with the right pair and with wrong ones
// (until rate limited), support requests created and closed, bad tokens over HTTP and
// websockets, hostile bodies carrying the IDs — then looks for every Access ID, Contract
// ID and token it saw in the service's logs, in /metrics, and in every answer given to
// someone who may not read them (R4).
func TestSecurity_SecretsNeverInLogsErrorsOrMetrics(t *testing.T) {
	t.Parallel()
	e := testenv.New(t, func(c *config.Config) { c.LinkRateAccount, c.LinkRateAddress = 6, 0 })
	var secrets []string
	var outsiders []string // every answer to an account that may not read the IDs
	seen := func(token string) string { secrets = append(secrets, token); return token }
	meganTok, leeTok, samTok := seen(e.Token(megan)), seen(e.Token(lee)), seen(e.Token(sam))
	mallory := seen(e.Token("mallory@example.com", auth.KindMSA)) // an outside account guessing pairs
	provTok := seen(e.ProviderToken(acme))                        // the support provider (R25)

	// Activation (R3, R4); the IDs are read back by a member.
	cloud := activated(t, e, contosoSPDCloud)
	expanded := activated(t, e, contosoExpanded)
	for _, c := range []contract{cloud, expanded} {
		secrets = append(secrets, c.AccessID, c.ContractID)
	}
	assert.Equal(t, cloud, *findBenefit(t, tenantBenefits(t, e, leeTok, "contoso"), contosoSPDCloud).Contract)

	// Links: the right pair, again, in a refused flow, and wrong pairs until rate limited.
	ask := func(token, query string, vars map[string]any) testenv.Result {
		t.Helper()
		r := e.Do(token, query, vars)
		b, err := json.Marshal(r)
		require.NoError(t, err)
		outsiders = append(outsiders, string(b))
		return r
	}
	const linkQ = `mutation Link($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) {
		alreadyLinked plan { benefitId name status incidents { remaining } linkedFrom } userErrors { code rule field message } } }`
	linkWith := func(token string, c contract, portal string, inFlow bool) testenv.Result {
		return ask(token, linkQ, map[string]any{"in": map[string]any{"accessId": c.AccessID, "contractId": c.ContractID, "portal": portal, "inRequestFlow": inFlow}})
	}
	require.Empty(t, linkWith(samTok, cloud, "AZURE", false).Errors)
	require.Empty(t, linkWith(samTok, cloud, "DYNAMICS", true).Errors)
	require.Empty(t, linkWith(samTok, expanded, "AZURE", true).Errors) // R11: refused in the flow
	lower := contract{AccessID: strings.ToLower(cloud.AccessID), ContractID: strings.ToLower(cloud.ContractID)}
	wrong := []contract{
		{AccessID: cloud.AccessID, ContractID: expanded.ContractID},
		{AccessID: expanded.AccessID, ContractID: cloud.ContractID},
		{AccessID: cloud.ContractID, ContractID: cloud.AccessID},
		{AccessID: cloud.AccessID + "X", ContractID: cloud.ContractID},
		{AccessID: " " + cloud.AccessID, ContractID: cloud.ContractID + "\x00"},
		lower,
		{AccessID: strings.Repeat(cloud.AccessID, 10), ContractID: cloud.ContractID},
	}
	codes := map[string]int{}
	for _, c := range wrong {
		r := linkWith(mallory, c, "AZURE", false)
		for _, ge := range r.Errors {
			codes[ge.Code()]++
		}
		if len(r.Errors) == 0 {
			codes["INVALID_CONTRACT"]++
			assert.Contains(t, string(r.Data), "INVALID_CONTRACT")
		}
	}
	assert.Equal(t, map[string]int{"INVALID_CONTRACT": 6, "RATE_LIMITED": 1}, codes)
	r := linkWith(mallory, cloud, "AZURE", false)
	require.NotEmpty(t, r.Errors)
	assert.Equal(t, "RATE_LIMITED", r.Errors[0].Code())

	// What an outside user reads back never carries the IDs (R4).
	ask(samTok, `{ viewer { id email kind linkedPlans { benefitId name legacyName kind status incidents { total used remaining unlimited } endsAt linkedFrom linkedAt } } }`, nil)
	ask(samTok, `{ supportPlans(productId: "azure", portal: AZURE) { available { id kind name linked incidents { remaining } } unavailable { plan { id name } reasons { code rule message } } portalHint { message } } }`, nil)
	ask(samTok, `{ tenant(id: "contoso") { benefits { contract { accessId contractId } } } }`, nil)
	ask(samTok, `mutation { activateBenefit(benefitId: "`+contosoSPDCloud+`") { benefit { contract { accessId contractId } } userErrors { code message } } }`, nil)

	// Support requests created and closed, by the outside user and a member.
	req := create(t, e, samTok, azureRequest("sec-sam-0001", contosoSPDCloud))
	require.NotNil(t, req.Request, "%v", req.UserErrors)
	closeReq(t, e, samTok, req.Request.ID, "RESOLVED")
	require.Empty(t, link(t, e, leeTok, expanded, "AZURE", false).UserErrors)
	lr := create(t, e, leeTok, azureRequest("sec-lee-0001", contosoExpanded))
	require.NotNil(t, lr.Request, "%v", lr.UserErrors)
	closeReq(t, e, provTok, lr.Request.ID, "BUG")
	ask(samTok, `{ supportRequests(portal: SERVICES_HUB, first: 100) { edges { cursor node { id planId title status } } } }`, nil)
	ask(meganTok, `{ incidentLedger(tenantId: "contoso", first: 100) { edges { cursor node { seq kind benefitId planName requestId actorId reason } } } }`, nil)

	// Bad tokens: tampered, cut, from another signer, and an ID pasted as a token.
	other, err := auth.LoadOrCreateDevSigner(t.TempDir(), config.DevIssuer, "partnersupport-api", time.Now)
	require.NoError(t, err)
	forged, err := other.Issue(lee, lee, auth.KindEntraID, time.Hour)
	require.NoError(t, err)
	badTokens := []string{samTok + "x", samTok[:len(samTok)-5], seen(forged), cloud.AccessID, cloud.AccessID + "." + cloud.ContractID + ".x"}
	for _, bad := range badTokens {
		status, body := rawPost(t, e, bad, "application/json", `{"query": "{ viewer { email } }"}`)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Contains(t, body, "UNAUTHENTICATED")
		outsiders = append(outsiders, body)
		ws, _, err := testenv.DialWS(t, e.Server.URL+"/query", testenv.TransportWS, "")
		require.NoError(t, err)
		ws.Send("connection_init", "", map[string]any{"Authorization": "Bearer " + bad})
		assert.Equal(t, coderws.StatusCode(4403), ws.CloseStatus(10*time.Second))
	}
	// A live subscription of the outside user: its events carry no IDs.
	ws, _, err := testenv.DialWS(t, e.Server.URL+"/query", testenv.TransportWS, "")
	require.NoError(t, err)
	ws.Init(samTok)
	ws.Start("1", `subscription($t: ID!) { incidentBalanceChanged(tenantId: $t, after: "s0") { cursor seq kind benefitId planName remaining cause requestId actorId } }`, map[string]any{"t": "contoso"})
	for range 3 {
		m, err := ws.Next(15 * time.Second)
		require.NoError(t, err)
		require.Equal(t, "next", m.Type, "%s", m.Payload)
		outsiders = append(outsiders, string(m.Payload))
	}

	// Hostile bodies that carry the IDs: malformed, batched, mistyped, inline in a query
	// that is refused, over a form and over GET.
	pairJSON := `{"accessId": "` + cloud.AccessID + `", "contractId": "` + cloud.ContractID + `", "portal": "AZURE"}`
	for _, b := range []struct{ contentType, body string }{
		{"application/json", `{"query": "mutation($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) { alreadyLinked } }", "variables": {"in": ` + pairJSON}, // cut short
		{"application/json", `[{"query": "mutation($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) { alreadyLinked } }", "variables": {"in": ` + pairJSON + `}}]`},
		{"application/json", `{"query": 7, "variables": {"in": ` + pairJSON + `}}`},
		{"application/json", `{"query": "mutation($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) { alreadyLinked } }", "variables": {"in": {"accessId": 5, "contractId": "` + cloud.ContractID + `", "portal": "AZURE"}}}`},
		{"application/json", `{"query": "mutation($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) { alreadyLinked } }", "variables": {"in": {"accessId": "` + cloud.AccessID + `", "contractId": "` + cloud.ContractID + `", "portal": "NOWHERE"}}}`},
		{"application/json", `{"query": "mutation($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) { alreadyLinked } }", "variables": {"in": {"accessId": "` + cloud.AccessID + `", "contractId": "` + cloud.ContractID + `", "bogus": "` + cloud.AccessID + `"}}}`},
		{"application/x-www-form-urlencoded", url.Values{"query": {`mutation { linkSupportPlan(input: ` + pairJSON + `) { alreadyLinked } }`}}.Encode()},
		{"text/plain", `{"query": "mutation($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) { alreadyLinked } }", "variables": {"in": ` + pairJSON + `}}`},
	} {
		_, body := rawPost(t, e, mallory, b.contentType, b.body)
		outsiders = append(outsiders, body)
	}
	resp, err := http.Get(e.Server.URL + "/query?query=" + url.QueryEscape(`mutation { linkSupportPlan(input: {accessId: "`+cloud.AccessID+`", contractId: "`+cloud.ContractID+`", portal: AZURE}) { alreadyLinked } }`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	outsiders = append(outsiders, string(b))

	// Nowhere: not in the logs (at debug level), not in /metrics, not in any answer to an
	// outsider or in any error.
	logs := e.LogText()
	require.Contains(t, logs, "level=", "the service logged, at debug level")
	// The audit events of this scenario are in that log (finding 2), and so are checked
	// below: refused tokens, refused pairs, the rate limit, activations and links.
	for _, ev := range []string{"auth.signin_failed", "plan.link outcome=refused", "ratelimit.hit", "benefit.activate", "plan.link outcome=ok", "request.resolve"} {
		require.Contains(t, logs, "msg=audit event="+ev)
	}
	metrics := rawGet(t, e, "/metrics")
	require.Contains(t, metrics, "store_roundtrips_total")
	for i, s := range secrets {
		vs := []string{s, strings.ToLower(s)}
		if parts := strings.Split(s, "."); len(parts) == 3 { // a JWT: its payload and signature too
			vs = append(vs, parts[1], parts[2])
		}
		for _, v := range vs {
			assert.False(t, strings.Contains(logs, v), "secret %d is in the logs", i)
			assert.False(t, strings.Contains(metrics, v), "secret %d is in /metrics", i)
			for j, o := range outsiders {
				assert.False(t, strings.Contains(o, v), "secret %d is in answer %d to an outsider: %s", i, j, o)
			}
		}
	}
	assert.Greater(t, len(outsiders), 30)
}

// TestSecurity_ContractsAtRest documents what the store holds: the IDs in plain text in
// the contracts collection, readable back by members (R4), and nowhere else. SECURITY.md
// says how they are protected.
func TestSecurity_ContractsAtRest(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	c := activated(t, e, contosoSPDCloud)
	require.Empty(t, link(t, e, e.Token(sam), c, "AZURE", false).UserErrors)
	holding := e.CollectionsHolding(t, c.AccessID, c.ContractID)
	assert.Equal(t, []string{"contracts"}, holding, "only the contract holds the IDs: links, events and requests refer to the benefit")
}
