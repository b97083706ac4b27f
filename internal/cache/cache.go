// Package cache keeps the rarely changing parts of the store in memory for a short time:
// accounts, tenants, the offer catalog and the product catalog. They change only through
// fixtures (and first sign-in), so a few seconds of staleness across instances is
// harmless, and this instance's own writes invalidate at once. Nothing that a rule counts
// on under concurrency (claims, contracts, links, held offers) is cached.
package cache

import (
	"context"
	"sync"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

// Store wraps a domain.Store with the cache.
type Store struct {
	domain.Store
	ttl      time.Duration
	now      func() time.Time
	mu       sync.Mutex
	accounts map[string]entry[domain.Account]
	tenants  map[string]entry[domain.Tenant]
	products map[string]entry[domain.Product]
	offers   map[string]entry[domain.Offer]
}

type entry[T any] struct {
	v  T
	at time.Time
}

// maxEntries bounds each map; past it the map is emptied (accounts are many, the
// catalogs few).
const maxEntries = 100_000

// New wraps s; entries live for ttl.
func New(s domain.Store, ttl time.Duration) *Store {
	return &Store{Store: s, ttl: ttl, now: time.Now,
		accounts: map[string]entry[domain.Account]{}, tenants: map[string]entry[domain.Tenant]{},
		products: map[string]entry[domain.Product]{}, offers: map[string]entry[domain.Offer]{}}
}

func get[T any](c *Store, m map[string]entry[T], id string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := m[id]
	if !ok || c.now().Sub(e.at) > c.ttl {
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
