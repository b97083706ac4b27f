package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/partnersupport/api/internal/domain"
)

type tenantDoc struct {
	ID                    string    `bson:"_id"`
	Name                  string    `bson:"name"`
	EnrollmentAnniversary time.Time `bson:"enrollmentAnniversary"`
	CSP                   string    `bson:"csp,omitempty"`
	IndirectProvider      string    `bson:"indirectProvider,omitempty"`
}

type membershipDoc struct {
	ID        string   `bson:"_id"`
	TenantID  string   `bson:"tenantId"`
	AccountID string   `bson:"accountId"`
	Roles     []string `bson:"roles"`
}

func (d membershipDoc) domain() domain.Membership {
	m := domain.Membership{TenantID: d.TenantID, AccountID: d.AccountID, Roles: make([]domain.Role, len(d.Roles))}
	for i, r := range d.Roles {
		m.Roles[i] = domain.Role(r)
	}
	return m
}

// PutTenant inserts or replaces a tenant.
func (s *Store) PutTenant(ctx context.Context, t domain.Tenant) error {
	return replace(ctx, s.db.Collection(colTenants), "put tenant", t.ID, toTenantDoc(t))
}

func toTenantDoc(t domain.Tenant) tenantDoc {
	return tenantDoc{ID: t.ID, Name: t.Name, EnrollmentAnniversary: t.EnrollmentAnniversary, CSP: string(t.CSP), IndirectProvider: t.IndirectProvider}
}

// Tenant finds a tenant.
func (s *Store) Tenant(ctx context.Context, id string) (domain.Tenant, error) {
	d, err := findOne[tenantDoc](ctx, s.db.Collection(colTenants), "find tenant", bson.D{{Key: "_id", Value: id}})
	return domain.Tenant{ID: d.ID, Name: d.Name, EnrollmentAnniversary: d.EnrollmentAnniversary, CSP: domain.CSPRole(d.CSP), IndirectProvider: d.IndirectProvider}, err
}

func membershipID(tenantID, accountID string) string { return tenantID + "/" + accountID }

// PutMembership inserts or replaces an account's roles in a tenant.
func (s *Store) PutMembership(ctx context.Context, m domain.Membership) error {
	d := toMembershipDoc(m)
	return replace(ctx, s.db.Collection(colMemberships), "put membership", d.ID, d)
}

func toMembershipDoc(m domain.Membership) membershipDoc {
	roles := make([]string, len(m.Roles))
	for i, r := range m.Roles {
		roles[i] = string(r)
	}
	return membershipDoc{ID: membershipID(m.TenantID, m.AccountID), TenantID: m.TenantID, AccountID: m.AccountID, Roles: roles}
}

// Membership finds an account's membership of a tenant.
func (s *Store) Membership(ctx context.Context, tenantID, accountID string) (domain.Membership, error) {
	d, err := findOne[membershipDoc](ctx, s.db.Collection(colMemberships), "find membership", bson.D{{Key: "_id", Value: membershipID(tenantID, accountID)}})
	return d.domain(), err
}

func (s *Store) memberships(ctx context.Context, filter bson.D) ([]domain.Membership, error) {
	ds, err := findAll[membershipDoc](ctx, s.db.Collection(colMemberships), "find memberships", filter)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Membership, len(ds))
	for i, d := range ds {
		out[i] = d.domain()
	}
	return out, nil
}

// MembershipsOfAccount lists an account's memberships.
func (s *Store) MembershipsOfAccount(ctx context.Context, accountID string) ([]domain.Membership, error) {
	return s.memberships(ctx, bson.D{{Key: "accountId", Value: accountID}})
}

// MembershipsOfTenant lists a tenant's members.
func (s *Store) MembershipsOfTenant(ctx context.Context, tenantID string) ([]domain.Membership, error) {
	return s.memberships(ctx, bson.D{{Key: "tenantId", Value: tenantID}})
}
