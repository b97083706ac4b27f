package domain

import (
	"context"
	"slices"
	"strings"
)

// One object by its key, for node(id:) (graph/globalid.go). Each answers with the same
// authorization as the field that lists the object, and a caller who may not see it gets
// the same refusal as for a key that names nothing.

// Product finds a catalog product (R8); the catalog needs no sign-in.
func (s *Service) Product(ctx context.Context, id string) (Product, error) {
	return s.store.Product(ctx, id)
}

// HeldOffer is one offer the tenant holds, for a member of its tenant, as HeldOffers
// lists it (R4: FORBIDDEN, whether or not it exists).
func (s *Service) HeldOffer(ctx context.Context, caller Account, id string) (HeldOffer, error) {
	h, err := s.store.HeldOffer(ctx, id)
	if ErrorCode(err) == ENOTFOUND {
		return HeldOffer{}, Forbidden()
	} else if err != nil {
		return HeldOffer{}, err
	}
	held, err := s.HeldOffers(ctx, caller, h.TenantID)
	if err != nil {
		return HeldOffer{}, err
	}
	if i := slices.IndexFunc(held, func(x HeldOffer) bool { return x.ID == id }); i >= 0 {
		return held[i], nil
	}
	return HeldOffer{}, Forbidden()
}

// Benefit is one benefit as TenantBenefits shows it to a member of its tenant (R4, R19).
func (s *Service) Benefit(ctx context.Context, caller Account, id string) (BenefitView, error) {
	b, err := s.benefit(ctx, id)
	if err != nil {
		return BenefitView{}, err
	}
	h, err := s.HeldOffer(ctx, caller, b.HeldOfferID)
	if err != nil {
		return BenefitView{}, err
	}
	views, err := s.HeldOfferBenefits(ctx, caller, h)
	if err != nil {
		return BenefitView{}, err
	}
	if i := slices.IndexFunc(views, func(v BenefitView) bool { return v.ID == id }); i >= 0 {
		return views[i], nil
	}
	return BenefitView{}, Forbidden()
}

// TenantUser is one admin of a tenant as Admins lists it, for a member (R3, R4).
func (s *Service) TenantUser(ctx context.Context, caller Account, tenantID, accountID string) (TenantUser, error) {
	users, err := s.Admins(ctx, caller, tenantID)
	if err != nil {
		return TenantUser{}, err
	}
	if i := slices.IndexFunc(users, func(u TenantUser) bool { return u.Account.ID == accountID }); i >= 0 {
		return users[i], nil
	}
	return TenantUser{}, Errorf(ENOTFOUND, "", "no such admin")
}

// Request is one of the caller's own support requests, as Requests lists them (R18):
// another account's request is NOT_FOUND, as one that does not exist.
func (s *Service) Request(ctx context.Context, caller Account, id string) (SupportRequest, error) {
	if err := s.permit(ctx, caller, ActOwnRequests, ""); err != nil {
		return SupportRequest{}, err
	}
	r, err := s.store.Request(ctx, id)
	if ErrorCode(err) == ENOTFOUND || (err == nil && r.AccountID != caller.ID) {
		return SupportRequest{}, Errorf(ENOTFOUND, "", "there is no support request %q", clip(id))
	}
	return r, err
}

// AuditEvent is one event of a tenant's audit trail, for the admins who may read the
// trail (R3, R25), as AuditTrail authorises them.
func (s *Service) AuditEvent(ctx context.Context, caller Account, id string) (AuditEvent, error) {
	e, err := s.store.AuditEvent(ctx, id)
	if ErrorCode(err) == ENOTFOUND {
		e = AuditEvent{} // authorised against no tenant: refused as any other tenant's
	} else if err != nil {
		return AuditEvent{}, err
	}
	if err := s.adminPage(ctx, caller, ActAuditTrail, e.TenantID, 1); err != nil {
		return AuditEvent{}, err
	}
	return e, nil
}

// Plan is one plan as SupportPlans would list it to the caller for some product (R6,
// R14, R21, R23), without the reasons, which belong to a question: a member's activated
// plan or a linked one, a CSP plan of a member's CSP tenant, the caller's own
// pay-per-incident plan. Anything else is NOT_FOUND.
func (s *Service) Plan(ctx context.Context, caller Account, id string) (Plan, error) {
	if err := s.permit(ctx, caller, ActSupportPlans, ""); err != nil {
		return Plan{}, err
	}
	c := planContext{now: s.Now(), account: caller}
	var plans []Plan
	switch {
	case strings.HasPrefix(id, cspPlanPrefix):
		ms, err := s.store.MembershipsOfAccount(ctx, caller.ID)
		if err != nil {
			return Plan{}, err
		}
		plans = s.cspPlans(ctx, c, ms)
	case strings.LastIndexByte(id, '.') > 0:
		p, ok, err := s.benefitPlan(ctx, c, id)
		if err != nil {
			return Plan{}, err
		}
		if ok {
			plans = []Plan{p}
		}
	default:
		ppi, err := s.ppiPlans(ctx, c)
		if err != nil {
			return Plan{}, err
		}
		plans = ppi
	}
	if i := slices.IndexFunc(plans, func(p Plan) bool { return p.ID == id }); i >= 0 {
		p := plans[i]
		p.Reasons = nil
		return p, nil
	}
	return Plan{}, Errorf(ENOTFOUND, "", "there is no support plan %q", clip(id))
}

// benefitPlan is benefit id's plan as SupportPlans lists it to the caller, and whether
// it lists it at all (benefitPlan of planContext).
func (s *Service) benefitPlan(ctx context.Context, c planContext, id string) (Plan, bool, error) {
	b, err := s.benefit(ctx, id)
	if ErrorCode(err) == EFORBIDDEN {
		return Plan{}, false, nil
	} else if err != nil {
		return Plan{}, false, err
	}
	h, err := s.store.HeldOffer(ctx, b.HeldOfferID)
	if err != nil {
		return Plan{}, false, err
	}
	st, err := s.tenantStateOf(ctx, h.TenantID, false)
	if err != nil {
		return Plan{}, false, err
	}
	_, err = s.store.Membership(ctx, h.TenantID, c.account.ID)
	isMember := err == nil
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return Plan{}, false, err
	}
	_, err = s.store.Link(ctx, c.account.ID, id)
	linked := err == nil
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return Plan{}, false, err
	}
	p, ok := c.benefitPlan(st, h.TenantID, h, b, linked, isMember)
	return p, ok, nil
}
