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

func (s *countingStore) HeldOffer(_ context.Context, id string) (domain.HeldOffer, error) {
	s.reads["heldOffer"]++
	if id == "missing" {
		return domain.HeldOffer{}, &domain.Error{Code: domain.ENOTFOUND}
	}
	return domain.HeldOffer{ID: id}, nil
}

func (s *countingStore) Contract(_ context.Context, id string) (domain.Contract, error) {
	s.reads["contract"]++
	if id == "missing" {
		return domain.Contract{}, &domain.Error{Code: domain.ENOTFOUND}
	}
	return domain.Contract{BenefitID: id}, nil
}

func (s *countingStore) Link(_ context.Context, accountID, benefitID string) (domain.Link, error) {
	s.reads["link"]++
	if benefitID == "missing" {
		return domain.Link{}, &domain.Error{Code: domain.ENOTFOUND}
	}
	return domain.Link{AccountID: accountID, BenefitID: benefitID}, nil
}

// Held offers, contracts and links never change once written: found once, they are kept
// past any TTL; what was not found is asked again (a contract appears on activation, R4;
// a link on linking, R6).
func TestCacheKeepsWhatNeverChangesOnceFound(t *testing.T) {
	under := &countingStore{reads: map[string]int{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(under, 30*time.Second, 30*time.Second)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	for i := range 3 {
		h, err := c.HeldOffer(ctx, "contoso.spd.20260901")
		require.NoError(t, err)
		assert.Equal(t, "contoso.spd.20260901", h.ID)
		ct, err := c.Contract(ctx, "b1")
		require.NoError(t, err)
		assert.Equal(t, "b1", ct.BenefitID)
		l, err := c.Link(ctx, "acc", "b1")
		require.NoError(t, err)
		assert.Equal(t, "acc", l.AccountID)
		// The key is the pair: another account's link is another entry.
		l, err = c.Link(ctx, "other", "b1")
		require.NoError(t, err)
		assert.Equal(t, "other", l.AccountID)
		now = now.Add(time.Duration(i+1) * time.Hour)
	}
	assert.Equal(t, map[string]int{"heldOffer": 1, "contract": 1, "link": 2}, under.reads)
	for range 2 {
		_, err := c.HeldOffer(ctx, "missing")
		assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
		_, err = c.Contract(ctx, "missing")
		assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
		_, err = c.Link(ctx, "acc", "missing")
		assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
	}
	assert.Equal(t, map[string]int{"heldOffer": 3, "contract": 3, "link": 4}, under.reads, "misses are not cached")
}
