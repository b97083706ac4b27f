package cache

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/partnersupport/api/internal/domain"
)

// PerRequest wraps a domain.Store so that, within a context from WithRequestMemo, each
// read of a tenant's or an account's state is sent to the store at most once: the fields
// of one GraphQL query that need the same state (a tenant's benefits and its reminders,
// hasActiveOffer and benefitsNotice, each membership's tenant) share one load instead of
// each loading it again. Concurrent sibling resolvers asking for the same read wait for
// the first one's answer. Outside such a context every call goes straight to the store.
//
// Only queries get a memo (httpapi): a mutation must read what it has just written, and a
// memo lives no longer than one request, so nothing is ever served stale across requests.
// Writes are not memoized and do not pass through it. Every answer is a copy: a caller
// may sort or change it without touching another caller's.
type PerRequest struct {
	domain.Store
}

// NewPerRequest wraps s.
func NewPerRequest(s domain.Store) *PerRequest { return &PerRequest{Store: s} }

type memoKey struct{}

type requestMemo struct {
	mu    sync.Mutex
	calls map[string]*call
}

type call struct {
	done chan struct{}
	v    any
	err  error
}

// WithRequestMemo returns a context whose reads through a PerRequest store are memoized
// until the context is dropped: one GraphQL query.
func WithRequestMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &requestMemo{calls: map[string]*call{}})
}

// memoized answers read once per memo and key; copy makes each caller's copy.
func memoized[T any](ctx context.Context, key string, read func() (T, error), copy func(T) T) (T, error) {
	m, _ := ctx.Value(memoKey{}).(*requestMemo)
	if m == nil {
		return read()
	}
	m.mu.Lock()
	c, ok := m.calls[key]
	if !ok {
		c = &call{done: make(chan struct{})}
		m.calls[key] = c
	}
	m.mu.Unlock()
	if !ok {
		v, err := read()
		c.v, c.err = v, err
		close(c.done)
	} else {
		select {
		case <-c.done:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
	if c.err != nil {
		var zero T
		return zero, c.err
	}
	return copy(c.v.(T)), nil
}

func same[T any](v T) T { return v }

func key(parts ...string) string { return strings.Join(parts, "\x00") }

func (p *PerRequest) Account(ctx context.Context, id string) (domain.Account, error) {
	return memoized(ctx, key("Account", id), func() (domain.Account, error) { return p.Store.Account(ctx, id) }, same)
}

func (p *PerRequest) Tenant(ctx context.Context, id string) (domain.Tenant, error) {
	return memoized(ctx, key("Tenant", id), func() (domain.Tenant, error) { return p.Store.Tenant(ctx, id) }, same)
}

func (p *PerRequest) Membership(ctx context.Context, tenantID, accountID string) (domain.Membership, error) {
	return memoized(ctx, key("Membership", tenantID, accountID), func() (domain.Membership, error) {
		return p.Store.Membership(ctx, tenantID, accountID)
	}, func(m domain.Membership) domain.Membership { m.Roles = slices.Clone(m.Roles); return m })
}

func (p *PerRequest) MembershipsOfAccount(ctx context.Context, accountID string) ([]domain.Membership, error) {
	return memoized(ctx, key("MembershipsOfAccount", accountID), func() ([]domain.Membership, error) {
		return p.Store.MembershipsOfAccount(ctx, accountID)
	}, slices.Clone)
}

func (p *PerRequest) MembershipsOfTenant(ctx context.Context, tenantID string) ([]domain.Membership, error) {
	return memoized(ctx, key("MembershipsOfTenant", tenantID), func() ([]domain.Membership, error) {
		return p.Store.MembershipsOfTenant(ctx, tenantID)
	}, slices.Clone)
}

func (p *PerRequest) HeldOffers(ctx context.Context, tenantID string) ([]domain.HeldOffer, error) {
	return memoized(ctx, key("HeldOffers", tenantID), func() ([]domain.HeldOffer, error) {
		return p.Store.HeldOffers(ctx, tenantID)
	}, slices.Clone)
}

func (p *PerRequest) Contracts(ctx context.Context, tenantID string) ([]domain.Contract, error) {
	return memoized(ctx, key("Contracts", tenantID), func() ([]domain.Contract, error) {
		return p.Store.Contracts(ctx, tenantID)
	}, slices.Clone)
}

func (p *PerRequest) Consultations(ctx context.Context, tenantID string) ([]domain.Consultation, error) {
	return memoized(ctx, key("Consultations", tenantID), func() ([]domain.Consultation, error) {
		return p.Store.Consultations(ctx, tenantID)
	}, slices.Clone)
}

func (p *PerRequest) UsedIncidents(ctx context.Context, tenantID string) (map[string]int, error) {
	return memoized(ctx, key("UsedIncidents", tenantID), func() (map[string]int, error) {
		return p.Store.UsedIncidents(ctx, tenantID)
	}, maps.Clone)
}

func (p *PerRequest) LinksOfAccount(ctx context.Context, accountID string) ([]domain.Link, error) {
	return memoized(ctx, key("LinksOfAccount", accountID), func() ([]domain.Link, error) {
		return p.Store.LinksOfAccount(ctx, accountID)
	}, slices.Clone)
}

func (p *PerRequest) PPIPlans(ctx context.Context, accountID string) ([]domain.PPIPlan, error) {
	return memoized(ctx, key("PPIPlans", accountID), func() ([]domain.PPIPlan, error) {
		return p.Store.PPIPlans(ctx, accountID)
	}, slices.Clone)
}
