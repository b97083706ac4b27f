package domain_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/partnersupport/api/internal/domain"
)

// Table tests of the pure decisions of R16, R17, R18, R25 and the security findings.

func TestR16_R25_RefundableByOutcomeAndType(t *testing.T) {
	cloud, onprem, csp, ppi := domain.PlanPartnerCloud, domain.PlanPartnerOnPremise, domain.PlanCSP, domain.PlanPayPerIncident
	types := []domain.RequestType{domain.RequestTechnical, domain.RequestBilling, domain.RequestQuota, domain.RequestSubscription}
	for _, kind := range []domain.PlanKind{cloud, onprem, csp, ppi} {
		for _, typ := range types {
			byType := kind == cloud && typ != domain.RequestTechnical // R16: billing, quota, subscription on a cloud plan
			for reason, want := range map[domain.CloseReason]bool{
				domain.CloseDuplicate: true, // the provider's findings (R25) always refund
				domain.CloseBug:       true,
				domain.CloseResolved:  byType,
				domain.CloseCancelled: byType,
				domain.CloseWithdrawn: byType, // R25: a withdrawal refunds only what R16 refunds by type
			} {
				assert.Equal(t, want, domain.Refundable(kind, typ, reason), "%s %s %s", kind, typ, reason)
			}
		}
	}
}

func TestR16_RefundDueOnlyForAConsumedIncidentWhoseOutcomeRefunds(t *testing.T) {
	for _, c := range []struct {
		consumed bool
		kind     domain.PlanKind
		typ      domain.RequestType
		reason   domain.CloseReason
		want     bool
	}{
		{true, domain.PlanPartnerCloud, domain.RequestTechnical, domain.CloseDuplicate, true},
		{true, domain.PlanPayPerIncident, domain.RequestTechnical, domain.CloseBug, true},
		{true, domain.PlanPartnerCloud, domain.RequestBilling, domain.CloseWithdrawn, true},
		{true, domain.PlanPartnerCloud, domain.RequestTechnical, domain.CloseResolved, false}, // not refundable
		{true, domain.PlanCSP, domain.RequestBilling, domain.CloseCancelled, false},
		{false, domain.PlanPartnerCloud, domain.RequestTechnical, domain.CloseDuplicate, false}, // took no incident (R17)
		{false, "", domain.RequestPartnerProgram, domain.CloseBug, false},
	} {
		r := domain.SupportRequest{Consumed: c.consumed, PlanKind: c.kind, Type: c.typ}
		assert.Equal(t, c.want, domain.RefundDue(r, c.reason), "%+v", c)
	}
}

func TestR25_PermitSplitsThePartnerAndProviderSides(t *testing.T) {
	partnerSide := []domain.Action{domain.ActTenantRead, domain.ActActivate, domain.ActLink, domain.ActPurchase, domain.ActRenew, domain.ActBuyPPI,
		domain.ActSupportPlans, domain.ActCreateRequest, domain.ActOwnRequests, domain.ActWithdraw, domain.ActLedger, domain.ActAuditTrail, domain.ActLedgerWhoWhich}
	providerSide := []domain.Action{domain.ActProviderQueue, domain.ActProviderRead, domain.ActResolve}
	for _, kind := range []domain.AccountKind{domain.KindEntraID, domain.KindMSA, domain.KindSupportProvider} {
		provider := kind == domain.KindSupportProvider
		for _, act := range partnerSide {
			err := domain.Permit(kind, act)
			if provider {
				assert.Equal(t, domain.EPARTNERONLY, domain.ErrorCode(err), "%s may not %s", kind, act)
				e, _ := domain.AsError(err)
				assert.Equal(t, "R25", e.Rule)
			} else {
				assert.NoError(t, err, "%s may %s", kind, act)
			}
		}
		for _, act := range providerSide {
			err := domain.Permit(kind, act)
			if provider {
				assert.NoError(t, err, "%s may %s", kind, act)
			} else {
				assert.Equal(t, domain.EPROVIDERONLY, domain.ErrorCode(err), "%s may not %s", kind, act)
			}
		}
		assert.NoError(t, domain.Permit(kind, domain.ActBalances), "everyone may follow balances it is allowed to see")
	}
	e, _ := domain.AsError(domain.Permit(domain.KindEntraID, domain.ActResolve))
	assert.Contains(t, e.Message, "withdrawSupportRequest", "the refusal says what to do instead")
}

func TestR25_MayWithdrawTheRequesterOrATenantAdmin(t *testing.T) {
	r := domain.SupportRequest{AccountID: "lee", TenantID: "contoso"}
	free := domain.SupportRequest{AccountID: "lee"} // a partner-centre request: on no tenant's plan
	for _, c := range []struct {
		caller string
		roles  []domain.Role
		req    domain.SupportRequest
		want   bool
	}{
		{"lee", nil, r, true},
		{"lee", nil, free, true},
		{"megan", []domain.Role{domain.RolePartnerAdmin}, r, true},
		{"alex", []domain.Role{domain.RoleGlobalAdmin}, r, true},
		{"adele", []domain.Role{domain.RoleAdminAgent}, r, false},
		{"joe", []domain.Role{domain.RoleUser}, r, false},
		{"sam", nil, r, false},
		{"megan", []domain.Role{domain.RolePartnerAdmin}, free, false},
	} {
		assert.Equal(t, c.want, domain.MayWithdraw(c.caller, c.roles, c.req), "%s %v", c.caller, c.roles)
	}
}

func TestR25_ResolutionsAreTheProvidersOutcomes(t *testing.T) {
	for r, want := range map[domain.CloseReason]bool{domain.CloseResolved: true, domain.CloseDuplicate: true, domain.CloseBug: true,
		domain.CloseCancelled: true, domain.CloseWithdrawn: false, "BOGUS": false} {
		assert.Equal(t, want, r.Resolution(), r)
	}
}

func TestLedgerDetailVisible_WhoAndWhichAreForAdminsOnly(t *testing.T) {
	for _, c := range []struct {
		kind  domain.AccountKind
		roles []domain.Role
		want  bool
	}{
		{domain.KindEntraID, []domain.Role{domain.RolePartnerAdmin}, true},
		{domain.KindEntraID, []domain.Role{domain.RoleGlobalAdmin}, true},
		{domain.KindMSA, []domain.Role{domain.RoleUser, domain.RoleGlobalAdmin}, true},
		{domain.KindEntraID, []domain.Role{domain.RoleAdminAgent}, false},
		{domain.KindEntraID, []domain.Role{domain.RoleUser}, false},
		{domain.KindMSA, nil, false}, // an outside user who linked
		{domain.KindSupportProvider, nil, false},
		{domain.KindSupportProvider, []domain.Role{domain.RolePartnerAdmin}, false}, // never, whatever it claims
	} {
		assert.Equal(t, c.want, domain.LedgerDetailVisible(c.kind, c.roles), "%s %v", c.kind, c.roles)
	}
	for _, kind := range []domain.EventKind{domain.EventConsume, domain.EventRefund, domain.EventGrant, domain.EventActivate, domain.EventLow} {
		e := domain.Event{Kind: kind, ActorID: "acc_x", RequestID: "req_x", Reason: "DUPLICATE", BenefitID: "b", Quota: 5, Used: 2, Remaining: 3}
		v := e.WithoutWhoOrWhich()
		assert.Empty(t, v.ActorID, kind)
		assert.Empty(t, v.RequestID, kind)
		assert.Equal(t, kind == domain.EventConsume || kind == domain.EventRefund, v.Reason == "", "%s: a request's type or outcome is which", kind)
		assert.Equal(t, e.Balance(), v.Balance(), "the balance stays")
		assert.Equal(t, "b", v.BenefitID)
	}
}

func TestR17_R18_CheckRequestPlace(t *testing.T) {
	pc, az := domain.PortalPartnerCenter, domain.PortalAzure
	for _, c := range []struct {
		name        string
		in          domain.CreateRequestInput
		code        domain.Code
		rule, field string
	}{
		{"front line in the partner centre", domain.CreateRequestInput{Type: domain.RequestFrontLine, Portal: pc}, "", "", ""},
		{"partner program in the partner centre", domain.CreateRequestInput{Type: domain.RequestPartnerProgram, Portal: pc}, "", "", ""},
		{"front line in Azure", domain.CreateRequestInput{Type: domain.RequestFrontLine, Portal: az, ProductID: "azure"}, domain.EINVALID, "R18", "portal"},
		{"program in Services Hub", domain.CreateRequestInput{Type: domain.RequestPartnerProgram, Portal: domain.PortalServicesHub}, domain.EINVALID, "R18", "portal"},
		{"a product", domain.CreateRequestInput{Type: domain.RequestFrontLine, Portal: pc, ProductID: "azure"}, domain.EFIELDNOTAPPLY, "R17", "productId"},
		{"a version", domain.CreateRequestInput{Type: domain.RequestFrontLine, Portal: pc, Version: "1"}, domain.EFIELDNOTAPPLY, "R17", "version"},
		{"a plan", domain.CreateRequestInput{Type: domain.RequestFrontLine, Portal: pc, PlanID: "p"}, domain.EFIELDNOTAPPLY, "R17", "planId"},
		{"a customer", domain.CreateRequestInput{Type: domain.RequestFrontLine, Portal: pc, CustomerID: "c"}, domain.EFIELDNOTAPPLY, "R17", "customerId"},
		{"technical in the partner centre", domain.CreateRequestInput{Type: domain.RequestTechnical, Portal: pc, PlanID: "p", ProductID: "azure"}, domain.EINVALID, "R17", "type"},
		{"technical without a product", domain.CreateRequestInput{Type: domain.RequestTechnical, Portal: az, PlanID: "p"}, domain.EINVALID, "R8", "productId"},
		{"technical in Azure", domain.CreateRequestInput{Type: domain.RequestTechnical, Portal: az, PlanID: "p", ProductID: "azure"}, "", "", ""},
		{"a customer on a partner plan", domain.CreateRequestInput{Type: domain.RequestTechnical, Portal: az, PlanID: "contoso.x.cloud_support", ProductID: "azure", CustomerID: "c"}, domain.EFIELDNOTAPPLY, "R14", "customerId"},
		{"a customer on a CSP plan", domain.CreateRequestInput{Type: domain.RequestTechnical, Portal: az, PlanID: "csp:contoso", ProductID: "azure", CustomerID: "c"}, "", "", ""},
	} {
		err := domain.CheckRequestPlace(c.in)
		if c.code == "" {
			assert.NoError(t, err, c.name)
			continue
		}
		e, ok := domain.AsError(err)
		if assert.True(t, ok, c.name) {
			assert.Equal(t, c.code, e.Code, c.name)
			assert.Equal(t, c.rule, e.Rule, c.name)
			assert.Equal(t, []string{c.field}, e.Field, c.name)
		}
	}
}

func TestR18_ListedIn(t *testing.T) {
	onPlanAzure := domain.SupportRequest{Portal: domain.PortalAzure, PlanID: "p", Type: domain.RequestTechnical}
	frontLine := domain.SupportRequest{Portal: domain.PortalPartnerCenter, Type: domain.RequestFrontLine}
	program := domain.SupportRequest{Portal: domain.PortalPartnerCenter, Type: domain.RequestPartnerProgram}
	for _, c := range []struct {
		portal domain.Portal
		r      domain.SupportRequest
		want   bool
	}{
		{domain.PortalAzure, onPlanAzure, true},
		{domain.PortalDynamics, onPlanAzure, false},
		{domain.PortalServicesHub, onPlanAzure, true}, // tied to the account's plans, from any portal
		{domain.PortalServicesHub, frontLine, true},   // and its front-line requests
		{domain.PortalServicesHub, program, false},
		{domain.PortalPartnerCenter, frontLine, true}, // the partner centre lists its own
		{domain.PortalPartnerCenter, program, true},
		{domain.PortalPartnerCenter, onPlanAzure, false},
		{domain.PortalAzure, frontLine, false},
	} {
		assert.Equal(t, c.want, domain.ListedIn(c.portal, c.r), "%s lists %s %s", c.portal, c.r.Portal, c.r.Type)
	}
}

func TestFinding3_CheckTextRefusesControlAndBidiCharacters(t *testing.T) {
	for _, c := range []struct {
		v         string
		multiline bool
		ok        bool
	}{
		{"VM does not boot", false, true},
		{"ünïcödé, 日本語, emoji 🚀", false, true},
		{"a\u200fb", false, true}, // a right-to-left mark is not an override
		{"", false, true},
		{"nul\x00", false, false},
		{"bel\a", false, false},
		{"esc\x1b[31m", false, false},
		{"cr\rlf", false, false},
		{"line\nfeed", false, false},
		{"tab\there", false, false},
		{"line\nfeed\tand tab", true, true}, // a description is multi-line
		{"cr\r\nlf", true, false},
		{"del\x7f", false, false},
		{"c1\u0085", false, false},
		{"c1\u009b", true, false},
		{"rlo\u202eexe.txt", false, false},
		{"lre\u202a", false, false},
		{"pdf\u202c", true, false},
		{"lri\u2066", false, false},
		{"pdi\u2069", false, false},
		{"bad utf8 \xff", false, false},
	} {
		err := domain.CheckText("title", c.v, c.multiline)
		if c.ok {
			assert.NoError(t, err, "%q", c.v)
			continue
		}
		e, ok := domain.AsError(err)
		if assert.True(t, ok, "%q", c.v) {
			assert.Equal(t, domain.EUNSAFETEXT, e.Code, "%q", c.v)
			assert.Equal(t, []string{"title"}, e.Field)
			assert.False(t, strings.ContainsFunc(e.Message, func(r rune) bool { return r < 0x20 || (r >= 0x202a && r <= 0x202e) }), "the refusal does not echo the character")
		}
	}
}
