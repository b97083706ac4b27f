// Package seed loads a fixture file into the store. Loading is idempotent: catalog
// entries, tenants, accounts and memberships are replaced by ID, and a held offer that
// exists already is left as it is, so loading the same file twice (or from two server
// processes at once) changes nothing.
package seed

import (
	"context"
	"fmt"
	"strings"

	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/fixture"
)

// Version names what Load writes for a fixture. A server skips a fixture it loaded
// before (app: its digest and Version are saved once loaded), so change Version whenever
// Load starts writing something different for the same fixture.
const Version = "seed 1"

// Stats counts what a load wrote.
type Stats struct {
	Offers, Products, Tenants, Accounts, HeldOffers, Customers int
	// TenantIDs are the tenants the fixture holds.
	TenantIDs []string
	// Held are the fixture's held offers as stored (one that existed is as it was), for
	// recording their grants.
	Held []domain.HeldOffer
}

// Store is what a load writes: the catalogs, tenants (with their members and customers),
// accounts and the offers tenants hold, the many documents of a large fixture each kind
// in bulk (issue 13: a first start loads thousands of tenants before it answers).
type Store interface {
	domain.CatalogStore
	domain.TenantStore
	// PutTenants inserts or replaces tenants, as PutTenant does each.
	PutTenants(ctx context.Context, ts []domain.Tenant) error
	// PutAccounts inserts accounts, or replaces each that exists keeping its creation time.
	PutAccounts(ctx context.Context, as []domain.Account) error
	// PutMemberships inserts or replaces memberships, as PutMembership does each.
	PutMemberships(ctx context.Context, ms []domain.Membership) error
	// InsertHeldOffers inserts held offers and returns each as stored, and how many it
	// inserted: one the tenant holds already (R20) is left as it is.
	InsertHeldOffers(ctx context.Context, hs []domain.HeldOffer) (stored []domain.HeldOffer, inserted int, err error)
}

// Load writes f into the store. issuer is the token issuer of the fixture's accounts that
// name none (the development signer); their account IDs derive from issuer and subject.
func Load(ctx context.Context, s Store, f *fixture.File, issuer string) (Stats, error) {
	var st Stats
	offers := map[string]domain.Offer{}
	for _, o := range f.Offers {
		d := Offer(o)
		if err := s.PutOffer(ctx, d); err != nil {
			return st, fmt.Errorf("seed: offer %s: %w", o.ID, err)
		}
		offers[o.ID] = d
		st.Offers++
	}
	for _, p := range f.Products {
		if err := s.PutProduct(ctx, Product(p)); err != nil {
			return st, fmt.Errorf("seed: product %s: %w", p.ID, err)
		}
		st.Products++
	}
	tenants := make([]domain.Tenant, len(f.Tenants))
	var held []domain.HeldOffer
	for i, t := range f.Tenants {
		dt := domain.Tenant{ID: t.ID, Name: t.Name, EnrollmentAnniversary: t.EnrollmentAnniversary.UTC(), CSP: domain.CSPRole(t.CSP), IndirectProvider: t.IndirectProvider}
		tenants[i] = dt
		st.TenantIDs = append(st.TenantIDs, t.ID)
		for _, h := range t.Offers {
			o, ok := offers[h.Offer]
			if !ok {
				if o, ok = lookupOffer(ctx, s, h.Offer); !ok {
					return st, fmt.Errorf("seed: tenant %s: unknown offer %s", t.ID, h.Offer)
				}
				offers[h.Offer] = o
			}
			held = append(held, domain.NewHeldOffer(dt, o, h.Date(), h.PurchasedAt.UTC(), h.RenewedAt))
		}
	}
	if err := s.PutTenants(ctx, tenants); err != nil {
		return st, fmt.Errorf("seed: tenants: %w", err)
	}
	st.Tenants = len(tenants)
	stored, n, err := s.InsertHeldOffers(ctx, held)
	if err != nil {
		return st, fmt.Errorf("seed: held offers: %w", err)
	}
	st.HeldOffers, st.Held = n, stored
	accounts := make([]domain.Account, len(f.Accounts))
	var memberships []domain.Membership
	for i, a := range f.Accounts {
		subject := a.Subject
		if subject == "" {
			subject = a.Email
		}
		iss := issuer
		if a.Issuer != "" {
			iss = a.Issuer // an OIDC issuer: the account signs in with a real identity provider
		}
		accounts[i] = domain.Account{ID: domain.AccountID(iss, subject), Issuer: iss, Subject: subject,
			Email: strings.ToLower(a.Email), Kind: domain.AccountKind(a.Kind), PremierLinked: a.PremierLinked}
		for _, m := range a.Memberships {
			roles := make([]domain.Role, len(m.Roles))
			for i, r := range m.Roles {
				roles[i] = domain.Role(r)
			}
			memberships = append(memberships, domain.Membership{TenantID: m.Tenant, AccountID: accounts[i].ID, Roles: roles})
		}
	}
	if err := s.PutAccounts(ctx, accounts); err != nil {
		return st, fmt.Errorf("seed: accounts: %w", err)
	}
	st.Accounts = len(accounts)
	if err := s.PutMemberships(ctx, memberships); err != nil {
		return st, fmt.Errorf("seed: memberships: %w", err)
	}
	for _, c := range f.Customers {
		dc := domain.Customer{ID: c.ID, Name: c.Name, Partner: c.Partner}
		for _, g := range c.GDAP {
			dc.GDAP = append(dc.GDAP, domain.GDAP{Partner: g.Partner, Active: g.Active, Roles: g.Roles, ExpiresAt: g.ExpiresAt.UTC()})
		}
		if err := s.PutCustomer(ctx, dc); err != nil {
			return st, fmt.Errorf("seed: customer %s: %w", c.ID, err)
		}
		st.Customers++
	}
	return st, nil
}

func lookupOffer(ctx context.Context, s domain.CatalogStore, id string) (domain.Offer, bool) {
	o, err := s.Offer(ctx, id)
	return o, err == nil
}

// Offer converts a fixture offer to the domain's (R1: the catalog is data).
func Offer(o fixture.Offer) domain.Offer {
	d := domain.Offer{ID: o.ID, Name: o.Name, Legacy: o.Legacy, RetiredAt: o.RetiredAt, Source: o.Source}
	for _, g := range o.Grants {
		d.Grants = append(d.Grants, domain.Grant{Kind: domain.BenefitKind(g.Kind), Incidents: g.Incidents, Unlimited: g.Unlimited,
			UnlimitedIfPeriodStartsBefore: g.UnlimitedIfPeriodStartsBefore, Name: g.Name, LegacyName: g.LegacyName, Consultation: g.Consultation})
	}
	return d
}

// Product converts a fixture product to the domain's.
func Product(p fixture.Product) domain.Product {
	d := domain.Product{ID: p.ID, Name: p.Name, Deployment: domain.Deployment(p.Deployment), Family: p.Family, Portal: domain.Portal(p.Portal),
		LifecyclePolicy: p.LifecyclePolicy, NeedsLink: p.NeedsLink == nil || *p.NeedsLink, Source: p.Source}
	for _, v := range p.Versions {
		d.Versions = append(d.Versions, domain.Version{Name: v.Name, ReleasedAt: v.ReleasedAt, MainstreamEndsAt: v.MainstreamEndsAt, Source: v.Source})
	}
	return d
}

// FindAccount finds an account of the fixture by email, for the token command.
func FindAccount(f *fixture.File, email string) (fixture.Account, bool) {
	for _, a := range f.Accounts {
		if strings.EqualFold(a.Email, email) {
			return a, true
		}
	}
	return fixture.Account{}, false
}
