package graph_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
)

// R25: the refund follows the support provider's finding, not the partner's choice. The
// partner side withdraws; the provider side resolves.

const acme = "acme-support" // the support provider of these tests

func withdraw(t testing.TB, e *testenv.Env, token, id string) requestPayload {
	t.Helper()
	return requestMutation(t, e, token, "withdrawSupportRequest", "$id: ID!", "id: $id", map[string]any{"id": id})
}

func resolve(t testing.TB, e *testenv.Env, token, id, resolution string) requestPayload {
	t.Helper()
	return requestMutation(t, e, token, "resolveSupportRequest", "$id: ID!, $r: Resolution!", "id: $id, resolution: $r", map[string]any{"id": id, "r": resolution})
}

type queued struct {
	ID       string
	TenantID *string
	Portal   string
	PlanKind *string
	Type     string
	Title    string
	Status   string
}

func providerQueue(t *testing.T, e *testenv.Env, token string, args string) ([]queued, string) {
	t.Helper()
	var out struct {
		ProviderQueue struct {
			Edges []struct{ Node queued }
		}
	}
	r := e.Do(token, `{ providerQueue`+args+` { edges { node { id tenantId portal planKind type title status description customerId productId version } } pageInfo { hasNextPage endCursor } } }`, nil)
	r.MustData(t, &out)
	var qs []queued
	for _, ed := range out.ProviderQueue.Edges {
		qs = append(qs, ed.Node)
	}
	return qs, string(r.Data)
}

func ids(qs []queued) []string {
	var out []string
	for _, q := range qs {
		out = append(out, gid("SupportRequest", key(q.ID))) // the partner's ID of the request
	}
	return out
}

func billing(key, planID string) map[string]any {
	in := azureRequest(key, planID)
	in["type"] = "BILLING"
	return in
}

func TestR25_LeeCanNoLongerTurnAUsedIncidentIntoAFreeOne(t *testing.T) {
	t.Parallel()
	// The case: lee opens a TECHNICAL request (50 → 49) and closes it himself as
	// BUG. Now refused, and nothing changes; he may withdraw it, which refunds nothing.
	e, _ := linkedEnv(t, contosoSPDCloud, lee)
	tok := e.Token(lee)
	r := create(t, e, tok, azureRequest("lee-bug-0001", contosoSPDCloud))
	require.Empty(t, r.UserErrors)
	assert.Equal(t, 49, remaining(t, e, tok, "contoso", contosoSPDCloud))
	for _, reason := range []string{"BUG", "DUPLICATE"} {
		c := closeReq(t, e, tok, r.Request.ID, reason)
		require.Len(t, c.UserErrors, 1, reason)
		assert.Equal(t, "SUPPORT_PROVIDER_ONLY", c.UserErrors[0].Code)
		assert.Equal(t, "R25", *c.UserErrors[0].Rule)
		assert.Equal(t, []string{"reason"}, c.UserErrors[0].Field)
	}
	assert.Equal(t, 49, remaining(t, e, tok, "contoso", contosoSPDCloud), "a refused close changes nothing")
	w := withdraw(t, e, tok, r.Request.ID)
	require.Empty(t, w.UserErrors)
	assert.Equal(t, "CLOSED", w.Request.Status)
	assert.Equal(t, "WITHDRAWN", *w.Request.CloseReason)
	assert.False(t, w.Request.Refunded, "a withdrawn technical request is not refunded (R16, R25)")
	assert.Equal(t, 49, remaining(t, e, tok, "contoso", contosoSPDCloud))
	again := withdraw(t, e, tok, r.Request.ID)
	require.Empty(t, again.UserErrors, "withdrawing again answers the request as it is")
	assert.Equal(t, "WITHDRAWN", *again.Request.CloseReason)
}

func TestR25_WithdrawalRefundsOnlyWhatR16RefundsByType(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoSPDCloud, lee)
	tok := e.Token(lee)
	for i, typ := range []string{"BILLING", "QUOTA", "SUBSCRIPTION", "TECHNICAL"} {
		in := azureRequest(fmt.Sprintf("wd-type-%04d", i), contosoSPDCloud)
		in["type"] = typ
		r := create(t, e, tok, in)
		require.Empty(t, r.UserErrors, typ)
		w := withdraw(t, e, tok, r.Request.ID)
		require.Empty(t, w.UserErrors, typ)
		assert.Equal(t, typ != "TECHNICAL", w.Request.Refunded, "%s on a Partner Cloud Support plan (R16)", typ)
	}
	assert.Equal(t, 49, remaining(t, e, tok, "contoso", contosoSPDCloud), "only the technical request's incident is gone")
}

func TestR25_DeprecatedCloseIsAWithdrawalForPartners(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoSPDCloud, lee)
	tok := e.Token(lee)
	for i, reason := range []string{"RESOLVED", "CANCELLED", "WITHDRAWN"} {
		r := create(t, e, tok, azureRequest(fmt.Sprintf("dep-close-%04d", i), contosoSPDCloud))
		c := closeReq(t, e, tok, r.Request.ID, reason)
		require.Empty(t, c.UserErrors, reason)
		assert.Equal(t, "WITHDRAWN", *c.Request.CloseReason, "%s is recorded as a withdrawal", reason)
		assert.False(t, c.Request.Refunded)
	}
	var out struct {
		Type struct {
			Fields []struct {
				Name              string
				IsDeprecated      bool
				DeprecationReason *string
			}
		} `json:"__type"`
	}
	e.Do(tok, `{ __type(name: "Mutation") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } } }`, nil).MustData(t, &out)
	for _, f := range out.Type.Fields {
		if f.Name == "closeSupportRequest" {
			assert.True(t, f.IsDeprecated)
			require.NotNil(t, f.DeprecationReason)
			assert.Contains(t, *f.DeprecationReason, "withdrawSupportRequest")
		}
	}
}

func TestR25_AnAdminMayWithdrawButNeverChooseARefundingOutcome(t *testing.T) {
	t.Parallel()
	// Security finding 4: megan (contoso PARTNER_ADMIN) closed and refunded lee's request.
	e, _ := linkedEnv(t, contosoSPDCloud, lee)
	r := create(t, e, e.Token(lee), azureRequest("admin-wd-0001", contosoSPDCloud))
	for _, reason := range []string{"BUG", "DUPLICATE"} {
		c := closeReq(t, e, e.Token(megan), r.Request.ID, reason)
		require.Len(t, c.UserErrors, 1)
		assert.Equal(t, "SUPPORT_PROVIDER_ONLY", c.UserErrors[0].Code)
	}
	for _, who := range []string{adele, sam, patti} {
		w := withdraw(t, e, e.Token(who), r.Request.ID)
		require.Len(t, w.UserErrors, 1, who)
		assert.Equal(t, "FORBIDDEN", w.UserErrors[0].Code, "only the requester or a tenant admin withdraws: %s", who)
	}
	assert.Equal(t, 49, remaining(t, e, e.Token(lee), "contoso", contosoSPDCloud))
	w := withdraw(t, e, e.Token(megan), r.Request.ID)
	require.Empty(t, w.UserErrors, "a tenant admin may withdraw the tenant's requests")
	assert.False(t, w.Request.Refunded)
	assert.Equal(t, 49, remaining(t, e, e.Token(lee), "contoso", contosoSPDCloud))
}

func TestR25_PartnersNeverRecordAResolution(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoSPDCloud, lee)
	r := create(t, e, e.Token(lee), azureRequest("no-resolve-0001", contosoSPDCloud))
	for _, who := range []string{lee, megan, alex, adele, patti, sam} {
		p := resolve(t, e, e.Token(who), r.Request.ID, "DUPLICATE")
		require.Len(t, p.UserErrors, 1, who)
		assert.Equal(t, "SUPPORT_PROVIDER_ONLY", p.UserErrors[0].Code, who)
		res := e.Do(e.Token(who), `{ providerQueue { edges { node { id } } } }`, nil)
		require.Len(t, res.Errors, 1, who)
		assert.Equal(t, "SUPPORT_PROVIDER_ONLY", res.Errors[0].Code(), who)
		res = e.Do(e.Token(who), `query($id: ID!) { providerRequest(id: $id) { id } }`, map[string]any{"id": r.Request.ID})
		require.Len(t, res.Errors, 1, who)
		assert.Equal(t, "SUPPORT_PROVIDER_ONLY", res.Errors[0].Code(), who)
	}
	assert.Equal(t, 49, remaining(t, e, e.Token(lee), "contoso", contosoSPDCloud))
}

func TestR25_TheProviderCannotActForAPartner(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	c := activated(t, e, contosoSPDCloud)
	tok := e.ProviderToken(acme)
	e.Do(tok, `{ viewer { id } }`, nil) // the first sign-in creates the account
	stored := e.StoredDocuments(t)      // each refusal leaves it as it was (read once after each)
	for name, q := range map[string]string{
		"tenant":     `{ tenant(id: "contoso") { id benefits { contract { accessId contractId } } } }`,
		"ledger":     `{ incidentLedger(tenantId: "contoso") { edges { node { actorId requestId } } } }`,
		"audit":      `{ auditTrail(tenantId: "contoso") { edges { node { event } } } }`,
		"plans":      `{ supportPlans(productId: "azure", portal: AZURE) { available { id } } }`,
		"requests":   `{ supportRequests(portal: AZURE) { edges { node { id } } } }`,
		"activate":   `mutation { activateBenefit(benefitId: "` + contosoSPDCloud + `") { benefit { contract { accessId } } userErrors { code rule } } }`,
		"link":       `mutation { linkSupportPlan(input: {accessId: "` + c.AccessID + `", contractId: "` + c.ContractID + `", portal: AZURE}) { plan { benefitId } userErrors { code rule } } }`,
		"purchase":   `mutation { purchaseOffer(tenantId: "contoso", offer: "PARTNER_LAUNCH") { heldOffer { id } userErrors { code rule } } }`,
		"renew":      `mutation { renewOffer(heldOfferId: "contoso.solutions_partner_designation.20260901") { heldOffer { id } userErrors { code rule } } }`,
		"create":     `mutation { createSupportRequest(input: {idempotencyKey: "provider-0001", portal: PARTNER_CENTER, type: FRONT_LINE, title: "t"}) { request { id } userErrors { code rule } } }`,
		"withdraw":   `mutation { withdrawSupportRequest(id: "req_x") { request { id } userErrors { code rule } } }`,
		"ppi":        `mutation { purchasePayPerIncident(productId: "windows-server", version: "Windows Server 2025") { planId userErrors { code rule } } }`,
		"viewerPlan": `{ viewer { linkedPlans { benefitId } } }`,
	} {
		r := e.Do(tok, q, nil)
		raw, _ := json.Marshal(r)
		if name == "viewerPlan" {
			assert.Contains(t, string(raw), `"linkedPlans":[]`, "the provider links nothing")
			continue
		}
		assert.Contains(t, string(raw), `PARTNER_ONLY`, name)
		assert.Contains(t, string(raw), `R25`, name)
		assert.NotContains(t, string(raw), c.AccessID, name)
		assert.NotContains(t, string(raw), c.ContractID, name)
		after := e.StoredDocuments(t)
		assert.Equal(t, stored, after, "%s changed the store", name)
		stored = after
	}
}

func TestR25_TheProviderResolvesFromItsQueueAndTheRefundFollowsR16(t *testing.T) {
	t.Parallel()
	e, c := linkedEnv(t, contosoSPDCloud, lee)
	lees := create(t, e, e.Token(lee), azureRequest("prov-flow-0001", contosoSPDCloud))
	other := create(t, e, e.Token(lee), billing("prov-flow-0002", contosoSPDCloud))
	front := create(t, e, e.Token(lee), map[string]any{"idempotencyKey": "prov-flow-0003", "portal": "PARTNER_CENTER", "type": "FRONT_LINE", "title": "program question"})
	require.Empty(t, front.UserErrors)
	tok := e.ProviderToken(acme)
	meganTok := e.Token(megan)

	// A live subscriber (the tenant's admin) sees the refund as it is committed.
	_, next := subscribe(t, e, testenv.TransportWS, meganTok, "contoso", nil)
	joined(t, e, 1)

	qs, raw := providerQueue(t, e, tok, "")
	assert.Equal(t, []string{lees.Request.ID, other.Request.ID, front.Request.ID}, ids(qs), "oldest first, across tenants")
	for _, secret := range []string{c.AccessID, c.ContractID, lee, "acc_"} {
		assert.NotContains(t, raw, secret, "the provider reads no secret and no requester")
	}
	qs, _ = providerQueue(t, e, tok, "(portal: AZURE, planKind: PARTNER_CLOUD_SUPPORT)")
	assert.Equal(t, []string{lees.Request.ID, other.Request.ID}, ids(qs))
	qs, _ = providerQueue(t, e, tok, "(portal: PARTNER_CENTER)")
	assert.Equal(t, []string{front.Request.ID}, ids(qs))
	require.NotNil(t, qs[0].TenantID == nil, "a partner-centre request is on no tenant's plan")
	qs, _ = providerQueue(t, e, tok, "(planKind: PARTNER_ON_PREMISES_SUPPORT)")
	assert.Empty(t, qs)
	qs, _ = providerQueue(t, e, tok, "(first: 1)")
	require.Len(t, qs, 1)
	var page struct {
		ProviderQueue struct {
			Edges    []struct{ Node queued }
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	e.Do(tok, `{ providerQueue(first: 2) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`, nil).MustData(t, &page)
	require.True(t, page.ProviderQueue.PageInfo.HasNextPage)
	e.Do(tok, `query($a: String) { providerQueue(first: 2, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
		map[string]any{"a": page.ProviderQueue.PageInfo.EndCursor}).MustData(t, &page)
	require.Len(t, page.ProviderQueue.Edges, 1)
	assert.Equal(t, key(front.Request.ID), key(page.ProviderQueue.Edges[0].Node.ID))
	assert.False(t, page.ProviderQueue.PageInfo.HasNextPage)

	var read struct{ ProviderRequest queued }
	e.Do(tok, `query($id: ID!) { providerRequest(id: $id) { id tenantId portal planKind type title status } }`, map[string]any{"id": lees.Request.ID}).MustData(t, &read)
	assert.Equal(t, gid("Tenant", "contoso"), *read.ProviderRequest.TenantID)
	assert.Equal(t, "VM does not boot", read.ProviderRequest.Title)

	assert.Equal(t, 48, remaining(t, e, meganTok, "contoso", contosoSPDCloud))
	p := resolve(t, e, tok, lees.Request.ID, "DUPLICATE")
	require.Empty(t, p.UserErrors)
	assert.Equal(t, "DUPLICATE", *p.Request.CloseReason)
	assert.True(t, p.Request.Refunded, "a duplicate is refunded (R16)")
	assert.Equal(t, 49, remaining(t, e, meganTok, "contoso", contosoSPDCloud))
	ev := nextFor(t, next, contosoSPDCloud)
	for ev.Kind != "REFUND" {
		ev = nextFor(t, next, contosoSPDCloud)
	}
	assert.Equal(t, lees.Request.ID, *ev.RequestID, "the admin sees which request")
	assert.Equal(t, 49, *ev.Remaining)

	// At most once: resolving again (the same finding) changes nothing more; another
	// finding, or the requester's withdrawal, is refused as already closed.
	again := resolve(t, e, tok, lees.Request.ID, "DUPLICATE")
	require.Empty(t, again.UserErrors)
	for _, p := range []requestPayload{resolve(t, e, tok, lees.Request.ID, "BUG"), withdraw(t, e, e.Token(lee), lees.Request.ID)} {
		require.Len(t, p.UserErrors, 1)
		assert.Equal(t, "ALREADY_CLOSED", p.UserErrors[0].Code)
	}
	assert.Equal(t, 49, remaining(t, e, meganTok, "contoso", contosoSPDCloud))
	es, errs := ledger(t, e, megan, "contoso", 100)
	require.Empty(t, errs)
	refunds := 0
	for _, en := range es {
		if en.Kind == "REFUND" && en.RequestID != nil && *en.RequestID == lees.Request.ID {
			refunds++
			require.NotNil(t, en.ActorID)
			assert.True(t, strings.HasPrefix(*en.ActorID, "acc_"), "the ledger names the provider that resolved it")
		}
	}
	assert.Equal(t, 1, refunds, "one refund, one ledger entry")

	// A RESOLVED billing request on a cloud plan is refunded too (R16); a resolution is
	// never WITHDRAWN.
	p = resolve(t, e, tok, other.Request.ID, "RESOLVED")
	require.Empty(t, p.UserErrors)
	assert.True(t, p.Request.Refunded)
	r := e.Do(tok, `mutation { resolveSupportRequest(id: "x", resolution: WITHDRAWN) { userErrors { code } } }`, nil)
	require.NotEmpty(t, r.Errors, "WITHDRAWN is not a resolution")
	qs, _ = providerQueue(t, e, tok, "")
	assert.Equal(t, []string{front.Request.ID}, ids(qs), "resolved requests leave the queue")
}

func TestR25_ExistingClosedRequestsKeepTheirOutcome(t *testing.T) {
	t.Parallel()
	// Migration: a request a partner closed as BUG before R25 (written as the old
	// closeSupportRequest wrote it) keeps its outcome and refund, and stays closed.
	e, _ := linkedEnv(t, contosoSPDCloud, lee)
	tok := e.Token(lee)
	r := create(t, e, tok, azureRequest("legacy-bug-0001", contosoSPDCloud))
	e.LegacyClosure(t, "contoso", key(r.Request.ID), "BUG", testenv.DemoNow)
	var out struct {
		SupportRequests struct{ Edges []struct{ Node request } }
	}
	e.Do(tok, `{ supportRequests(portal: AZURE) { edges { node { `+requestFields+` } } } }`, nil).MustData(t, &out)
	require.Len(t, out.SupportRequests.Edges, 1)
	assert.Equal(t, "BUG", *out.SupportRequests.Edges[0].Node.CloseReason)
	assert.Equal(t, "CLOSED", out.SupportRequests.Edges[0].Node.Status)
	w := withdraw(t, e, tok, r.Request.ID)
	require.Len(t, w.UserErrors, 1)
	assert.Equal(t, "ALREADY_CLOSED", w.UserErrors[0].Code)
	qs, _ := providerQueue(t, e, e.ProviderToken(acme), "")
	assert.Empty(t, qs, "a closed request is off the queue, even one closed before the queue existed")
}

func TestR25_RaceProviderDuplicateAgainstRequesterWithdrawal(t *testing.T) {
	t.Parallel()
	// 20 requests; for each, the provider resolves it as DUPLICATE while the requester
	// withdraws it, all 40 at once. Each request ends with one outcome of the two, and
	// exactly the duplicates are refunded, once each.
	const n, quota = 20, 50
	e, _ := linkedEnv(t, contosoSPDCloud, lee)
	leeTok, provTok := e.Token(lee), e.ProviderToken(acme)
	e.Do(provTok, `{ viewer { id } }`, nil) // signed in before the race: both sides start alike
	reqs := make([]string, n)
	for i := range n {
		r := create(t, e, leeTok, azureRequest(fmt.Sprintf("race-r25-%04d", i), contosoSPDCloud))
		require.Empty(t, r.UserErrors)
		reqs[i] = r.Request.ID
	}
	require.Equal(t, quota-n, remaining(t, e, leeTok, "contoso", contosoSPDCloud))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, id := range reqs {
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			resolve(t, e, provTok, id, "DUPLICATE")
		}()
		go func() {
			defer wg.Done()
			<-start
			withdraw(t, e, leeTok, id)
		}()
	}
	close(start)
	wg.Wait()

	var out struct {
		SupportRequests struct{ Edges []struct{ Node request } }
	}
	e.Do(leeTok, `{ supportRequests(portal: AZURE, first: 100) { edges { node { `+requestFields+` } } } }`, nil).MustData(t, &out)
	require.Len(t, out.SupportRequests.Edges, n)
	duplicates := 0
	for _, ed := range out.SupportRequests.Edges {
		r := ed.Node
		require.NotNil(t, r.CloseReason)
		switch *r.CloseReason {
		case "DUPLICATE":
			duplicates++
			assert.True(t, r.Refunded, r.ID)
		case "WITHDRAWN":
			assert.False(t, r.Refunded, r.ID)
		default:
			t.Fatalf("%s closed as %s", r.ID, *r.CloseReason)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "the ledger to settle", func() bool {
		return remaining(t, e, leeTok, "contoso", contosoSPDCloud) == quota-n+duplicates
	})
	es, errs := ledger(t, e, megan, "contoso", 100)
	require.Empty(t, errs)
	perRequest := map[string]int{}
	for _, en := range es {
		if en.Kind == "REFUND" {
			perRequest[*en.RequestID]++
		}
	}
	assert.Len(t, perRequest, duplicates)
	for id, k := range perRequest {
		assert.Equal(t, 1, k, "at most one refund of %s", id)
	}
	t.Logf("%d of %d races went to the provider's DUPLICATE", duplicates, n)
}
