package cache

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/domain"
)

// countingStore counts the reads that reach it; every other method is not expected.
type countingStore struct {
	domain.Store
	reads map[string]int
}

func (s *countingStore) Account(_ context.Context, id string) (domain.Account, error) {
	s.reads["account"]++
	if id == "missing" {
		return domain.Account{}, &domain.Error{Code: domain.ENOTFOUND}
	}
	return domain.Account{ID: id, Email: "a@b.c"}, nil
}

func (s *countingStore) PutAccount(context.Context, domain.Account) error { return nil }

func (s *countingStore) Product(_ context.Context, id string) (domain.Product, error) {
	s.reads["product"]++
	return domain.Product{ID: id}, nil
}

func TestCacheServesRepeatsAndExpires(t *testing.T) {
	under := &countingStore{reads: map[string]int{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(under, 30*time.Second, 0)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	for range 3 {
		a, err := c.Account(ctx, "acc")
		require.NoError(t, err)
		assert.Equal(t, "acc", a.ID)
		_, err = c.Product(ctx, "azure")
		require.NoError(t, err)
	}
	assert.Equal(t, 1, under.reads["account"])
	assert.Equal(t, 1, under.reads["product"])
	now = now.Add(31 * time.Second)
	_, _ = c.Account(ctx, "acc")
	assert.Equal(t, 2, under.reads["account"], "an entry expires after the TTL")
	require.NoError(t, c.PutAccount(ctx, domain.Account{ID: "acc"}))
	_, _ = c.Account(ctx, "acc")
	assert.Equal(t, 3, under.reads["account"], "a write through this instance invalidates at once")
	for range 2 {
		_, err := c.Account(ctx, "missing")
		assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
	}
	assert.Equal(t, 5, under.reads["account"], "misses are not cached")
}

func (s *countingStore) Contracts(_ context.Context, tenantID string) ([]domain.Contract, error) {
	s.reads["contracts"]++
	return []domain.Contract{{TenantID: tenantID, BenefitID: "b"}}, nil
}

func (s *countingStore) InsertContract(context.Context, domain.Contract) error { return nil }

func TestTenantListsLiveAtMostTheTenantTTL(t *testing.T) {
	under := &countingStore{reads: map[string]int{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	off := New(under, 30*time.Second, 0)
	for range 2 {
		_, _ = off.Contracts(ctx, "contoso")
	}
	assert.Equal(t, 2, under.reads["contracts"], "a zero tenant TTL (activation delay 0) caches nothing")
	c := New(under, 30*time.Second, 10*time.Second)
	c.now = func() time.Time { return now }
	for range 3 {
		cs, err := c.Contracts(ctx, "contoso")
		require.NoError(t, err)
		require.Len(t, cs, 1)
	}
	assert.Equal(t, 3, under.reads["contracts"])
	now = now.Add(10 * time.Second)
	_, _ = c.Contracts(ctx, "contoso")
	assert.Equal(t, 4, under.reads["contracts"], "expired after the tenant TTL")
	require.NoError(t, c.InsertContract(ctx, domain.Contract{TenantID: "contoso"}))
	_, _ = c.Contracts(ctx, "contoso")
	assert.Equal(t, 5, under.reads["contracts"], "this instance's activation invalidates at once")
}
