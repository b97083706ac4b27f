package graph_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/partnersupport/api/internal/testenv"
)

// The authorization matrix: every query, mutation and subscription of the schema, asked
// by every kind of caller about its own tenant, another tenant that exists, and one that
// does not. The use cases decide (internal/service, with internal/domain's membership and role checks); this
// proves from the outside that it allows exactly what docs/rules.md says:
//
//   - the catalog (offers, products) and the rules are public (R1, R8, docs/rules.md);
//   - any signed-in account reads its own identity, plans and requests (R6, R18, R23), links
//     a plan with the pair (R6, R9), opens requests (R15), and buys pay per incident only
//     with a personal account (R21);
//   - a tenant, its ledger and its live balances are for its members (R4), the ledger for
//     its admins; an outside user who linked a plan follows that plan's balance only;
//   - only a PARTNER_ADMIN or GLOBAL_ADMIN activates, buys and renews (R3, R20);
//   - a request is withdrawn by its creator or an admin of its plan's tenant (R25), and
//     resolved (duplicate, bug, ...) only by the support provider, a principal that is no
//     tenant's member and may do nothing of the partner's side: no tenant, secrets,
//     ledger, activation, link, purchase or request of its own (R25);
//
// and denies the rest, changing nothing. A refused read or write of another tenant's
// resource gets the same answer whether it exists or not.

// outcome is what a caller gets.
type outcome string

const (
	A  outcome = "allowed"               // authorised: answered, or refused by a business rule that is not about who asks
	U  outcome = "UNAUTHENTICATED"       // no account
	F  outcome = "FORBIDDEN"             // the one answer that does not tell whether it exists
	R  outcome = "ROLE_REQUIRED"         // a member without the role (R3)
	K  outcome = "PPI_NOT_ALLOWED"       // a work account, where only a personal one may (R21)
	NA outcome = "INVALID"               // the account has no such plan, whether the plan exists or not
	P  outcome = "PARTNER_ONLY"          // the support provider, asking for the partner's side (R25)
	S  outcome = "SUPPORT_PROVIDER_ONLY" // a partner principal, asking for the provider's side (R25)
	NF outcome = "NOT_FOUND"             // the provider serves every tenant: a missing request is simply missing
)

// provider is the support provider principal of the matrix (R25).
const provider = "provider:acme-support"

// The callers, in the order of a row.
var callers = []string{"", megan, alex, adele, lee, patti, sam, provider}

// row is the outcome for each caller: anonymous, megan (contoso PARTNER_ADMIN), alex
// (contoso GLOBAL_ADMIN), adele (contoso ADMIN_AGENT), lee (contoso USER), patti (fabrikam
// PARTNER_ADMIN and GLOBAL_ADMIN), sam (an outside MSA), the support provider (R25).
type row [8]outcome

// Targets: own (contoso's), other (fabrikam's, which exists) and none (does not exist).
const (
	own   = "own"
	other = "other"
	none  = "none"
)

const (
	fabrikamSPDCloud = "fabrikam.solutions_partner_designation.20260301.cloud_support"
	fabrikamHeldSPD  = "fabrikam.solutions_partner_designation.20260301"
	contosoHeldSPD   = "contoso.solutions_partner_designation.20260901"
)

// authzCase is one operation of the matrix.
type authzCase struct {
	// setup prepares the environment (as admins, before the cells run) and returns
	// values the run needs.
	setup func(t *testing.T, e *testenv.Env) map[string]string
	// run asks the operation as the token about the target; it returns the raw answer.
	run func(t *testing.T, e *testenv.Env, token, target string, fx map[string]string) answer
	// want is the matrix: a row per target.
	want map[string]row
	// mutates says denied cells must leave the store as it was.
	mutates bool
	// check, when set, looks further into an allowed answer (what the caller may see).
	check func(t *testing.T, who, target string, a answer, fx map[string]string)
}

// answer is a response: its top-level errors and the payload's userErrors, if any.
type answer struct {
	Data       json.RawMessage
	Errors     []testenv.Error
	UserErrors []userError
	Raw        string
}

func (a answer) outcome() outcome {
	var codes []string
	for _, e := range a.Errors {
		codes = append(codes, e.Code())
	}
	for _, u := range a.UserErrors {
		codes = append(codes, u.Code)
	}
	for _, c := range codes {
		switch outcome(c) {
		case U, F, R, K, NA, P, S, NF:
			return outcome(c)
		}
	}
	return A
}

// refusal is what tells a refusal apart, for comparing answers about a tenant that
// exists and one that does not.
func (a answer) refusal() string {
	type ref struct {
		Message    string
		Extensions map[string]any
	}
	var rs []ref
	for _, e := range a.Errors {
		rs = append(rs, ref{e.Message, e.Extensions})
	}
	for _, u := range a.UserErrors {
		rs = append(rs, ref{u.Message, map[string]any{"code": u.Code, "rule": u.Rule, "field": u.Field}})
	}
	b, _ := json.Marshal(rs)
	return string(b)
}

// ask posts a query and finds the userErrors of its one root field's payload, if any.
func ask(t *testing.T, e *testenv.Env, token, query string, vars map[string]any) answer {
	t.Helper()
	r := e.Do(token, query, vars)
	raw, err := json.Marshal(r)
	require.NoError(t, err)
	a := answer{Data: r.Data, Errors: r.Errors, Raw: string(raw)}
	var root map[string]json.RawMessage
	if json.Unmarshal(r.Data, &root) == nil {
		for _, v := range root {
			var p struct{ UserErrors []userError }
			if json.Unmarshal(v, &p) == nil {
				a.UserErrors = append(a.UserErrors, p.UserErrors...)
			}
		}
	}
	return a
}

// pick maps a target to the value of that kind.
func pick(target, ownV, otherV, noneV string) string {
	switch target {
	case own:
		return ownV
	case other:
		return otherV
	}
	return noneV
}

func tenantOf(target string) string { return pick(target, "contoso", "fabrikam", "nosuchtenant") }

func authzCases() map[string]authzCase {
	same := func(r row) map[string]row { return map[string]row{own: r} }
	return map[string]authzCase{
		"Query.viewer": {
			run: func(t *testing.T, e *testenv.Env, tok, _ string, _ map[string]string) answer {
				return ask(t, e, tok, `{ viewer { id email kind memberships { roles tenant { id } } linkedPlans { benefitId } } }`, nil)
			},
			want: same(row{U, A, A, A, A, A, A, A}),
			check: func(t *testing.T, who, _ string, a answer, _ map[string]string) {
				if who == provider {
					assert.Contains(t, string(a.Data), `"kind":"SUPPORT_PROVIDER","memberships":[]`, "nobody's member (R25)")
					return
				}
				assert.Contains(t, string(a.Data), `"email":"`+who+`"`, "one's own identity")
			},
		},
		"Query.tenant": {
			run: func(t *testing.T, e *testenv.Env, tok, target string, _ map[string]string) answer {
				return ask(t, e, tok, `query($id: ID!) { tenant(id: $id) { id name hasActiveOffer benefits { id contract { accessId contractId } } admins { email } } }`,
					map[string]any{"id": tenantOf(target)})
			},
			want: map[string]row{
				own:   {U, A, A, A, A, F, F, P},
				other: {U, F, F, F, F, A, F, P},
				none:  {U, F, F, F, F, F, F, P},
			},
		},
		// node and nodes answer every signed-in caller, and null for what the typed field
		// refuses (R4, R25): the check holds them to Query.tenant's matrix.
		"Query.node": {
			run: func(t *testing.T, e *testenv.Env, tok, target string, _ map[string]string) answer {
				return ask(t, e, tok, `query($id: ID!) { node(id: $id) { id ... on Tenant { name } } }`,
					map[string]any{"id": gid("Tenant", tenantOf(target))})
			},
			want:  same(row{U, A, A, A, A, A, A, A}),
			check: sameAsTenant,
		},
		"Query.nodes": {
			run: func(t *testing.T, e *testenv.Env, tok, target string, _ map[string]string) answer {
				return ask(t, e, tok, `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Tenant { name } } }`,
					map[string]any{"ids": []string{gid("Tenant", tenantOf(target)), gid("Tenant", tenantOf(target))}})
			},
			want:  same(row{U, A, A, A, A, A, A, A}),
			check: sameAsTenant,
		},
		"Query.offers": {
			run: func(t *testing.T, e *testenv.Env, tok, _ string, _ map[string]string) answer {
				return ask(t, e, tok, `{ offers { id name grants { kind incidents } } }`, nil)
			},
			want: same(row{A, A, A, A, A, A, A, A}), // the catalog is public (R1)
		},
		"Query.products": {
			run: func(t *testing.T, e *testenv.Env, tok, _ string, _ map[string]string) answer {
				return ask(t, e, tok, `{ products { id versions { name partnerSupportCovered } } }`, nil)
			},
			want: same(row{A, A, A, A, A, A, A, A}), // the catalog is public (R8)
		},
		"Query.rules": {
			run: func(t *testing.T, e *testenv.Env, tok, _ string, _ map[string]string) answer {
				return ask(t, e, tok, `{ rules(ids: ["R9"]) { key title text } }`, nil)
			},
			want: same(row{A, A, A, A, A, A, A, A}), // the rules are public (docs/rules.md)
			check: func(t *testing.T, _, _ string, a answer, _ map[string]string) {
				assert.Contains(t, string(a.Data), `"key":"R9","title":"What cannot be linked"`)
			},
		},
		"Query.supportPlans": {
			setup: func(t *testing.T, e *testenv.Env) map[string]string {
				activated(t, e, contosoSPDCloud)
				return nil
			},
			run: func(t *testing.T, e *testenv.Env, tok, _ string, _ map[string]string) answer {
				return ask(t, e, tok, `{ supportPlans(productId: "azure", portal: AZURE) { available { id } unavailable { plan { id } } } }`, nil)
			},
			want: same(row{U, A, A, A, A, A, A, P}),
			check: func(t *testing.T, who, _ string, a answer, _ map[string]string) {
				// Members consider their tenant's activated plans; nobody sees another
				// tenant's plan without linking it (R6, R23).
				member := who == megan || who == alex || who == adele || who == lee
				assert.Equal(t, member, strings.Contains(string(a.Data), gid("SupportPlan", contosoSPDCloud)), who)
			},
		},
		"Query.supportRequests": {
			setup: func(t *testing.T, e *testenv.Env) map[string]string {
				r := create(t, e, e.Token(lee), map[string]any{"idempotencyKey": "authz-lee-0001", "portal": "PARTNER_CENTER", "type": "FRONT_LINE", "title": "lee's"})
				require.NotNil(t, r.Request, "%v", r.UserErrors)
				return map[string]string{"request": r.Request.ID}
			},
			run: func(t *testing.T, e *testenv.Env, tok, _ string, _ map[string]string) answer {
				return ask(t, e, tok, `{ supportRequests(portal: SERVICES_HUB) { edges { node { id } } } }`, nil)
			},
			want: same(row{U, A, A, A, A, A, A, P}),
			check: func(t *testing.T, who, _ string, a answer, fx map[string]string) {
				assert.Equal(t, who == lee, strings.Contains(string(a.Data), fx["request"]), "only its creator lists a request (R18): %s", who)
			},
		},
		"Query.incidentLedger": {
			run: func(t *testing.T, e *testenv.Env, tok, target string, _ map[string]string) answer {
				return ask(t, e, tok, `query($id: ID!) { incidentLedger(tenantId: $id) { edges { node { seq kind benefitId } } } }`, map[string]any{"id": tenantOf(target)})
			},
			want: map[string]row{
				own:   {U, A, A, R, R, F, F, P},
				other: {U, F, F, F, F, A, F, P},
				none:  {U, F, F, F, F, F, F, P},
			},
		},
		"Mutation.activateBenefit": {
			mutates: true,
			run: func(t *testing.T, e *testenv.Env, tok, target string, _ map[string]string) answer {
				return ask(t, e, tok, `mutation($id: ID!) { activateBenefit(benefitId: $id) { benefit { id contract { accessId } } userErrors { code rule field message } } }`,
					map[string]any{"id": pick(target, contosoSPDCloud, fabrikamSPDCloud, "contoso.no_such_offer.20260901.cloud_support")})
			},
			want: map[string]row{
				own:   {U, A, A, R, R, F, F, P},
				other: {U, F, F, F, F, A, F, P},
				none:  {U, F, F, F, F, F, F, P},
			},
		},
		"Mutation.linkSupportPlan": {
			mutates: true,
			setup: func(t *testing.T, e *testenv.Env) map[string]string {
				c := activated(t, e, contosoSPDCloud)
				return map[string]string{"access": c.AccessID, "contract": c.ContractID}
			},
			run: func(t *testing.T, e *testenv.Env, tok, _ string, fx map[string]string) answer {
				return ask(t, e, tok, `mutation($a: String!, $c: String!) { linkSupportPlan(input: {accessId: $a, contractId: $c, portal: AZURE}) { alreadyLinked plan { benefitId } userErrors { code rule message } } }`,
					map[string]any{"a": fx["access"], "c": fx["contract"]})
			},
			want: same(row{U, A, A, A, A, A, A, P}), // any account, member or not (R6); never the provider (R25)
			check: func(t *testing.T, who, _ string, a answer, _ map[string]string) {
				assert.Contains(t, string(a.Data), gid("Benefit", contosoSPDCloud), who)
				assert.Empty(t, a.UserErrors, who)
			},
		},
		"Mutation.purchaseOffer": {
			mutates: true,
			run: func(t *testing.T, e *testenv.Env, tok, target string, _ map[string]string) answer {
				return ask(t, e, tok, `mutation($t: ID!) { purchaseOffer(tenantId: $t, offer: "PARTNER_LAUNCH") { heldOffer { id } userErrors { code rule field message } } }`,
					map[string]any{"t": tenantOf(target)})
			},
			want: map[string]row{
				own:   {U, A, A, R, R, F, F, P},
				other: {U, F, F, F, F, A, F, P},
				none:  {U, F, F, F, F, F, F, P},
			},
		},
		"Mutation.renewOffer": {
			mutates: true,
			run: func(t *testing.T, e *testenv.Env, tok, target string, _ map[string]string) answer {
				return ask(t, e, tok, `mutation($id: ID!) { renewOffer(heldOfferId: $id) { heldOffer { id } userErrors { code rule field message } } }`,
					map[string]any{"id": pick(target, contosoHeldSPD, fabrikamHeldSPD, "contoso.no_such_offer.20260901")})
			},
			want: map[string]row{
				own:   {U, A, A, R, R, F, F, P},
				other: {U, F, F, F, F, A, F, P},
				none:  {U, F, F, F, F, F, F, P},
			},
		},
		"Mutation.createSupportRequest": {
			mutates: true,
			setup: func(t *testing.T, e *testenv.Env) map[string]string {
				activated(t, e, contosoSPDCloud) // activated, but linked by nobody
				return nil
			},
			run: func(t *testing.T, e *testenv.Env, tok, target string, _ map[string]string) answer {
				in := map[string]any{"idempotencyKey": fmt.Sprintf("authz-%s-%d", target, time.Now().UnixNano()), "title": "t"}
				switch target {
				case own: // a free request of the partner centre needs no plan (R17): anyone signed in
					in["type"], in["portal"] = "PARTNER_PROGRAM", "PARTNER_CENTER"
				default: // another's plan, or none: the same refusal
					in["type"], in["planId"], in["productId"], in["portal"] = "TECHNICAL", pick(target, "", fabrikamSPDCloud, "fabrikam.no_such_offer.20260301.cloud_support"), "azure", "AZURE"
				}
				a := ask(t, e, tok, `mutation($in: CreateSupportRequestInput!) { createSupportRequest(input: $in) { request { id } userErrors { code rule field message } } }`, map[string]any{"in": in})
				if plan, ok := in["planId"].(string); ok {
					for i := range a.UserErrors { // the refusal names the plan asked for; compare the rest
						a.UserErrors[i].Message = strings.ReplaceAll(a.UserErrors[i].Message, plan, "<plan>")
					}
				}
				return a
			},
			want: map[string]row{
				own:   {U, A, A, A, A, A, A, P},
				other: {U, NA, NA, NA, NA, NA, NA, P},
				none:  {U, NA, NA, NA, NA, NA, NA, P},
			},
		},
		"Mutation.closeSupportRequest": {
			// Deprecated (R25): a partner's close is a withdrawal, the provider's a resolution.
			mutates: true,
			setup:   twoRequests,
			run: func(t *testing.T, e *testenv.Env, tok, target string, fx map[string]string) answer {
				return ask(t, e, tok, `mutation($id: ID!) { closeSupportRequest(id: $id, reason: RESOLVED) { request { id status } userErrors { code rule field message } } }`, map[string]any{"id": requestOf(fx, target)})
			},
			// own: lee's request on a contoso plan; other: patti's on a fabrikam plan.
			want: map[string]row{
				own:   {U, A, A, F, A, F, F, A},
				other: {U, F, F, F, F, A, F, A},
				none:  {U, F, F, F, F, F, F, NF},
			},
		},
		"Mutation.withdrawSupportRequest": {
			mutates: true,
			setup:   twoRequests,
			run: func(t *testing.T, e *testenv.Env, tok, target string, fx map[string]string) answer {
				return ask(t, e, tok, `mutation($id: ID!) { withdrawSupportRequest(id: $id) { request { id status closeReason } userErrors { code rule field message } } }`, map[string]any{"id": requestOf(fx, target)})
			},
			want: map[string]row{
				own:   {U, A, A, F, A, F, F, P},
				other: {U, F, F, F, F, A, F, P},
				none:  {U, F, F, F, F, F, F, P},
			},
			check: func(t *testing.T, who, _ string, a answer, _ map[string]string) {
				assert.Contains(t, string(a.Data), `"closeReason":"WITHDRAWN"`, who)
			},
		},
		"Mutation.resolveSupportRequest": {
			mutates: true,
			setup:   twoRequests,
			run: func(t *testing.T, e *testenv.Env, tok, target string, fx map[string]string) answer {
				return ask(t, e, tok, `mutation($id: ID!) { resolveSupportRequest(id: $id, resolution: DUPLICATE) { request { id status closeReason refunded } userErrors { code rule field message } } }`, map[string]any{"id": requestOf(fx, target)})
			},
			want: map[string]row{
				own:   {U, S, S, S, S, S, S, A},
				other: {U, S, S, S, S, S, S, A},
				none:  {U, S, S, S, S, S, S, NF},
			},
			check: func(t *testing.T, who, _ string, a answer, _ map[string]string) {
				assert.Contains(t, string(a.Data), `"closeReason":"DUPLICATE","refunded":true`, "the provider's finding refunds (R16)")
			},
		},
		"Query.providerQueue": {
			setup: twoRequests,
			run: func(t *testing.T, e *testenv.Env, tok, _ string, _ map[string]string) answer {
				return ask(t, e, tok, `{ providerQueue { edges { node { id tenantId portal planKind type title status } } pageInfo { hasNextPage } } }`, nil)
			},
			want: same(row{U, S, S, S, S, S, S, A}),
			check: func(t *testing.T, _, _ string, a answer, fx map[string]string) {
				assert.Contains(t, string(a.Data), gid("ProviderRequest", key(fx[own])), "the queue is across tenants (R25)")
				assert.Contains(t, string(a.Data), gid("ProviderRequest", key(fx[other])))
			},
		},
		"Query.providerRequest": {
			setup: twoRequests,
			run: func(t *testing.T, e *testenv.Env, tok, target string, fx map[string]string) answer {
				return ask(t, e, tok, `query($id: ID!) { providerRequest(id: $id) { id tenantId planId planKind portal productId type title status } }`, map[string]any{"id": requestOf(fx, target)})
			},
			want: map[string]row{
				own:   {U, S, S, S, S, S, S, A},
				other: {U, S, S, S, S, S, S, A},
				none:  {U, S, S, S, S, S, S, NF},
			},
		},
		"Query.auditTrail": {
			run: func(t *testing.T, e *testenv.Env, tok, target string, _ map[string]string) answer {
				return ask(t, e, tok, `query($id: ID!) { auditTrail(tenantId: $id) { edges { node { event outcome code principalId } } } }`, map[string]any{"id": tenantOf(target)})
			},
			want: map[string]row{
				own:   {U, A, A, R, R, F, F, P},
				other: {U, F, F, F, F, A, F, P},
				none:  {U, F, F, F, F, F, F, P},
			},
		},
		"Mutation.purchasePayPerIncident": {
			mutates: true,
			run: func(t *testing.T, e *testenv.Env, tok, _ string, _ map[string]string) answer {
				return ask(t, e, tok, `mutation { purchasePayPerIncident(productId: "windows-server", version: "Windows Server 2025") { planId userErrors { code rule field message } } }`, nil)
			},
			want: same(row{U, K, K, K, K, K, A, P}), // personal accounts only (R21), by the token's kind
		},
		"Subscription.incidentBalanceChanged": {
			setup: func(t *testing.T, e *testenv.Env) map[string]string {
				c := activated(t, e, contosoSPDCloud)
				require.Empty(t, link(t, e, e.Token(sam), c, "AZURE", false).UserErrors)
				return nil
			},
			run: func(t *testing.T, e *testenv.Env, tok, target string, _ map[string]string) answer {
				return subscribeOnce(t, e, tok, tenantOf(target))
			},
			want: map[string]row{
				own:   {U, A, A, A, A, F, A, A}, // sam linked one of contoso's plans: that plan only
				other: {U, F, F, F, F, A, F, A}, // the provider: any tenant's balances, no who or which
				none:  {U, F, F, F, F, F, F, F},
			},
			check: func(t *testing.T, who, target string, a answer, _ map[string]string) {
				if who == sam {
					assert.Contains(t, string(a.Data), gid("Benefit", contosoSPDCloud), "an outside user sees the plan it linked")
				}
			},
		},
	}
}

// sameAsTenant holds a node answer about a tenant to Query.tenant's matrix: the tenant
// where tenant(id:) answers it, null where it refuses.
func sameAsTenant(t *testing.T, who, target string, a answer, _ map[string]string) {
	t.Helper()
	visible := authzCases()["Query.tenant"].want[target][slices.Index(callers, who)] == A
	name := pick(target, "Contoso Ltd.", "Fabrikam, Inc.", "nosuchtenant")
	assert.Equal(t, visible, strings.Contains(string(a.Data), name), "%s about %s: %s", who, target, a.Data)
	assert.Equal(t, visible, !strings.Contains(string(a.Data), "null"), "%s about %s: %s", who, target, a.Data)
}

// twoRequests opens lee's request on a contoso plan (own) and patti's on a fabrikam
// plan (other).
func twoRequests(t *testing.T, e *testenv.Env) map[string]string {
	lees := create(t, e, e.Token(lee), azureRequestOn(t, e, lee, contosoSPDCloud, megan, "authz-close-lee1"))
	pattis := create(t, e, e.Token(patti), azureRequestOn(t, e, patti, fabrikamSPDCloud, patti, "authz-close-pat1"))
	require.NotNil(t, lees.Request, "%v", lees.UserErrors)
	require.NotNil(t, pattis.Request, "%v", pattis.UserErrors)
	return map[string]string{own: lees.Request.ID, other: pattis.Request.ID}
}

// requestOf is the request of a target; none is one that does not exist.
func requestOf(fx map[string]string, target string) string {
	if target == none {
		return "req_nosuchrequest0000000000"
	}
	return fx[target]
}

// azureRequestOn links the plan for who (activated by admin) and returns a request on it.
func azureRequestOn(t *testing.T, e *testenv.Env, who, benefitID, admin, key string) map[string]any {
	t.Helper()
	p := activate(t, e, e.Token(admin), benefitID)
	require.Empty(t, p.UserErrors)
	require.Empty(t, link(t, e, e.Token(who), *p.Benefit.Contract, "AZURE", false).UserErrors)
	return azureRequest(key, benefitID)
}

// subscribeOnce subscribes from the start of the tenant's ledger and returns the first
// answer: an event when allowed (every tenant has grant events), a refusal otherwise.
func subscribeOnce(t *testing.T, e *testenv.Env, token, tenant string) answer {
	t.Helper()
	ws, _, err := testenv.DialWS(t, e.Server.URL+"/query", testenv.TransportWS, "")
	require.NoError(t, err)
	defer ws.Conn.CloseNow()
	ws.Init(token)
	ws.Start("1", `subscription($t: ID!) { incidentBalanceChanged(tenantId: $t, after: "s0") { seq kind benefitId } }`, map[string]any{"t": tenant})
	m, err := ws.Next(15 * time.Second)
	require.NoError(t, err)
	var p struct {
		Data   json.RawMessage
		Errors []testenv.Error
	}
	if m.Type == "error" {
		require.NoError(t, json.Unmarshal(m.Payload, &p.Errors))
	} else {
		require.Equal(t, "next", m.Type, "%s", m.Payload)
		require.NoError(t, json.Unmarshal(m.Payload, &p))
	}
	return answer{Data: p.Data, Errors: p.Errors, Raw: string(m.Payload)}
}

// schemaOperations lists the schema's queries, mutations and subscriptions.
func schemaOperations(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("../schema.graphqls")
	require.NoError(t, err)
	s, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)})
	require.Nil(t, gerr)
	var ops []string
	for _, root := range []*ast.Definition{s.Query, s.Mutation, s.Subscription} {
		if root == nil {
			continue
		}
		for _, f := range root.Fields {
			if !strings.HasPrefix(f.Name, "__") {
				ops = append(ops, root.Name+"."+f.Name)
			}
		}
	}
	sort.Strings(ops)
	return ops
}

// TestAuthz_MatrixCoversEveryOperation fails when the schema has an operation the matrix
// does not decide, or the matrix decides one the schema no longer has.
func TestAuthz_MatrixCoversEveryOperation(t *testing.T) {
	t.Parallel()
	cases := authzCases()
	ops := schemaOperations(t)
	require.NotEmpty(t, ops)
	for _, op := range ops {
		c, ok := cases[op]
		if !assert.True(t, ok, "%s has no entry in the authorization matrix (graph/authz_test.go)", op) {
			continue
		}
		assert.Contains(t, c.want, own, "%s: no row for the caller's own tenant", op)
		for target, r := range c.want {
			for i, o := range r {
				assert.NotEmpty(t, o, "%s %s: no outcome for caller %q", op, target, callers[i])
			}
		}
	}
	for op := range cases {
		assert.True(t, slices.Contains(ops, op), "the matrix decides %s, which the schema does not have", op)
	}
}

// TestAuthz_Matrix runs every cell: denials first (each must change nothing), then the
// allowed calls.
func TestAuthz_Matrix(t *testing.T) {
	t.Parallel()
	for op, c := range authzCases() {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			e := testenv.New(t)
			tokens := map[string]string{"": ""}
			for _, who := range callers[1:] {
				if who == provider {
					tokens[who] = e.ProviderToken("acme-support")
				} else {
					tokens[who] = e.Token(who)
				}
				e.Do(tokens[who], `{ viewer { id } }`, nil) // first sign-in creates the account
			}
			var fx map[string]string
			if c.setup != nil {
				fx = c.setup(t, e)
			}
			type cell struct {
				who, target string
				want        outcome
			}
			var denied, allowed []cell
			for target, r := range c.want {
				for i, want := range r {
					cl := cell{callers[i], target, want}
					if want == A {
						allowed = append(allowed, cl)
					} else {
						denied = append(denied, cl)
					}
				}
			}
			sort.Slice(denied, func(i, j int) bool { return denied[i].target+denied[i].who < denied[j].target+denied[j].who })
			refusals := map[string]string{} // who/target → refusal
			// A refusal writes nothing but its audit entry (finding 2): what is stored after
			// each refusal is what was stored before it, the state after the one before.
			var stored map[string]int64
			if c.mutates {
				stored = e.StoredDocuments(t)
			}
			for _, cl := range denied {
				a := c.run(t, e, tokens[cl.who], cl.target, fx)
				assert.Equal(t, cl.want, a.outcome(), "%s as %q about %s: %s", op, cl.who, cl.target, a.Raw)
				if c.mutates {
					after := e.StoredDocuments(t)
					assert.Equal(t, stored, after, "%s as %q about %s changed the store", op, cl.who, cl.target)
					stored = after
				}
				refusals[cl.who+"/"+cl.target] = a.refusal()
				// A refusal shows nothing of the resource.
				for _, name := range []string{"Contoso Ltd.", "Fabrikam, Inc.", "accessId\":\"", "\"benefits\":[{"} {
					assert.NotContains(t, a.Raw, name, "%s as %q about %s", op, cl.who, cl.target)
				}
			}
			// Another tenant's resource that exists and one that does not get the same answer.
			for _, who := range callers {
				o, okO := refusals[who+"/"+other]
				n, okN := refusals[who+"/"+none]
				if okO && okN && c.want[other][slices.Index(callers, who)] == c.want[none][slices.Index(callers, who)] {
					assert.Equal(t, o, n, "%s as %q: another tenant's and a missing one's answers differ", op, who)
				}
			}
			for _, cl := range allowed {
				a := c.run(t, e, tokens[cl.who], cl.target, fx)
				assert.Equal(t, A, a.outcome(), "%s as %q about %s: %s", op, cl.who, cl.target, a.Raw)
				assert.Empty(t, a.Errors, "%s as %q about %s", op, cl.who, cl.target)
				if c.check != nil {
					c.check(t, cl.who, cl.target, a, fx)
				}
			}
		})
	}
}
