package service

import (
	"context"
	"slices"
	"sort"

	"github.com/partnersupport/api/internal/domain"
)

// OfferService reads the offer catalog and the offers a tenant holds, and buys and
// renews them (R5, R20, R24).
type OfferService struct {
	*core
	*access
	*recorder
	store offerStore
}

// offerStore is what the offer use cases read and write.
type offerStore interface {
	domain.CatalogStore
	domain.HeldOfferStore
	domain.TenantStore
}

// HeldOffers lists the offers a tenant holds, newest year first.
func (s *OfferService) HeldOffers(ctx context.Context, caller domain.Account, tenantID string) ([]domain.HeldOffer, error) {
	if _, err := s.member(ctx, caller, tenantID); err != nil {
		return nil, err
	}
	held, err := s.store.HeldOffers(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(held, func(i, j int) bool { return held[i].PeriodStart.After(held[j].PeriodStart) })
	return held, nil
}

// Purchase buys an offer for the tenant's current enrollment year (R20): at most once per
// offer and year, never a retired offer. Only an admin of the tenant may (R3).
func (s *OfferService) Purchase(ctx context.Context, caller domain.Account, tenantID, offerID string) (h domain.HeldOffer, err error) {
	if err := s.permit(ctx, caller, domain.ActPurchase, ""); err != nil {
		return domain.HeldOffer{}, err
	}
	m, err := s.member(ctx, caller, tenantID)
	if err != nil {
		return domain.HeldOffer{}, err
	}
	if err := s.requireRole(ctx, caller, m, "R3", domain.ActivatorRoles...); err != nil {
		return domain.HeldOffer{}, err
	}
	defer func() { s.audited(ctx, caller, domain.AuditPurchase, tenantID, offerID, err) }()
	o, err := s.store.Offer(ctx, offerID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.HeldOffer{}, domain.Errorf(domain.EINVALID, "R1", "there is no offer %q in the catalog", domain.Clip(offerID)).WithField("offer")
	} else if err != nil {
		return domain.HeldOffer{}, err
	}
	now := s.Now()
	if o.Retired(now) {
		return domain.HeldOffer{}, domain.Errorf(domain.EOFFERRETIRED, "R20", "%s was retired on %s and can no longer be bought", o.Name, o.RetiredAt.Format("2006-01-02"))
	}
	t, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		return domain.HeldOffer{}, err
	}
	h = domain.NewHeldOffer(t, o, now, now, nil)
	if err := s.store.InsertHeldOffer(ctx, h); domain.ErrorCode(err) == domain.ECONFLICT {
		return domain.HeldOffer{}, domain.Errorf(domain.EALREADYBOUGHT, "R20", "the tenant already holds %s for the enrollment year starting %s; buy a different offer", o.Name, h.PeriodStart.Format("2006-01-02"))
	} else if err != nil {
		return domain.HeldOffer{}, err
	}
	s.grantEvents(ctx, h, caller.ID)
	return h, nil
}

// Renew buys the next enrollment year of a held offer (R7, R20, R24). The new year has new
// benefits, which must be activated again and get new IDs (R7); an SPD year that starts on
// or after the cut-over is capped (R2, R24). Only an admin of the tenant may (R3).
func (s *OfferService) Renew(ctx context.Context, caller domain.Account, heldOfferID string) (h domain.HeldOffer, err error) {
	if err := s.permit(ctx, caller, domain.ActRenew, ""); err != nil {
		return domain.HeldOffer{}, err
	}
	prev, err := s.store.HeldOffer(ctx, heldOfferID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.HeldOffer{}, s.refused(ctx, caller, "", domain.Forbidden())
	} else if err != nil {
		return domain.HeldOffer{}, err
	}
	m, err := s.member(ctx, caller, prev.TenantID)
	if err != nil {
		return domain.HeldOffer{}, err
	}
	if err := s.requireRole(ctx, caller, m, "R3", domain.ActivatorRoles...); err != nil {
		return domain.HeldOffer{}, err
	}
	defer func() { s.audited(ctx, caller, domain.AuditRenew, prev.TenantID, heldOfferID, err) }()
	o, err := s.store.Offer(ctx, prev.OfferID)
	if err != nil {
		return domain.HeldOffer{}, err
	}
	now := s.Now()
	if o.Retired(now) {
		return domain.HeldOffer{}, domain.Errorf(domain.EOFFERRETIRED, "R20", "%s was retired on %s and cannot be renewed", o.Name, o.RetiredAt.Format("2006-01-02"))
	}
	t, err := s.store.Tenant(ctx, prev.TenantID)
	if err != nil {
		return domain.HeldOffer{}, err
	}
	h = domain.Renewal(t, o, prev, now)
	if err := s.store.InsertHeldOffer(ctx, h); domain.ErrorCode(err) == domain.ECONFLICT {
		return domain.HeldOffer{}, domain.Errorf(domain.EALREADYBOUGHT, "R20", "%s is already held for the enrollment year starting %s", o.Name, h.PeriodStart.Format("2006-01-02"))
	} else if err != nil {
		return domain.HeldOffer{}, err
	}
	s.grantEvents(ctx, h, caller.ID)
	return h, nil
}

// Offers lists the offer catalog (R1).
func (s *OfferService) Offers(ctx context.Context) ([]domain.Offer, error) {
	return s.store.Offers(ctx)
}

// Offer finds a catalog offer.
func (s *OfferService) Offer(ctx context.Context, id string) (domain.Offer, error) {
	return s.store.Offer(ctx, id)
}

// HeldOffer is one offer the tenant holds, for a member of its tenant, as HeldOffers
// lists it (R4: FORBIDDEN, whether or not it exists).
func (s *OfferService) HeldOffer(ctx context.Context, caller domain.Account, id string) (domain.HeldOffer, error) {
	h, err := s.store.HeldOffer(ctx, id)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.HeldOffer{}, domain.Forbidden()
	} else if err != nil {
		return domain.HeldOffer{}, err
	}
	held, err := s.HeldOffers(ctx, caller, h.TenantID)
	if err != nil {
		return domain.HeldOffer{}, err
	}
	if i := slices.IndexFunc(held, func(x domain.HeldOffer) bool { return x.ID == id }); i >= 0 {
		return held[i], nil
	}
	return domain.HeldOffer{}, domain.Forbidden()
}
