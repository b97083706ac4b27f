package domain

import (
	"fmt"
	"sort"
	"time"
)

// PlanKind is the kind of support plan an account may choose.
type PlanKind string

// Plan kinds.
const (
	PlanPartnerCloud     PlanKind = "PARTNER_CLOUD_SUPPORT"       // a Partner Cloud Support benefit (R8)
	PlanPartnerOnPremise PlanKind = "PARTNER_ON_PREMISES_SUPPORT" // a Partner On-premises Support benefit (R8)
	PlanCSP              PlanKind = "CSP"                         // the partner's own CSP support plan (R14)
	PlanPayPerIncident   PlanKind = "PAY_PER_INCIDENT"            // a one-incident purchase (R21)
)

// ReasonCode says why a plan is unavailable for a request (R23).
type ReasonCode string

// Reasons a plan is unavailable.
const (
	ReasonExpired           ReasonCode = "EXPIRED"                  // R23: the plan's year has ended
	ReasonNoIncidentsLeft   ReasonCode = "NO_INCIDENTS_LEFT"        // R23: the balance is zero
	ReasonNotActive         ReasonCode = "NOT_ACTIVE"               // R3, R4: not activated, or activation not complete
	ReasonCloudOnly         ReasonCode = "CLOUD_PRODUCTS_ONLY"      // R8: a cloud plan for an on-premises product
	ReasonOnPremisesOnly    ReasonCode = "ON_PREMISES_ONLY"         // R8: an on-premises plan for a cloud product
	ReasonVersionNotCovered ReasonCode = "VERSION_NOT_COVERED"      // R8: not N or N-1, or out of mainstream support
	ReasonPremierLinked     ReasonCode = "PREMIER_LINKED"           // R12: PSfP/ASfP linked, in the Azure portal
	ReasonActionPackAzure   ReasonCode = "ACTION_PACK_IN_AZURE"     // R13: Action Pack shows no benefit in Azure
	ReasonNotLinked         ReasonCode = "NOT_LINKED"               // R6, R11: the account has not linked this plan
	ReasonWrongPortal       ReasonCode = "WRONG_PORTAL"             // the product's requests are opened in another portal
	ReasonCSPReseller       ReasonCode = "CSP_INDIRECT_RESELLER"    // R14: a reseller goes through its provider
	ReasonCSPNotAzure       ReasonCode = "CSP_AZURE_ONLY"           // R14: the CSP plan serves Azure requests only
	ReasonCSPNoRole         ReasonCode = "CSP_ADMIN_AGENT_REQUIRED" // R14: the admin-agent role is needed
	ReasonPPIProduct        ReasonCode = "PPI_OTHER_PRODUCT"        // R21: a PPI plan serves the product it was bought for
)

// Reason is one reason a plan is unavailable, with the rule it applies.
type Reason struct {
	Code    ReasonCode
	Rule    string
	Message string
}

// Plan is a support plan as one account sees it for one product, version and portal.
type Plan struct {
	ID        string // a benefit ID, "csp:<tenant>", or a PPI plan ID
	Kind      PlanKind
	Name      string
	TenantID  string // the tenant whose plan it is ("" for PPI)
	Benefit   *Benefit
	Incidents Incidents
	EndsAt    *time.Time
	Linked    bool
	// ActionPack marks an Action Pack contract (R13).
	ActionPack bool
	Reasons    []Reason
	// Quota and Unlimited bound the claims on the plan's benefit (R15); not in the API.
	Quota     int
	Unlimited bool
}

// Available reports whether the plan can be chosen (R23).
func (p Plan) Available() bool { return len(p.Reasons) == 0 }

// PortalHint tells the client where requests for the product are opened.
type PortalHint struct {
	Portal  Portal
	Message string
}

// Plans is the answer to "which plans may this account use for this product now".
type Plans struct {
	Product     Product
	Version     *Version
	Portal      Portal
	Available   []Plan
	Unavailable []Plan
	// PortalHint is where to go instead, when the product's requests are opened elsewhere
	// (R11).
	PortalHint *PortalHint
}

// UnavailablePlan is a plan that cannot be chosen for one question (a product, version
// and portal), with why (R23). The reasons belong to the question, not to the plan.
type UnavailablePlan struct {
	Plan    Plan
	Reasons []Reason
}

// UnavailablePlans pairs each unavailable plan with its reasons.
func (ps Plans) UnavailablePlans() []UnavailablePlan {
	out := make([]UnavailablePlan, len(ps.Unavailable))
	for i, p := range ps.Unavailable {
		out[i] = UnavailablePlan{Plan: p, Reasons: p.Reasons}
	}
	return out
}

// Coverage tells whether Partner On-premises Support covers a version at now (R8): it must
// be the current version (N) or the one before (N-1) among the family's released versions,
// and still in mainstream support.
func Coverage(p Product, version string, now time.Time) (covered bool, reason string) {
	if p.Deployment != DeploymentOnPremises {
		return false, "not an on-premises product"
	}
	released := make([]Version, 0, len(p.Versions))
	for _, v := range p.Versions {
		if !v.ReleasedAt.After(now) {
			released = append(released, v)
		}
	}
	sort.Slice(released, func(i, j int) bool { return released[i].ReleasedAt.After(released[j].ReleasedAt) })
	for i, v := range released {
		if v.Name != version {
			continue
		}
		if i > 1 {
			return false, fmt.Sprintf("%s %s is not the current version or the one before it", p.Name, v.Name)
		}
		if !now.Before(v.MainstreamEndsAt) {
			return false, fmt.Sprintf("%s %s left mainstream support on %s", p.Name, v.Name, v.MainstreamEndsAt.Format("2006-01-02"))
		}
		return true, ""
	}
	return false, fmt.Sprintf("%s %s is not released", p.Name, version)
}

// PlanContext is what evaluating plans needs to know about the account and request.
type PlanContext struct {
	Now     time.Time
	Account Account
	Product Product
	Version string
	Portal  Portal
}

// evaluate sets the reasons a partner-benefit plan is unavailable (R8, R12, R13, R23, R6).
func (c PlanContext) evaluate(p *Plan, status BenefitStatus, needsLink bool) {
	add := func(code ReasonCode, rule, format string, args ...any) {
		p.Reasons = append(p.Reasons, Reason{Code: code, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	// R13: in the Azure portal an Action Pack contract shows no benefit at all.
	if p.ActionPack && c.Portal == PortalAzure {
		add(ReasonActionPackAzure, "R13", "Action Pack incidents are for on-premises products only and show no benefit in the Azure portal; buy a cloud support plan for Azure")
	}
	if r, ok := Lapsed(status, *p.EndsAt); ok {
		p.Reasons = append(p.Reasons, r)
	} else if status == StatusNotActivated || status == StatusActivating {
		add(ReasonNotActive, "R4", "this benefit is not active yet; a partner admin or global admin activates it")
	}
	switch p.Kind {
	case PlanPartnerCloud:
		if c.Product.Deployment != DeploymentCloud {
			add(ReasonCloudOnly, "R8", "Partner Cloud Support serves cloud products only; %s is an on-premises product", c.Product.Name)
		}
		// R12: with Premier/Advanced support linked, the Azure portal refuses Partner Cloud Support.
		if c.Portal == PortalAzure && c.Account.PremierLinked {
			add(ReasonPremierLinked, "R12", "this account has Premier or Advanced support for partners linked, so the Azure portal does not offer Partner Cloud Support; use another account")
		}
	case PlanPartnerOnPremise:
		if c.Product.Deployment != DeploymentOnPremises {
			add(ReasonOnPremisesOnly, "R8", "Partner On-premises Support serves on-premises products only; %s is a cloud product", c.Product.Name)
		} else if ok, why := Coverage(c.Product, c.Version, c.Now); !ok {
			add(ReasonVersionNotCovered, "R8", "%s; partner on-premises support covers the current and previous versions in mainstream support", why)
		}
	}
	if needsLink && !p.Linked {
		where := "Support plans > Link support benefits"
		if c.Portal.LinksInRequestFlow() {
			where = "Add contract, in the request flow"
		}
		add(ReasonNotLinked, "R6", "link this plan once with the tenant's Access ID and Contract ID (%s); it then serves every portal", where)
	}
}

// Valid reports whether k is a known plan kind.
func (k PlanKind) Valid() bool {
	switch k {
	case PlanPartnerCloud, PlanPartnerOnPremise, PlanCSP, PlanPayPerIncident:
		return true
	}
	return false
}

// Lapsed decides R23's time and balance: a plan whose year has ended (at its end date,
// inclusive, by Benefit.Status) or that has no incidents left is unavailable now, with
// that reason, whatever it was yesterday. SupportPlans and a create (through ChoosePlan)
// see the same reasons: both list plans with it, partner benefits and pay-per-incident
// plans alike.
func Lapsed(status BenefitStatus, endsAt time.Time) (Reason, bool) {
	switch status {
	case StatusExpired:
		return Reason{Code: ReasonExpired, Rule: "R23", Message: "this plan ended on " + endsAt.Format("2006-01-02")}, true
	case StatusExhausted:
		return Reason{Code: ReasonNoIncidentsLeft, Rule: "R23", Message: "no incidents are left on this plan"}, true
	}
	return Reason{}, false
}

// PPIPlanName is the one name of a pay-per-incident plan (R21), on the plan and on every
// ledger event of it (grant, consumption, refund).
func PPIPlanName(p Product) string { return "Pay per incident: " + p.Name }

// PPIRefusal decides R21: pay per incident is bought online only by a personal account
// (MSA), and only for an on-premises product under the fixed lifecycle policy. A nil
// product asks about the account alone.
func PPIRefusal(kind AccountKind, p *Product) *Error {
	if kind != KindMSA {
		return Errorf(EPPIREFUSED, "R21", "pay per incident can be bought online only with a personal Microsoft account (MSA); this is a work account")
	}
	if p != nil && (p.Deployment != DeploymentOnPremises || p.LifecyclePolicy != LifecycleFixed) {
		return Errorf(EPPIREFUSED, "R21", "pay per incident covers on-premises products under the fixed lifecycle policy; %s is not one", p.Name).WithField("productId")
	}
	return nil
}

// Lifecycle policies of a product (R21): pay per incident covers the fixed one only.
const (
	LifecycleFixed  = "FIXED"
	LifecycleModern = "MODERN"
)

// PPIBenefit is a pay-per-incident plan as a one-incident benefit of the account's scope
// (R21), active from its purchase to its end: what R23 and the ledger see of it.
func PPIBenefit(pp PPIPlan, product Product) Benefit {
	return Benefit{ID: pp.ID, TenantID: PPIScope(pp.AccountID), Kind: BenefitOnPremisesSupport, Name: PPIPlanName(product),
		Quota: 1, StartsAt: pp.BoughtAt, EndsAt: pp.EndsAt}
}

// PPIStatus is a pay-per-incident plan's state at now: it needs no activation.
func PPIStatus(b Benefit, now time.Time, used int) BenefitStatus {
	return b.Status(now, &Contract{ReadyAt: b.StartsAt}, false, used)
}

// Listed decides which partner benefits an account's support plans list (R6): what it
// linked, member of the tenant or not (a link serves every portal); and, for a member of
// the tenant, its activated benefits whose year has not ended, linked or not (a member's
// plan still needs a link unless the product needs none, R10).
func Listed(linked, member, activated, expired bool) bool {
	return linked || (member && activated && !expired)
}

// ActionPack decides which contracts are Action Pack ones (R13): an on-premises support
// benefit of an offer that grants no cloud support. Its incidents serve on-premises
// products only, and in the Azure portal it shows no benefit at all (evaluate).
func ActionPack(h HeldOffer, b Benefit) bool {
	if b.Kind != BenefitOnPremisesSupport {
		return false
	}
	for _, x := range h.Benefits {
		if x.Kind == BenefitCloudSupport {
			return false
		}
	}
	return true
}

// BenefitPlan is how SupportPlans lists benefit b of held offer h of tenant tid, and
// whether it lists it at all: a member sees the tenant's activated, current plans; anyone
// sees what they linked.
func (c PlanContext) BenefitPlan(st *TenantState, tid string, h HeldOffer, b Benefit, linked, isMember bool) (Plan, bool) {
	if !b.Kind.Incidental() {
		return Plan{}, false
	}
	if _, activated := st.Contracts[b.ID]; !Listed(linked, isMember, activated, b.Expired(c.Now)) {
		return Plan{}, false
	}
	v := st.View(c.Now, b, false)
	end := b.EndsAt
	p := Plan{ID: b.ID, Name: b.Name, TenantID: tid, Benefit: &b, Incidents: v.Incidents, EndsAt: &end,
		Linked: linked, ActionPack: ActionPack(h, b),
		Quota: b.Quota, Unlimited: b.Unlimited}
	p.Kind = PlanPartnerCloud
	if b.Kind == BenefitOnPremisesSupport {
		p.Kind = PlanPartnerOnPremise
	}
	// R10: Microsoft 365 needs no linked IDs for the tenant's own members.
	c.evaluate(&p, v.Status, NeedsLink(c.Product, isMember))
	return p, true
}

// PortalHintFor says where requests for the product are opened when it is not in portal
// (R11); nil when it is.
func PortalHintFor(product Product, portal Portal) *PortalHint {
	if product.Portal == portal || (portal == PortalServicesHub && product.Deployment == DeploymentOnPremises) {
		return nil
	}
	return &PortalHint{Portal: product.Portal, Message: "requests for " + product.Name + " are opened in the " + portalName(product.Portal) + " portal"}
}

// Apply gives every plan the hint as a reason it is unavailable here (R11).
func (h *PortalHint) Apply(plans []Plan) {
	if h == nil {
		return
	}
	for i := range plans {
		plans[i].Reasons = append(plans[i].Reasons, Reason{Code: ReasonWrongPortal, Rule: "R11", Message: h.Message})
	}
}

func portalName(p Portal) string {
	switch p {
	case PortalAzure:
		return "Azure"
	case PortalDynamics:
		return "Dynamics 365 (Power Platform)"
	case PortalDynamicsFinanceOperations:
		return "Dynamics 365 Finance & Operations"
	case PortalServicesHub:
		return "on-premises (Services Hub)"
	case PortalMicrosoft365:
		return "Microsoft 365 admin center"
	}
	return string(p)
}

// FindPlan finds a plan by ID, available or not.
func FindPlan(ps Plans, id string) (Plan, bool) {
	for _, l := range [][]Plan{ps.Available, ps.Unavailable} {
		for _, p := range l {
			if p.ID == id {
				return p, true
			}
		}
	}
	return Plan{}, false
}

// ChoosePlan finds the chosen plan; an unavailable one is refused with its reasons (R23).
func ChoosePlan(ps Plans, id string) (Plan, error) {
	for _, p := range ps.Available {
		if p.ID == id {
			return p, nil
		}
	}
	for _, p := range ps.Unavailable {
		if p.ID == id {
			r := p.Reasons[0]
			e := Errorf(EPLANUNAVAILABLE, r.Rule, "%s cannot be used for this request: %s", p.Name, r.Message)
			codes := make([]string, len(p.Reasons))
			for i, r := range p.Reasons {
				codes[i] = string(r.Code)
			}
			e.Meta = map[string]any{"reasons": codes}
			if r.Code == ReasonNoIncidentsLeft {
				e.Code = EEXHAUSTED
			}
			return Plan{}, e.WithField("planId")
		}
	}
	return Plan{}, Errorf(EINVALID, "", "this account has no support plan %q for this product", Clip(id)).WithField("planId")
}

// VersionCoverage is a product version with its partner support coverage today (R8).
type VersionCoverage struct {
	Version
	PartnerSupportCovered bool
	CoverageNote          *string
}
