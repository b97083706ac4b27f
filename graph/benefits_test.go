package graph_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
)

// Demo accounts (internal/fixture/demo.yaml).
const (
	megan   = "megan@contoso.com"          // contoso PARTNER_ADMIN
	alex    = "alex@contoso.com"           // contoso GLOBAL_ADMIN
	adele   = "adele@contoso.com"          // contoso ADMIN_AGENT
	lee     = "lee@contoso.com"            // contoso USER
	patti   = "patti@fabrikam.com"         // fabrikam PARTNER_ADMIN + GLOBAL_ADMIN
	pradeep = "pradeep@northwind.com"      // northwind PARTNER_ADMIN, no active offer
	sam     = "sam.freelancer@outlook.com" // outside MSA user
	fabDev  = "fabrikam.dev@outlook.com"   // fabrikam USER, MSA

	contosoSPDCloud  = "contoso.solutions_partner_designation.20260901.cloud_support"
	contosoSPDOnPrem = "contoso.solutions_partner_designation.20260901.on_premises_support"
	contosoOldSPD    = "contoso.solutions_partner_designation.20250901.cloud_support"
	contosoExpanded  = "contoso.partner_success_expanded.20260901.cloud_support"
)

type incidents struct {
	Total     *int `json:"total"`
	Used      int  `json:"used"`
	Remaining *int `json:"remaining"`
	Unlimited bool `json:"unlimited"`
}

type contract struct {
	AccessID   string `json:"accessId"`
	ContractID string `json:"contractId"`
}

type benefit struct {
	ID          string     `json:"id"`
	OfferID     string     `json:"offerId"`
	Kind        string     `json:"kind"`
	Name        string     `json:"name"`
	LegacyName  *string    `json:"legacyName"`
	Status      string     `json:"status"`
	Incidents   incidents  `json:"incidents"`
	ActivatedAt *time.Time `json:"activatedAt"`
	StartsAt    time.Time  `json:"startsAt"`
	EndsAt      time.Time  `json:"endsAt"`
	Contract    *contract  `json:"contract"`
}

type userError struct {
	Code    string   `json:"code"`
	Rule    *string  `json:"rule"`
	Field   []string `json:"field"`
	Message string   `json:"message"`
}

const benefitFields = `id offerId kind name legacyName status incidents { total used remaining unlimited } activatedAt startsAt endsAt contract { accessId contractId }`

func tenantBenefits(t *testing.T, e *testenv.Env, token, tenant string) []benefit {
	t.Helper()
	var out struct {
		Tenant struct{ Benefits []benefit } `json:"tenant"`
	}
	e.Do(token, `query($id: ID!) { tenant(id: $id) { benefits { `+benefitFields+` } } }`, map[string]any{"id": tenant}).MustData(t, &out)
	return out.Tenant.Benefits
}

func findBenefit(t *testing.T, bs []benefit, id string) benefit {
	t.Helper()
	for _, b := range bs {
		if key(b.ID) == id {
			return b
		}
	}
	t.Fatalf("benefit %s not listed", id)
	return benefit{}
}

type activatePayload struct {
	Benefit    *benefit    `json:"benefit"`
	UserErrors []userError `json:"userErrors"`
}

func activate(t *testing.T, e *testenv.Env, token, benefitID string) activatePayload {
	t.Helper()
	var out struct{ ActivateBenefit activatePayload }
	e.Do(token, `mutation($id: ID!) { activateBenefit(benefitId: $id) { benefit { `+benefitFields+` } userErrors { code rule field message } } }`,
		map[string]any{"id": benefitID}).MustData(t, &out)
	return out.ActivateBenefit
}

type linkPayload struct {
	Plan *struct {
		BenefitID  string    `json:"benefitId"`
		Name       string    `json:"name"`
		Status     string    `json:"status"`
		Incidents  incidents `json:"incidents"`
		LinkedFrom string    `json:"linkedFrom"`
	} `json:"plan"`
	AlreadyLinked bool        `json:"alreadyLinked"`
	UserErrors    []userError `json:"userErrors"`
}

func link(t *testing.T, e *testenv.Env, token string, c contract, portal string, inFlow bool) linkPayload {
	t.Helper()
	var out struct{ LinkSupportPlan linkPayload }
	e.Do(token, `mutation($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) {
		plan { benefitId name status incidents { total used remaining unlimited } linkedFrom }
		alreadyLinked userErrors { code rule field message } } }`,
		map[string]any{"in": map[string]any{"accessId": c.AccessID, "contractId": c.ContractID, "portal": portal, "inRequestFlow": inFlow}}).MustData(t, &out)
	return out.LinkSupportPlan
}

func ruleOf(u userError) string {
	if u.Rule == nil {
		return ""
	}
	return *u.Rule
}

func TestR1_OfferCatalogIsDataWithEveryOffer(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	var out struct {
		Offers []struct {
			ID     string
			Legacy bool
			Grants []struct {
				Kind      string
				Incidents *int
				Unlimited bool
				Name      string
			}
		}
	}
	e.Do("", `{ offers { id legacy grants { kind incidents unlimited name } } }`, nil).MustData(t, &out)
	byID := map[string][]string{}
	for _, o := range out.Offers {
		for _, g := range o.Grants {
			n := "unlimited"
			if g.Incidents != nil {
				n = strconv.Itoa(*g.Incidents)
			}
			byID[key(o.ID)] = append(byID[key(o.ID)], g.Kind+":"+n)
		}
		if _, ok := byID[key(o.ID)]; !ok {
			byID[key(o.ID)] = nil
		}
	}
	assert.ElementsMatch(t, []string{"CLOUD_SUPPORT:50", "ON_PREMISES_SUPPORT:20"}, byID["SOLUTIONS_PARTNER_DESIGNATION"])
	assert.Empty(t, byID["PARTNER_LAUNCH"])
	assert.Contains(t, byID, "PARTNER_LAUNCH")
	assert.Equal(t, []string{"CLOUD_SUPPORT:2"}, byID["PARTNER_SUCCESS_CORE"])
	assert.Equal(t, []string{"CLOUD_SUPPORT:5"}, byID["PARTNER_SUCCESS_EXPANDED"])
	assert.Equal(t, []string{"CLOUD_SUPPORT:unlimited"}, byID["LEGACY_GOLD_COMPETENCY"])
	assert.Equal(t, []string{"CLOUD_SUPPORT:unlimited"}, byID["LEGACY_SILVER_COMPETENCY"])
	require.Len(t, byID["LEGACY_ACTION_PACK"], 1)
	assert.Contains(t, byID["LEGACY_ACTION_PACK"][0], "ON_PREMISES_SUPPORT:") // R13
	require.NotEmpty(t, byID["ISV_SUCCESS"])
	assert.Contains(t, byID["ISV_SUCCESS"][0], "ISV_CONSULTATION:") // R22
}

func TestR2_R24_SPDCapDependsOnRenewalDate(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	fab := tenantBenefits(t, e, e.Token(patti), "fabrikam")
	// Renewed 2025-03-01, before the 2025-06-23 cut-over: unlimited (R2).
	old := findBenefit(t, fab, "fabrikam.solutions_partner_designation.20250301.cloud_support")
	assert.True(t, old.Incidents.Unlimited)
	assert.Nil(t, old.Incidents.Total)
	// At the next renewal anniversary (2026-03-01) the unlimited balance became 50 (R24).
	cur := findBenefit(t, fab, "fabrikam.solutions_partner_designation.20260301.cloud_support")
	assert.False(t, cur.Incidents.Unlimited)
	require.NotNil(t, cur.Incidents.Total)
	assert.Equal(t, 50, *cur.Incidents.Total)
	// Legacy Gold stays unlimited (R2).
	gold := findBenefit(t, fab, "fabrikam.legacy_gold_competency.20260301.cloud_support")
	assert.True(t, gold.Incidents.Unlimited)
	// Contoso renewed 2025-09-01, after the cut-over: capped at 50 (R2).
	con := tenantBenefits(t, e, e.Token(megan), "contoso")
	assert.Equal(t, 50, *findBenefit(t, con, contosoOldSPD).Incidents.Total)
}

func TestR24_RenewalAcrossTheCutoverCapsTheNewYear(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	// Fabrikam's 2025 SPD year is unlimited; renewing it gives a year that starts
	// 2026-03-01, which the demo already holds, so renewal is refused (R20) ...
	var out struct {
		RenewOffer struct {
			HeldOffer  *struct{ ID string }
			Benefits   []benefit
			UserErrors []userError
		}
	}
	const renew = `mutation($id: ID!) { renewOffer(heldOfferId: $id) { heldOffer { id } benefits { ` + benefitFields + ` } userErrors { code rule message } } }`
	e.Do(e.Token(patti), renew, map[string]any{"id": "fabrikam.solutions_partner_designation.20250301"}).MustData(t, &out)
	require.Len(t, out.RenewOffer.UserErrors, 1)
	assert.Equal(t, "ALREADY_PURCHASED", out.RenewOffer.UserErrors[0].Code)
	assert.Equal(t, "R20", ruleOf(out.RenewOffer.UserErrors[0]))
	// ... and renewing the current year gives a capped next year with new benefits.
	e.Do(e.Token(patti), renew, map[string]any{"id": "fabrikam.solutions_partner_designation.20260301"}).MustData(t, &out)
	require.Empty(t, out.RenewOffer.UserErrors)
	require.NotNil(t, out.RenewOffer.HeldOffer)
	assert.Equal(t, "fabrikam.solutions_partner_designation.20270301", key(out.RenewOffer.HeldOffer.ID))
	var cloud benefit
	for _, b := range out.RenewOffer.Benefits {
		if b.Kind == "CLOUD_SUPPORT" {
			cloud = b
		}
	}
	require.NotNil(t, cloud.Incidents.Total)
	assert.Equal(t, 50, *cloud.Incidents.Total)
	assert.Equal(t, "NOT_ACTIVATED", cloud.Status)
	assert.Equal(t, time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), cloud.StartsAt)
}

func TestR3_OnlyPartnerOrGlobalAdminMayActivate(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	for _, who := range []string{lee, adele} {
		p := activate(t, e, e.Token(who), contosoSPDCloud)
		require.Len(t, p.UserErrors, 1, who)
		assert.Equal(t, "ROLE_REQUIRED", p.UserErrors[0].Code)
		assert.Equal(t, "R3", ruleOf(p.UserErrors[0]))
		assert.Contains(t, p.UserErrors[0].Message, "PARTNER_ADMIN or GLOBAL_ADMIN")
		assert.Nil(t, p.Benefit)
	}
	// Nothing changed: still not activated.
	assert.Equal(t, "NOT_ACTIVATED", findBenefit(t, tenantBenefits(t, e, e.Token(lee), "contoso"), contosoSPDCloud).Status)
	for _, who := range []string{megan, alex} {
		p := activate(t, e, e.Token(who), contosoSPDCloud)
		require.Empty(t, p.UserErrors, who)
		assert.Equal(t, "ACTIVE", p.Benefit.Status)
	}
}

func TestR3_TenantAdminsListsWhoCanActivate(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	var out struct {
		Tenant struct {
			Admins []struct {
				Email string
				Roles []string
			}
		}
	}
	e.Do(e.Token(lee), `{ tenant(id: "contoso") { admins { email roles } } }`, nil).MustData(t, &out)
	var emails []string
	for _, a := range out.Tenant.Admins {
		emails = append(emails, a.Email)
	}
	assert.Equal(t, []string{alex, megan}, emails)
}

func TestR4_ActivationIsAsynchronousThenShowsOneSharedPair(t *testing.T) {
	t.Parallel()
	e := testenv.New(t, testenv.WithActivationDelay(2*time.Minute))
	p := activate(t, e, e.Token(megan), contosoSPDCloud)
	require.Empty(t, p.UserErrors)
	assert.Equal(t, "ACTIVATING", p.Benefit.Status)
	assert.Nil(t, p.Benefit.Contract, "the IDs show only once activation completes")
	e.Clock.Advance(2 * time.Minute)
	adminView := findBenefit(t, tenantBenefits(t, e, e.Token(megan), "contoso"), contosoSPDCloud)
	userView := findBenefit(t, tenantBenefits(t, e, e.Token(lee), "contoso"), contosoSPDCloud)
	assert.Equal(t, "ACTIVE", adminView.Status)
	require.NotNil(t, adminView.Contract)
	require.NotNil(t, userView.Contract, "every user of the tenant reads the IDs")
	assert.Equal(t, *adminView.Contract, *userView.Contract, "one pair shared by the tenant")
	assert.GreaterOrEqual(t, len(adminView.Contract.AccessID), 26)
	assert.GreaterOrEqual(t, len(adminView.Contract.ContractID), 26)
	assert.NotEqual(t, adminView.Contract.AccessID, adminView.Contract.ContractID)
	// Activating again returns the same pair.
	again := activate(t, e, e.Token(alex), contosoSPDCloud)
	require.NotNil(t, again.Benefit.Contract)
	assert.Equal(t, *adminView.Contract, *again.Benefit.Contract)
}

func TestR4_ConcurrentActivationsCreateOneContract(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	tokens := []string{e.Token(megan), e.Token(alex)}
	const n = 24
	got := make([]*contract, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out struct{ ActivateBenefit activatePayload }
			r := e.Do(tokens[i%2], `mutation($id: ID!) { activateBenefit(benefitId: $id) { benefit { contract { accessId contractId } } userErrors { code } } }`,
				map[string]any{"id": contosoSPDCloud})
			if assert.Empty(t, r.Errors) {
				r.MustData(t, &out)
				got[i] = out.ActivateBenefit.Benefit.Contract
			}
		}()
	}
	wg.Wait()
	for i := range n {
		require.NotNil(t, got[i])
		assert.Equal(t, *got[0], *got[i], "every activation sees the one contract")
	}
	// Read afterwards, the benefit shows that one contract, and the ledger one activation.
	b := findBenefit(t, tenantBenefits(t, e, e.Token(megan), "contoso"), contosoSPDCloud)
	require.NotNil(t, b.Contract)
	assert.Equal(t, *got[0], *b.Contract, "the contract read back is the one every activation saw")
	es, errs := ledger(t, e, megan, "contoso", 100)
	require.Empty(t, errs)
	activations := 0
	for _, x := range es {
		if x.Kind == "ACTIVATE" && key(*x.BenefitID) == contosoSPDCloud {
			activations++
		}
	}
	assert.Equal(t, 1, activations, "one activation in the ledger")
}

func TestR5_TenantWithNoActiveOfferHasNoBenefitsPlainly(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	var out struct {
		Tenant struct {
			HasActiveOffer bool
			BenefitsNotice *string
			Benefits       []struct{ Status string }
		}
	}
	r := e.Do(e.Token(pradeep), `{ tenant(id: "northwind") { hasActiveOffer benefitsNotice benefits { status } } }`, nil)
	r.MustData(t, &out)
	assert.False(t, out.Tenant.HasActiveOffer)
	require.NotNil(t, out.Tenant.BenefitsNotice)
	assert.Contains(t, *out.Tenant.BenefitsNotice, "no support benefits")
	for _, b := range out.Tenant.Benefits {
		assert.Equal(t, "EXPIRED", b.Status, "only the past year is listed, expired")
	}
	// A tenant with an active offer has no notice.
	var c struct {
		Tenant struct{ BenefitsNotice *string }
	}
	e.Do(e.Token(lee), `{ tenant(id: "contoso") { benefitsNotice } }`, nil).MustData(t, &c)
	assert.Nil(t, c.Tenant.BenefitsNotice)
}

func activated(t *testing.T, e *testenv.Env, benefitID string) contract {
	t.Helper()
	p := activate(t, e, e.Token(megan), benefitID)
	require.Empty(t, p.UserErrors)
	require.NotNil(t, p.Benefit.Contract)
	return *p.Benefit.Contract
}

func TestR6_AnyAccountLinksOnceAndItServesEveryPortal(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	c := activated(t, e, contosoSPDCloud)
	// An outside MSA links from the Azure portal's Support plans page.
	p := link(t, e, e.Token(sam), c, "AZURE", false)
	require.Empty(t, p.UserErrors)
	assert.False(t, p.AlreadyLinked)
	assert.Equal(t, gid("Benefit", contosoSPDCloud), p.Plan.BenefitID)
	// Linking again from Dynamics is "already linked": the link serves every portal.
	again := link(t, e, e.Token(sam), c, "DYNAMICS", true)
	require.Empty(t, again.UserErrors)
	assert.True(t, again.AlreadyLinked)
	assert.Equal(t, "AZURE", again.Plan.LinkedFrom)
	// A tenant member (Entra ID) links too.
	m := link(t, e, e.Token(lee), c, "SERVICES_HUB", true)
	require.Empty(t, m.UserErrors)
	var v struct {
		Viewer struct {
			LinkedPlans []struct{ BenefitID string }
		}
	}
	e.Do(e.Token(sam), `{ viewer { linkedPlans { benefitId } } }`, nil).MustData(t, &v)
	require.Len(t, v.Viewer.LinkedPlans, 1)
	assert.Equal(t, gid("Benefit", contosoSPDCloud), v.Viewer.LinkedPlans[0].BenefitID)
}

func TestR6_ConcurrentLinksOfOneAccountMakeOneLink(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	c := activated(t, e, contosoSPDCloud)
	tok := e.Token(sam)
	const n = 24
	already := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := link(t, e, tok, c, []string{"AZURE", "DYNAMICS", "SERVICES_HUB"}[i%3], false)
			assert.Empty(t, p.UserErrors)
			already[i] = p.AlreadyLinked
		}()
	}
	wg.Wait()
	fresh := 0
	for _, a := range already {
		if !a {
			fresh++
		}
	}
	assert.Equal(t, 1, fresh, "exactly one request made the link")
	var v struct {
		Viewer struct{ LinkedPlans []struct{ BenefitID string } }
	}
	e.Do(tok, `{ viewer { linkedPlans { benefitId } } }`, nil).MustData(t, &v)
	require.Len(t, v.Viewer.LinkedPlans, 1, "one link, whichever portal each request named")
	assert.Equal(t, gid("Benefit", contosoSPDCloud), v.Viewer.LinkedPlans[0].BenefitID)
}

func TestR7_RenewalProducesNewIDs(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	// Contoso's 2025 year and 2026 year are separate benefits with separate contracts.
	e.Clock.Set(time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC))
	oldPair := activated(t, e, contosoOldSPD)
	require.Empty(t, link(t, e, e.Token(sam), oldPair, "AZURE", false).UserErrors)
	e.Clock.Set(testenv.DemoNow)
	newPair := activated(t, e, contosoSPDCloud)
	assert.NotEqual(t, oldPair.AccessID, newPair.AccessID)
	assert.NotEqual(t, oldPair.ContractID, newPair.ContractID)
	// The account linked to the old IDs links again with the new ones.
	p := link(t, e, e.Token(sam), newPair, "AZURE", false)
	require.Empty(t, p.UserErrors)
	assert.False(t, p.AlreadyLinked)
}

func TestR9_WrongPairIsRefusedWithoutSayingWhichHalf(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	c := activated(t, e, contosoSPDCloud)
	other := activated(t, e, contosoSPDOnPrem)
	cases := map[string]contract{
		"wrong access id":   {AccessID: other.AccessID, ContractID: c.ContractID},
		"wrong contract id": {AccessID: c.AccessID, ContractID: "NOSUCHCONTRACT00000000000A"},
		"both wrong":        {AccessID: "x", ContractID: "y"},
		"empty":             {AccessID: "", ContractID: ""},
		"oversized":         {AccessID: string(make([]byte, 500)), ContractID: c.ContractID},
	}
	var messages []string
	for name, pair := range cases {
		p := link(t, e, e.Token(sam), pair, "AZURE", false)
		require.Len(t, p.UserErrors, 1, name)
		assert.Equal(t, "INVALID_CONTRACT", p.UserErrors[0].Code, name)
		assert.Equal(t, "R9", ruleOf(p.UserErrors[0]), name)
		assert.Nil(t, p.Plan)
		messages = append(messages, p.UserErrors[0].Message)
	}
	for _, m := range messages {
		assert.Equal(t, messages[0], m, "the same message whichever half is wrong")
	}
	var v struct {
		Viewer struct{ LinkedPlans []struct{ BenefitID string } }
	}
	e.Do(e.Token(sam), `{ viewer { linkedPlans { benefitId } } }`, nil).MustData(t, &v)
	assert.Empty(t, v.Viewer.LinkedPlans, "nothing was linked")
}

func TestR9_ExpiredContractIsRefused(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	e.Clock.Set(time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC))
	old := activated(t, e, contosoOldSPD)
	e.Clock.Set(testenv.DemoNow) // the 2025 year ended 2026-09-01
	p := link(t, e, e.Token(sam), old, "AZURE", false)
	require.Len(t, p.UserErrors, 1)
	assert.Equal(t, "EXPIRED", p.UserErrors[0].Code)
	assert.Equal(t, "R9", ruleOf(p.UserErrors[0]))
}

func TestR9_ExhaustedContractIsRefused(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	c := activated(t, e, contosoExpanded) // 5 incidents, all used by lee's requests
	require.Empty(t, link(t, e, e.Token(lee), c, "AZURE", false).UserErrors)
	for i := range 5 {
		require.Empty(t, create(t, e, e.Token(lee), azureRequest(fmt.Sprintf("r9-exhaust-%04d", i), contosoExpanded)).UserErrors)
	}
	p := link(t, e, e.Token(sam), c, "AZURE", false)
	require.Len(t, p.UserErrors, 1)
	assert.Equal(t, "NO_INCIDENTS_LEFT", p.UserErrors[0].Code)
	assert.Equal(t, "R9", ruleOf(p.UserErrors[0]))
	assert.Equal(t, "EXHAUSTED", findBenefit(t, tenantBenefits(t, e, e.Token(lee), "contoso"), contosoExpanded).Status)
}

func TestR11_AzureLinksOnlyOutsideTheRequestFlow(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	c := activated(t, e, contosoSPDCloud)
	p := link(t, e, e.Token(sam), c, "AZURE", true)
	require.Len(t, p.UserErrors, 1)
	assert.Equal(t, "LINK_NOT_ALLOWED_HERE", p.UserErrors[0].Code)
	assert.Equal(t, "R11", ruleOf(p.UserErrors[0]))
	assert.Contains(t, p.UserErrors[0].Message, "Link support benefits")
	for _, portal := range []string{"DYNAMICS", "DYNAMICS_FINANCE_OPERATIONS", "SERVICES_HUB"} {
		p := link(t, e, e.Token(lee), c, portal, true)
		require.Empty(t, p.UserErrors, portal)
	}
}

func TestR19_BenefitShowsBalanceEndDateAndReminders(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	c := activated(t, e, contosoExpanded)
	b := findBenefit(t, tenantBenefits(t, e, e.Token(lee), "contoso"), contosoExpanded)
	assert.Equal(t, 5, *b.Incidents.Total)
	assert.Equal(t, 0, b.Incidents.Used)
	assert.Equal(t, 5, *b.Incidents.Remaining)
	assert.Equal(t, time.Date(2027, 9, 1, 0, 0, 0, 0, time.UTC), b.EndsAt)
	require.NotNil(t, b.ActivatedAt)
	reminders := func() []string {
		var out struct {
			Tenant struct {
				Reminders []struct{ Kind, BenefitID string }
			}
		}
		e.Do(e.Token(lee), `{ tenant(id: "contoso") { reminders { kind benefitId } } }`, nil).MustData(t, &out)
		var ks []string
		for _, r := range out.Tenant.Reminders {
			if key(r.BenefitID) == contosoExpanded {
				ks = append(ks, r.Kind)
			}
		}
		return ks
	}
	assert.Empty(t, reminders())
	// Three incidents used: 2 left, at the low threshold.
	require.Empty(t, link(t, e, e.Token(lee), c, "AZURE", false).UserErrors)
	for i := range 3 {
		require.Empty(t, create(t, e, e.Token(lee), azureRequest(fmt.Sprintf("r19-low-%04d", i), contosoExpanded)).UserErrors)
	}
	assert.Equal(t, []string{"LOW_BALANCE"}, reminders())
	// Within 30 days of the end date.
	e.Clock.Set(time.Date(2027, 8, 10, 0, 0, 0, 0, time.UTC))
	assert.ElementsMatch(t, []string{"LOW_BALANCE", "ENDING_SOON"}, reminders())
	e.Clock.Set(time.Date(2027, 9, 1, 0, 0, 0, 0, time.UTC))
	assert.Equal(t, "EXPIRED", findBenefit(t, tenantBenefits(t, e, e.Token(lee), "contoso"), contosoExpanded).Status)
	assert.Empty(t, reminders(), "an expired benefit no longer reminds")
}

func TestR20_OnePurchasePerOfferPerYearAndNoRetiredOffer(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	buy := func(who, tenant, offer string) []userError {
		var out struct {
			PurchaseOffer struct{ UserErrors []userError }
		}
		e.Do(e.Token(who), `mutation($t: ID!, $o: ID!) { purchaseOffer(tenantId: $t, offer: $o) { heldOffer { id } userErrors { code rule field message } } }`,
			map[string]any{"t": tenant, "o": offer}).MustData(t, &out)
		return out.PurchaseOffer.UserErrors
	}
	ue := buy(megan, "contoso", "SOLUTIONS_PARTNER_DESIGNATION")
	require.Len(t, ue, 1)
	assert.Equal(t, "ALREADY_PURCHASED", ue[0].Code)
	assert.Equal(t, "R20", ruleOf(ue[0]))
	ue = buy(megan, "contoso", "LEGACY_ACTION_PACK")
	require.Len(t, ue, 1)
	assert.Equal(t, "OFFER_RETIRED", ue[0].Code)
	ue = buy(megan, "contoso", "NO_SUCH_OFFER")
	require.Len(t, ue, 1)
	assert.Equal(t, "INVALID", ue[0].Code)
	assert.Equal(t, []string{"offer"}, ue[0].Field)
	ue = buy(lee, "contoso", "PARTNER_SUCCESS_CORE")
	require.Len(t, ue, 1)
	assert.Equal(t, "ROLE_REQUIRED", ue[0].Code)
	// A different offer in the same year is fine; racing buyers get exactly one.
	var wg sync.WaitGroup
	results := make([][]userError, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = buy([]string{megan, alex}[i%2], "contoso", "PARTNER_SUCCESS_CORE")
		}()
	}
	wg.Wait()
	ok := 0
	for _, r := range results {
		if len(r) == 0 {
			ok++
		} else {
			assert.Equal(t, "ALREADY_PURCHASED", r[0].Code)
		}
	}
	assert.Equal(t, 1, ok)
}

func TestR20_RetiredOfferBoughtBeforeRetirementStillActivates(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	e.Clock.Set(time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)) // inside the Action Pack's year
	p := activate(t, e, e.Token(megan), "contoso.legacy_action_pack.20230901.on_premises_support")
	require.Empty(t, p.UserErrors)
	assert.Equal(t, "ACTIVE", p.Benefit.Status)
	assert.Equal(t, "ON_PREMISES_SUPPORT", p.Benefit.Kind) // R13: on-premises only
}

func TestR22_ActivatingISVConsultationSubmitsARequest(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	var out struct {
		ActivateBenefit struct {
			Benefit *struct {
				Status       string
				Contract     *contract
				Consultation *struct{ Topic string }
			}
			UserErrors []userError
		}
	}
	e.Do(e.Token(patti), `mutation { activateBenefit(benefitId: "fabrikam.isv_success.20260301.isv_consultation") {
		benefit { status contract { accessId } consultation { topic } } userErrors { code } } }`, nil).MustData(t, &out)
	require.Empty(t, out.ActivateBenefit.UserErrors)
	b := out.ActivateBenefit.Benefit
	assert.Equal(t, "ACTIVE", b.Status)
	assert.Nil(t, b.Contract, "a consultation is not a support plan")
	require.NotNil(t, b.Consultation)
	assert.NotEmpty(t, b.Consultation.Topic)
	// An offer granting two consultations grants two benefits with their own IDs (R1).
	ids := map[string]bool{}
	for _, x := range tenantBenefits(t, e, e.Token(patti), "fabrikam") {
		assert.False(t, ids[key(x.ID)], "benefit IDs are unique: %s", x.ID)
		ids[key(x.ID)] = true
	}
	assert.True(t, ids["fabrikam.isv_success.20260301.isv_consultation-2"])
}
