package service

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/partnersupport/api/internal/domain"
)

// TenantService signs accounts in and reads tenants and their members (R1, R2, R3, R5).
type TenantService struct {
	*core
	*access
	store  tenantStore
	offers *OfferService
}

// tenantStore is what the tenant use cases read and write.
type tenantStore interface {
	domain.AccountStore
	domain.TenantStore
}

// access decides whether a caller may see a tenant: its membership and roles (R3, R4).
type access struct {
	*core
	store domain.TenantStore
}

// SignIn returns the caller's account, creating it on first sign-in from the token's
// subject, email and kind.
func (s *TenantService) SignIn(ctx context.Context, id domain.Identity) (domain.Account, error) {
	if id.Subject == "" || !id.Kind.Valid() {
		return domain.Account{}, domain.Errorf(domain.EUNAUTHENTICATED, "", "the token does not identify an account")
	}
	a, err := s.store.EnsureAccount(ctx, domain.Account{
		ID: domain.AccountID(id.Issuer, id.Subject), Issuer: id.Issuer, Subject: id.Subject,
		Email: strings.ToLower(id.Email), Kind: id.Kind, CreatedAt: s.Now(),
	})
	// The kind is the verified token's, whatever was stored at the first sign-in: the
	// side of R25 a principal acts on comes from how it authenticated now.
	a.Kind = id.Kind
	return a, err
}

// Memberships lists the caller's tenants and roles.
func (s *TenantService) Memberships(ctx context.Context, caller domain.Account) ([]domain.Membership, error) {
	return s.store.MembershipsOfAccount(ctx, caller.ID)
}

// member returns the caller's membership of the tenant, or the one FORBIDDEN answer that
// does not tell whether the tenant exists (R4). A support provider is nobody's member
// and is refused as such (R25). A refusal is audited, in the tenant's trail when the
// tenant exists (the answer does not say).
func (s *access) member(ctx context.Context, caller domain.Account, tenantID string) (domain.Membership, error) {
	if err := s.permit(ctx, caller, domain.ActTenantRead, ""); err != nil {
		return domain.Membership{}, err
	}
	m, err := s.store.Membership(ctx, tenantID, caller.ID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		trail := ""
		if _, terr := s.store.Tenant(ctx, tenantID); terr == nil {
			trail = tenantID
		}
		return domain.Membership{}, s.refused(ctx, caller, trail, domain.Forbidden())
	}
	return m, err
}

// requireRole is domain.RequireRole with the refusal audited in the tenant's trail.
func (s *access) requireRole(ctx context.Context, caller domain.Account, m domain.Membership, rule string, roles ...domain.Role) error {
	if err := domain.RequireRole(m, rule, roles...); err != nil {
		return s.refused(ctx, caller, m.TenantID, err)
	}
	return nil
}

// Tenant returns a tenant the caller belongs to.
func (s *TenantService) Tenant(ctx context.Context, caller domain.Account, id string) (domain.Tenant, error) {
	if _, err := s.member(ctx, caller, id); err != nil {
		return domain.Tenant{}, err
	}
	return s.store.Tenant(ctx, id)
}

// Admins lists the tenant's users who may activate benefits (R3), for any member.
func (s *TenantService) Admins(ctx context.Context, caller domain.Account, tenantID string) ([]domain.TenantUser, error) {
	if _, err := s.member(ctx, caller, tenantID); err != nil {
		return nil, err
	}
	ms, err := s.store.MembershipsOfTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var ids []string
	roles := map[string][]domain.Role{}
	for _, m := range ms {
		if m.Has(domain.ActivatorRoles...) {
			ids = append(ids, m.AccountID)
			roles[m.AccountID] = m.Roles
		}
	}
	accts, err := s.store.Accounts(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]domain.TenantUser, 0, len(accts))
	for _, a := range accts {
		out = append(out, domain.TenantUser{TenantID: tenantID, Account: a, Roles: roles[a.ID]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account.Email < out[j].Account.Email })
	return out, nil
}

// TenantUser is one admin of a tenant as Admins lists it, for a member (R3, R4).
func (s *TenantService) TenantUser(ctx context.Context, caller domain.Account, tenantID, accountID string) (domain.TenantUser, error) {
	users, err := s.Admins(ctx, caller, tenantID)
	if err != nil {
		return domain.TenantUser{}, err
	}
	if i := slices.IndexFunc(users, func(u domain.TenantUser) bool { return u.Account.ID == accountID }); i >= 0 {
		return users[i], nil
	}
	return domain.TenantUser{}, domain.Errorf(domain.ENOTFOUND, "", "no such admin")
}

// HasActiveOffer reports whether the tenant holds an offer whose year includes now (R5).
func (s *TenantService) HasActiveOffer(ctx context.Context, caller domain.Account, tenantID string) (bool, error) {
	held, err := s.offers.HeldOffers(ctx, caller, tenantID)
	if err != nil {
		return false, err
	}
	return domain.ActiveOffer(held, s.Now()), nil
}

// BenefitsNotice is the tenant's R5 notice for a member: nil while it holds an active
// offer.
func (s *TenantService) BenefitsNotice(ctx context.Context, caller domain.Account, tenantID string) (*string, error) {
	held, err := s.offers.HeldOffers(ctx, caller, tenantID)
	if err != nil {
		return nil, err
	}
	return domain.BenefitsNotice(held, s.Now()), nil
}
