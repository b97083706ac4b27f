// Package cache keeps the rarely changing parts of the store in memory for a short time.
//
//   - Accounts, tenants, memberships, the offer catalog and the product catalog change
//     only through fixtures (and first sign-in): kept for the TTL.
//   - A tenant's held offers and contracts are insert-only and matter to support plans
//     only once a benefit is active, which takes the activation delay (R4): they are kept
//     for at most that delay (TenantTTL), so a plan can never look unavailable because of
//     the cache; another instance may show a just-activated benefit as not activated for
//     up to that long.
//   - A held offer, a contract and a link, looked up by key, never change once written
//     (nothing updates or deletes them): once found, each is kept until the cache is full.
//     Only what was found is kept; "not found" is always asked again.
//
// This instance's own writes invalidate at once. Nothing a guarantee counts on (claims,
// closures, refunds, the inserts' unique keys) is cached, links only once found (they are
// never removed), and no read that decides a write goes through a stale entry: every
// insert still meets the store's unique keys.
package cache

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

// Store wraps a domain.Store with the cache.
type Store struct {
	domain.Store
	ttl       time.Duration
	now       func() time.Time
	mu        sync.Mutex
	accounts  map[string]entry[domain.Account]
	tenants   map[string]entry[domain.Tenant]
	products  map[string]entry[domain.Product]
	offers    map[string]entry[domain.Offer]
	members   map[string]entry[[]domain.Membership]
	tenantTTL time.Duration
	held      map[string]entry[[]domain.HeldOffer]
	contracts map[string]entry[[]domain.Contract]
	// Written once, never changed: kept without a TTL once found.
	heldOffer map[string]entry[domain.HeldOffer]
	contract  map[string]entry[domain.Contract]
	link      map[string]entry[domain.Link]
}

type entry[T any] struct {
	v  T
	at time.Time
}

// maxEntries bounds each map; past it the map is emptied (accounts are many, the
// catalogs few).
const maxEntries = 100_000

// New wraps s; entries live for ttl, a tenant's held offers and contracts for tenantTTL
// (0: not cached).
func New(s domain.Store, ttl, tenantTTL time.Duration) *Store {
	return &Store{Store: s, ttl: ttl, tenantTTL: tenantTTL, now: time.Now,
		accounts: map[string]entry[domain.Account]{}, tenants: map[string]entry[domain.Tenant]{},
		products: map[string]entry[domain.Product]{}, offers: map[string]entry[domain.Offer]{},
		members: map[string]entry[[]domain.Membership]{}, held: map[string]entry[[]domain.HeldOffer]{},
		contracts: map[string]entry[[]domain.Contract]{},
		heldOffer: map[string]entry[domain.HeldOffer]{}, contract: map[string]entry[domain.Contract]{}, link: map[string]entry[domain.Link]{}}
}

func get[T any](c *Store, m map[string]entry[T], id string) (T, bool) {
	return getTTL(c, m, id, c.ttl)
}

func getTTL[T any](c *Store, m map[string]entry[T], id string, ttl time.Duration) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := m[id]
	if !ok || c.now().Sub(e.at) >= ttl {
		var zero T
		return zero, false
	}
	return e.v, true
}

func put[T any](c *Store, m map[string]entry[T], id string, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(m) >= maxEntries {
		clear(m)
	}
	m[id] = entry[T]{v: v, at: c.now()}
}

func drop[T any](c *Store, m map[string]entry[T], id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(m, id)
}

func cached[T any](ctx context.Context, c *Store, m map[string]entry[T], id string, load func(context.Context, string) (T, error)) (T, error) {
	if v, ok := get(c, m, id); ok {
		return v, nil
	}
	v, err := load(ctx, id)
	if err == nil {
		put(c, m, id, v)
	}
	return v, err
}

// EnsureAccount returns a cached account, or creates it.
func (c *Store) EnsureAccount(ctx context.Context, a domain.Account) (domain.Account, error) {
	if v, ok := get(c, c.accounts, a.ID); ok {
		return v, nil
	}
	v, err := c.Store.EnsureAccount(ctx, a)
	if err == nil {
		put(c, c.accounts, a.ID, v)
	}
	return v, err
}

// Account finds an account, cached.
func (c *Store) Account(ctx context.Context, id string) (domain.Account, error) {
	return cached(ctx, c, c.accounts, id, c.Store.Account)
}

// PutAccount writes through and invalidates.
func (c *Store) PutAccount(ctx context.Context, a domain.Account) error {
	drop(c, c.accounts, a.ID)
	return c.Store.PutAccount(ctx, a)
}

// Tenant finds a tenant, cached.
func (c *Store) Tenant(ctx context.Context, id string) (domain.Tenant, error) {
	return cached(ctx, c, c.tenants, id, c.Store.Tenant)
}

// PutTenant writes through and invalidates.
func (c *Store) PutTenant(ctx context.Context, t domain.Tenant) error {
	drop(c, c.tenants, t.ID)
	return c.Store.PutTenant(ctx, t)
}

// Product finds a product, cached.
func (c *Store) Product(ctx context.Context, id string) (domain.Product, error) {
	return cached(ctx, c, c.products, id, c.Store.Product)
}

// PutProduct writes through and invalidates.
func (c *Store) PutProduct(ctx context.Context, p domain.Product) error {
	drop(c, c.products, p.ID)
	return c.Store.PutProduct(ctx, p)
}

// Offer finds a catalog offer, cached.
func (c *Store) Offer(ctx context.Context, id string) (domain.Offer, error) {
	return cached(ctx, c, c.offers, id, c.Store.Offer)
}

// PutOffer writes through and invalidates.
func (c *Store) PutOffer(ctx context.Context, o domain.Offer) error {
	drop(c, c.offers, o.ID)
	return c.Store.PutOffer(ctx, o)
}

// MembershipsOfAccount lists an account's memberships, cached.
func (c *Store) MembershipsOfAccount(ctx context.Context, accountID string) ([]domain.Membership, error) {
	ms, err := cached(ctx, c, c.members, accountID, c.Store.MembershipsOfAccount)
	return slices.Clone(ms), err
}

// PutMembership writes through and invalidates.
func (c *Store) PutMembership(ctx context.Context, m domain.Membership) error {
	drop(c, c.members, m.AccountID)
	return c.Store.PutMembership(ctx, m)
}

func tenantCached[T any](ctx context.Context, c *Store, m map[string]entry[[]T], id string, load func(context.Context, string) ([]T, error)) ([]T, error) {
	if c.tenantTTL > 0 {
		if v, ok := getTTL(c, m, id, c.tenantTTL); ok {
			return slices.Clone(v), nil
		}
	}
	v, err := load(ctx, id)
	if err == nil && c.tenantTTL > 0 {
		put(c, m, id, slices.Clone(v))
	}
	return v, err
}

// immutable returns what load finds for id, kept for good once found: for documents that
// are never updated or deleted.
func immutable[T any](ctx context.Context, c *Store, m map[string]entry[T], id string, load func(context.Context) (T, error)) (T, error) {
	if v, ok := getTTL(c, m, id, forever); ok {
		return v, nil
	}
	v, err := load(ctx)
	if err == nil {
		put(c, m, id, v)
	}
	return v, err
}

// forever is the TTL of what never changes.
const forever = time.Duration(1<<63 - 1)

// HeldOffer finds a held offer by ID, kept once found.
func (c *Store) HeldOffer(ctx context.Context, id string) (domain.HeldOffer, error) {
	return immutable(ctx, c, c.heldOffer, id, func(ctx context.Context) (domain.HeldOffer, error) { return c.Store.HeldOffer(ctx, id) })
}

// Contract finds a benefit's contract, kept once found.
func (c *Store) Contract(ctx context.Context, benefitID string) (domain.Contract, error) {
	return immutable(ctx, c, c.contract, benefitID, func(ctx context.Context) (domain.Contract, error) { return c.Store.Contract(ctx, benefitID) })
}

// Link finds an account's link to a benefit, kept once found.
func (c *Store) Link(ctx context.Context, accountID, benefitID string) (domain.Link, error) {
	return immutable(ctx, c, c.link, accountID+"/"+benefitID, func(ctx context.Context) (domain.Link, error) { return c.Store.Link(ctx, accountID, benefitID) })
}

// HeldOffers lists a tenant's held offers, cached for at most the tenant TTL.
func (c *Store) HeldOffers(ctx context.Context, tenantID string) ([]domain.HeldOffer, error) {
	return tenantCached(ctx, c, c.held, tenantID, c.Store.HeldOffers)
}

// InsertHeldOffer writes through and invalidates the tenant's list.
func (c *Store) InsertHeldOffer(ctx context.Context, h domain.HeldOffer) error {
	err := c.Store.InsertHeldOffer(ctx, h)
	drop(c, c.held, h.TenantID)
	return err
}

// Contracts lists a tenant's contracts, cached for at most the tenant TTL.
func (c *Store) Contracts(ctx context.Context, tenantID string) ([]domain.Contract, error) {
	return tenantCached(ctx, c, c.contracts, tenantID, c.Store.Contracts)
}

// InsertContract writes through and invalidates the tenant's list.
func (c *Store) InsertContract(ctx context.Context, ct domain.Contract) error {
	err := c.Store.InsertContract(ctx, ct)
	drop(c, c.contracts, ct.TenantID)
	return err
}
