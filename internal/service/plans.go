package service

import (
	"context"
	"slices"
	"strings"

	"github.com/partnersupport/api/internal/domain"
)

// PlanService reads products and the support plans a caller may choose, and sells
// pay-per-incident plans (R8, R10–R14, R21, R23).
type PlanService struct {
	*core
	*recorder
	*states
	store     planStore
	newSecret func() string
}

// planStore is what the plan use cases read and write.
type planStore interface {
	domain.CatalogStore
	domain.TenantStore
	domain.HeldOfferStore
	domain.LinkStore
	domain.PPIPlanStore
	domain.ClaimStore
}

// Products lists the product catalog (R8).
func (s *PlanService) Products(ctx context.Context) ([]domain.Product, error) {
	return s.store.Products(ctx)
}

// Covered tells whether partner on-premises support covers a product version now (R8).
func (s *PlanService) Covered(p domain.Product, version string) (bool, string) {
	return domain.Coverage(p, version, s.Now())
}

// productVersion validates a product and version of a request.
func (s *PlanService) productVersion(ctx context.Context, productID, version string) (domain.Product, *domain.Version, error) {
	p, err := s.store.Product(ctx, productID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.Product{}, nil, domain.Errorf(domain.EINVALID, "R8", "there is no product %q in the catalog", domain.Clip(productID)).WithField("productId")
	} else if err != nil {
		return domain.Product{}, nil, err
	}
	if p.Deployment != domain.DeploymentOnPremises {
		return p, nil, nil
	}
	for i := range p.Versions {
		if p.Versions[i].Name == version {
			return p, &p.Versions[i], nil
		}
	}
	return domain.Product{}, nil, domain.Errorf(domain.EINVALID, "R8", "%s has no version %q; give one of its catalog versions", p.Name, domain.Clip(version)).WithField("version")
}

// SupportPlans splits the plans the caller may consider for a product, version and portal
// into available and unavailable ones, each unavailable one with its reasons (R8, R10,
// R12, R13, R14, R21, R23). Everything is evaluated now: a plan available yesterday may not
// be today.
func (s *PlanService) SupportPlans(ctx context.Context, caller domain.Account, productID, version string, portal domain.Portal) (domain.Plans, error) {
	if err := s.permit(ctx, caller, domain.ActSupportPlans, ""); err != nil {
		return domain.Plans{}, err
	}
	return s.supportPlans(ctx, caller, productID, version, portal)
}

// supportPlans is SupportPlans without the permission check: what the query lists, and
// the only list a create chooses its plan from (R23).
func (s *PlanService) supportPlans(ctx context.Context, caller domain.Account, productID, version string, portal domain.Portal) (domain.Plans, error) {
	if !portal.Valid() {
		return domain.Plans{}, domain.Errorf(domain.EINVALID, "R11", "unknown portal").WithField("portal")
	}
	if portal == domain.PortalPartnerCenter {
		return domain.Plans{}, domain.Errorf(domain.EINVALID, "R17", "the partner centre takes front-line and partner-program requests, which need no support plan").WithField("portal")
	}
	product, ver, err := s.productVersion(ctx, productID, version)
	if err != nil {
		return domain.Plans{}, err
	}
	now := s.Now()
	c := domain.PlanContext{Now: now, Account: caller, Product: product, Version: version, Portal: portal}
	out := domain.Plans{Product: product, Version: ver, Portal: portal}

	links, err := s.store.LinksOfAccount(ctx, caller.ID)
	if err != nil {
		return domain.Plans{}, err
	}
	memberships, err := s.store.MembershipsOfAccount(ctx, caller.ID)
	if err != nil {
		return domain.Plans{}, err
	}
	linked := map[string]bool{}
	tenants := []string{}
	seen := map[string]bool{}
	for _, l := range links {
		linked[l.BenefitID] = true
		if !seen[l.TenantID] {
			seen[l.TenantID] = true
			tenants = append(tenants, l.TenantID)
		}
	}
	member := map[string]domain.Membership{}
	for _, m := range memberships {
		member[m.TenantID] = m
		if !seen[m.TenantID] {
			seen[m.TenantID] = true
			tenants = append(tenants, m.TenantID)
		}
	}
	var plans []domain.Plan
	for _, tid := range tenants {
		st, err := s.tenantStateOf(ctx, tid, false)
		if err != nil {
			return domain.Plans{}, err
		}
		_, isMember := member[tid]
		for _, h := range st.Held {
			for _, b := range h.Benefits {
				if p, ok := c.BenefitPlan(st, tid, h, b, linked[b.ID], isMember); ok {
					plans = append(plans, p)
				}
			}
		}
	}
	if portal == domain.PortalAzure {
		plans = append(plans, s.cspPlans(ctx, c, memberships)...)
	}
	ppi, err := s.ppiPlans(ctx, c)
	if err != nil {
		return domain.Plans{}, err
	}
	plans = append(plans, ppi...)

	out.PortalHint = domain.PortalHintFor(product, portal)
	out.PortalHint.Apply(plans)
	for _, p := range plans {
		if p.Available() {
			out.Available = append(out.Available, p)
		} else {
			out.Unavailable = append(out.Unavailable, p)
		}
	}
	return out, nil
}

// cspPlans are the CSP support plans of the caller's CSP tenants, for Azure (R14).
func (s *PlanService) cspPlans(ctx context.Context, c domain.PlanContext, ms []domain.Membership) []domain.Plan {
	var out []domain.Plan
	for _, m := range ms {
		t, err := s.store.Tenant(ctx, m.TenantID)
		if err != nil || t.CSP == domain.CSPNone {
			continue
		}
		provider := t.IndirectProvider
		if t.CSP == domain.CSPIndirectReseller {
			if pt, err := s.store.Tenant(ctx, t.IndirectProvider); err == nil {
				provider = pt.Name
			}
		}
		out = append(out, domain.Plan{ID: domain.CSPPlanPrefix + t.ID, Kind: domain.PlanCSP, Name: t.Name + " CSP support plan", TenantID: t.ID,
			Incidents: domain.Incidents{Unlimited: true}, Reasons: domain.CSPReasons(t, provider, c.Product, m)})
	}
	return out
}

// ppiPlans are the caller's pay-per-incident plans (R21). Only an MSA can buy them, so a
// work account has none and costs no read.
func (s *PlanService) ppiPlans(ctx context.Context, c domain.PlanContext) ([]domain.Plan, error) {
	if domain.PPIRefusal(c.Account.Kind, nil) != nil {
		return nil, nil
	}
	ps, err := s.store.PPIPlans(ctx, c.Account.ID)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	used, err := s.store.UsedIncidents(ctx, domain.PPIScope(c.Account.ID))
	if err != nil {
		return nil, err
	}
	out := make([]domain.Plan, 0, len(ps))
	for _, pp := range ps {
		product := c.Product
		if pp.ProductID != product.ID {
			if product, err = s.store.Product(ctx, pp.ProductID); err != nil {
				product = domain.Product{ID: pp.ProductID, Name: pp.ProductID} // a product gone from the catalog
			}
		}
		b := domain.PPIBenefit(pp, product)
		p := domain.Plan{ID: pp.ID, Kind: domain.PlanPayPerIncident, Name: b.Name, TenantID: b.TenantID, Benefit: &b, Incidents: b.Balance(used[pp.ID]), EndsAt: &b.EndsAt, Linked: true, Quota: 1}
		if r, ok := domain.Lapsed(domain.PPIStatus(b, c.Now, used[pp.ID]), b.EndsAt); ok { // R23
			p.Reasons = append(p.Reasons, r)
		}
		if pp.ProductID != c.Product.ID {
			p.Reasons = append(p.Reasons, domain.Reason{Code: domain.ReasonPPIProduct, Rule: "R21", Message: "a pay-per-incident plan serves the product it was bought for"})
		}
		out = append(out, p)
	}
	return out, nil
}

// PurchasePayPerIncident buys a one-incident plan for an on-premises product under the
// fixed lifecycle policy (R21). Only an MSA can buy it online.
func (s *PlanService) PurchasePayPerIncident(ctx context.Context, caller domain.Account, productID, version string) (domain.PPIPlan, error) {
	if err := s.permit(ctx, caller, domain.ActBuyPPI, ""); err != nil {
		return domain.PPIPlan{}, err
	}
	if err := domain.PPIRefusal(caller.Kind, nil); err != nil {
		return domain.PPIPlan{}, err
	}
	p, _, err := s.productVersion(ctx, productID, version)
	if err != nil {
		return domain.PPIPlan{}, err
	}
	if err := domain.PPIRefusal(caller.Kind, &p); err != nil {
		return domain.PPIPlan{}, err
	}
	now := s.Now()
	pp := domain.PPIPlan{ID: "ppi_" + strings.ToLower(s.newSecret()), AccountID: caller.ID, ProductID: p.ID, Version: version, BoughtAt: now, EndsAt: now.AddDate(1, 0, 0)}
	if err := s.store.InsertPPIPlan(ctx, pp); err != nil {
		return domain.PPIPlan{}, err
	}
	s.record(ctx, domain.Event{ID: "grant/" + pp.ID, TenantID: domain.PPIScope(caller.ID), Kind: domain.EventGrant, BenefitID: pp.ID, PlanName: domain.PPIPlanName(p),
		ActorID: caller.ID, Reason: "pay per incident", At: now, Quota: 1})
	return pp, nil
}

// VersionCoverage lists a product's versions with their coverage now (R8).
func (s *PlanService) VersionCoverage(p domain.Product) []domain.VersionCoverage {
	out := make([]domain.VersionCoverage, len(p.Versions))
	for i, v := range p.Versions {
		ok, why := s.Covered(p, v.Name)
		out[i] = domain.VersionCoverage{Version: v, PartnerSupportCovered: ok}
		if !ok {
			out[i].CoverageNote = &why
		}
	}
	return out
}

// Product finds a catalog product (R8); the catalog needs no sign-in.
func (s *PlanService) Product(ctx context.Context, id string) (domain.Product, error) {
	return s.store.Product(ctx, id)
}

// Plan is one plan as SupportPlans would list it to the caller for some product (R6,
// R14, R21, R23), without the reasons, which belong to a question: a member's activated
// plan or a linked one, a CSP plan of a member's CSP tenant, the caller's own
// pay-per-incident plan. Anything else is NOT_FOUND.
func (s *PlanService) Plan(ctx context.Context, caller domain.Account, id string) (domain.Plan, error) {
	if err := s.permit(ctx, caller, domain.ActSupportPlans, ""); err != nil {
		return domain.Plan{}, err
	}
	c := domain.PlanContext{Now: s.Now(), Account: caller}
	var plans []domain.Plan
	switch {
	case strings.HasPrefix(id, domain.CSPPlanPrefix):
		ms, err := s.store.MembershipsOfAccount(ctx, caller.ID)
		if err != nil {
			return domain.Plan{}, err
		}
		plans = s.cspPlans(ctx, c, ms)
	case strings.LastIndexByte(id, '.') > 0:
		p, ok, err := s.benefitPlan(ctx, c, id)
		if err != nil {
			return domain.Plan{}, err
		}
		if ok {
			plans = []domain.Plan{p}
		}
	default:
		ppi, err := s.ppiPlans(ctx, c)
		if err != nil {
			return domain.Plan{}, err
		}
		plans = ppi
	}
	if i := slices.IndexFunc(plans, func(p domain.Plan) bool { return p.ID == id }); i >= 0 {
		p := plans[i]
		p.Reasons = nil
		return p, nil
	}
	return domain.Plan{}, domain.Errorf(domain.ENOTFOUND, "", "there is no support plan %q", domain.Clip(id))
}

// benefitPlan is benefit id's plan as SupportPlans lists it to the caller, and whether
// it lists it at all (BenefitPlan of domain.PlanContext).
func (s *PlanService) benefitPlan(ctx context.Context, c domain.PlanContext, id string) (domain.Plan, bool, error) {
	b, err := s.benefit(ctx, id)
	if domain.ErrorCode(err) == domain.EFORBIDDEN {
		return domain.Plan{}, false, nil
	} else if err != nil {
		return domain.Plan{}, false, err
	}
	h, err := s.store.HeldOffer(ctx, b.HeldOfferID)
	if err != nil {
		return domain.Plan{}, false, err
	}
	st, err := s.tenantStateOf(ctx, h.TenantID, false)
	if err != nil {
		return domain.Plan{}, false, err
	}
	_, err = s.store.Membership(ctx, h.TenantID, c.Account.ID)
	isMember := err == nil
	if err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
		return domain.Plan{}, false, err
	}
	_, err = s.store.Link(ctx, c.Account.ID, id)
	linked := err == nil
	if err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
		return domain.Plan{}, false, err
	}
	p, ok := c.BenefitPlan(st, h.TenantID, h, b, linked, isMember)
	return p, ok, nil
}
