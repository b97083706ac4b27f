package cache

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/domain"
)

// heldStore answers HeldOffers and UsedIncidents, counting the calls; its HeldOffers
// waits for release so that concurrent callers overlap.
type heldStore struct {
	domain.Store
	held, used atomic.Int32
	release    chan struct{}
	fail       bool
}

func (s *heldStore) HeldOffers(_ context.Context, tenantID string) ([]domain.HeldOffer, error) {
	s.held.Add(1)
	if s.release != nil {
		<-s.release
	}
	if s.fail {
		return nil, errors.New("store down")
	}
	return []domain.HeldOffer{{ID: tenantID + ".b"}, {ID: tenantID + ".a"}}, nil
}

func (s *heldStore) UsedIncidents(context.Context, string) (map[string]int, error) {
	s.used.Add(1)
	return map[string]int{"x": 1}, nil
}

func TestPerRequest_ConcurrentSiblingsShareOneRead(t *testing.T) {
	under := &heldStore{release: make(chan struct{})}
	p := NewPerRequest(under)
	ctx := WithRequestMemo(context.Background())

	const n = 32
	var wg sync.WaitGroup
	got := make([][]domain.HeldOffer, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { got[i], errs[i] = p.HeldOffers(ctx, "contoso") })
	}
	close(under.release)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		// Each caller gets its own copy: sorting one changes no other.
		sort.Slice(got[i], func(a, b int) bool { return got[i][a].ID < got[i][b].ID })
		assert.Equal(t, "contoso.a", got[i][0].ID)
	}
	assert.Equal(t, int32(1), under.held.Load(), "one store read for every sibling of the request")

	// Another key is another read; the same key again is none.
	_, err := p.HeldOffers(ctx, "fabrikam")
	require.NoError(t, err)
	_, err = p.HeldOffers(ctx, "contoso")
	require.NoError(t, err)
	assert.Equal(t, int32(2), under.held.Load())

	// Maps are copies too.
	m1, err := p.UsedIncidents(ctx, "contoso")
	require.NoError(t, err)
	m1["x"] = 99
	m2, err := p.UsedIncidents(ctx, "contoso")
	require.NoError(t, err)
	assert.Equal(t, 1, m2["x"])
	assert.Equal(t, int32(1), under.used.Load())
}

func TestPerRequest_WithoutAMemoEveryReadReachesTheStore(t *testing.T) {
	under := &heldStore{}
	p := NewPerRequest(under)
	for range 3 {
		_, err := p.HeldOffers(context.Background(), "contoso")
		require.NoError(t, err)
	}
	assert.Equal(t, int32(3), under.held.Load())

	// Two requests, two memos: nothing is shared between them.
	for range 2 {
		ctx := WithRequestMemo(context.Background())
		_, err := p.HeldOffers(ctx, "contoso")
		require.NoError(t, err)
	}
	assert.Equal(t, int32(5), under.held.Load())
}

func TestPerRequest_AFailedReadFailsItsSiblingsToo(t *testing.T) {
	under := &heldStore{fail: true}
	p := NewPerRequest(under)
	ctx := WithRequestMemo(context.Background())
	for range 2 {
		_, err := p.HeldOffers(ctx, "contoso")
		require.EqualError(t, err, "store down")
	}
	assert.Equal(t, int32(1), under.held.Load())
}

func TestPerRequest_AWaitingSiblingStopsWithItsContext(t *testing.T) {
	under := &heldStore{release: make(chan struct{})}
	p := NewPerRequest(under)
	ctx, cancel := context.WithCancel(WithRequestMemo(context.Background()))
	first := make(chan error, 1)
	go func() { _, err := p.HeldOffers(ctx, "contoso"); first <- err }()
	require.Eventually(t, func() bool { return under.held.Load() == 1 }, testTimeout, testTick)
	cancel()
	_, err := p.HeldOffers(ctx, "contoso")
	require.ErrorIs(t, err, context.Canceled)
	close(under.release)
	require.NoError(t, <-first)
}

const (
	testTimeout = 5 * time.Second
	testTick    = time.Millisecond
)
